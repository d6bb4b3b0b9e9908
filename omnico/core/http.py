"""Request types for the type checker (what the middleware adds to a request of a signed-in
agent: annotations only), and the one way a stored customer file is served."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from django.http import FileResponse, HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request through django-htmx's middleware (``request.htmx``)."""

    htmx: HtmxDetails


class AgentRequest(HtmxRequest):
    """A request to a view behind ``login_required``: ``request.user`` is a real user."""

    user: User


def stored_file_response(
    content: IO[bytes], *, filename: str, content_type: str, inline: bool
) -> FileResponse:
    """A file a customer or agent sent, served so a browser never runs it: a picture
    (``inline``) with its own type, anything else as a download of bytes; never sniffed,
    sandboxed, cached only by the user's own browser."""
    response = FileResponse(
        content,
        as_attachment=not inline,
        filename=filename,
        content_type=content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
