"""The webhook fast path: a lean ASGI route for webhook POSTs, the hot path of ingest.

Why it exists: through Django's ASGI handler a request crosses ~30 thread hand-offs and starts
a thread of its own (sync middleware run thread-sensitive), which capped a 2-core machine at
~550 empty requests/s, and Django reads (spools) the whole body before any view runs. A webhook
needs none of the middleware (no session, user, CSRF, messages, locale).

What it does: a POST whose path Django's own resolver maps to the ``hooks:webhook`` URL
(``channels_adapters/urls.py``), with a Host Django allows and a channel that exists, is
answered here: the body is refused from its Content-Length or read only up to the channel's
limit (413 either way), then ``views.webhook_post`` runs in one hop to a worker thread that
keeps its pooled database connection: rate limits (429), account, signature, one INSERT, the
ingest queued after commit. It is the view's own code, in the view's order, so the answers
are the same as Django's; ``tests/channels_adapters/test_fastpath_parity.py`` holds it to that.

What it skips: Django's middleware. The only ones that change a webhook's answer are the Host
check (done here the way ``HttpRequest.get_host`` does it; a Host that fails it is handed to
Django, which answers its own 400) and ``X-Content-Type-Options: nosniff`` (added here). No
session, CSRF (the view is exempt anyway), locale or messages. Anything else (GETs, other
paths, a bad Host, an unknown channel) goes to Django unchanged.

How to switch it off: ``OMNICO_WEBHOOK_FAST_PATH=0`` (``omnico/asgi.py`` then serves Django
alone), e.g. to run a middleware of your own on webhooks too, or to rule the fast path out
while debugging: everything still works, slower under a burst.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve

from channels_adapters import views
from configuration.models import ChannelAccount

logger = logging.getLogger(__name__)

HOOK_VIEW_NAME = "hooks:webhook"


def hook_route(path: str) -> tuple[str, str] | None:
    """``(kind, name)`` when Django's URL resolver maps ``path`` to the webhook view."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name != HOOK_VIEW_NAME:
        return None
    return match.kwargs["kind"], match.kwargs["name"]


class WebhookRequest(HttpRequest):
    """Just enough of an HttpRequest for the adapters: method, path, headers (META), body."""

    def __init__(self, scope: dict[str, Any]) -> None:
        super().__init__()
        self.method = "POST"
        self.path = self.path_info = scope["path"]
        client = scope.get("client") or ("", 0)
        self.META = {"REQUEST_METHOD": "POST", "PATH_INFO": scope["path"], "REMOTE_ADDR": client[0]}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin1").upper().replace("-", "_")
            value = raw_value.decode("latin1")
            key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value

    def set_body(self, body: bytes) -> None:
        self._body = body


def _host_allowed(request: WebhookRequest) -> bool:
    host = request.META.get("HTTP_HOST", "")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


#: How long a process reuses an account it looked up (decrypting its secret is a Fernet
#: operation and the lookup a query). Disabling an account or changing its secret takes
#: effect on webhooks within this many seconds.
ACCOUNT_TTL_SECONDS = 5.0
_accounts: dict[tuple[str, str], tuple[float, ChannelAccount | None]] = {}


def _cached_account(kind: str, name: str) -> ChannelAccount | None:
    now = time.monotonic()
    hit = _accounts.get((kind, name))
    if hit is not None and hit[0] > now:
        return hit[1]
    account = views.account_for_hook(kind, name)
    if len(_accounts) > 1000:  # bogus URLs must not grow this without bound
        _accounts.clear()
    _accounts[(kind, name)] = (now + ACCOUNT_TTL_SECONDS, account)
    return account


def _handle(request: WebhookRequest, kind: str, name: str) -> HttpResponse:
    try:
        return views.webhook_post(request, kind, name, lookup=_cached_account)
    except Exception:
        logger.exception("webhook %s/%s failed", kind, name)
        return JsonResponse({"error": "server error"}, status=500)
    finally:
        close_old_connections()  # back to the pool; a broken connection is dropped


async def _read_body(receive, limit: int) -> tuple[bytes | None, bool]:
    """``(body, too_big)``: the body, or ``too_big`` once more than ``limit`` bytes came (the
    rest is never read), or ``(None, False)`` when the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


async def _send(send, response: HttpResponse) -> None:
    headers = [(k.encode("latin1"), v.encode("latin1")) for k, v in response.items()]
    headers.append((b"content-length", str(len(response.content)).encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


class WebhookFastPath:
    """Wrap the HTTP app: webhook POSTs are answered here, the rest passes on."""

    def __init__(self, app) -> None:
        self.app = app
        self.handle = sync_to_async(_handle, thread_sensitive=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        route = hook_route(path)
        if route is None:
            return await self.app(scope, receive, send)
        kind, name = route
        request = WebhookRequest({**scope, "path": path})
        limit = views.body_limit(kind)
        if limit is None or not _host_allowed(request):
            return await self.app(scope, receive, send)  # Django answers those itself
        if views.declared_too_large(request.META, limit):
            return await _send(send, views.too_large())
        body, too_big = await _read_body(receive, limit)
        if too_big:
            return await _send(send, views.too_large())
        if body is None:
            return  # the client went away
        request.set_body(body)
        await _send(send, await self.handle(request, kind, name))
