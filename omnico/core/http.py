"""Request types for the type checker: what the middleware adds to a request of a signed-in
agent. Annotations only; nothing here runs differently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request through django-htmx's middleware (``request.htmx``)."""

    htmx: HtmxDetails


class AgentRequest(HtmxRequest):
    """A request to a view behind ``login_required``: ``request.user`` is a real user."""

    user: User
