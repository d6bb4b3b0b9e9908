"""A lean ASGI route for webhook POSTs: the hot path of ingest.

Through Django's ASGI handler a request crosses ~30 thread hand-offs and starts a thread of its
own (sync middleware run thread-sensitive), which caps a 2-core machine at ~550 empty requests/s.
A webhook needs none of the middleware (no session, user, CSRF, messages, locale): this app reads
the body, checks the host and size limits Django would, and runs ``views.webhook_post`` (verify
signature, one INSERT, queue the ingest after commit) in one hop to a worker thread that keeps
its pooled database connection. Every other request, and webhook GETs, go to Django as before.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port, validate_host

from channels_adapters import views
from configuration.models import ChannelAccount

logger = logging.getLogger(__name__)

HOOK_PATH = re.compile(r"^/hooks/(?P<kind>[-a-zA-Z0-9_]+)/(?P<name>[-a-zA-Z0-9_]+)/$")


class WebhookRequest(HttpRequest):
    """Just enough of an HttpRequest for the adapters: method, path, headers (META), body."""

    def __init__(self, scope: dict[str, Any], body: bytes | None, too_big: bool) -> None:
        super().__init__()
        self.method = "POST"
        self.path = self.path_info = scope["path"]
        self.META = {"REQUEST_METHOD": "POST", "PATH_INFO": scope["path"]}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin1").upper().replace("-", "_")
            value = raw_value.decode("latin1")
            key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value
        self._too_big = too_big
        if body is not None:
            self._body = body

    @property
    def body(self) -> bytes:
        if self._too_big:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return self._body


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
        if not _host_allowed(request):
            return JsonResponse({"error": "bad host"}, status=400)
        return views.webhook_post(request, kind, name, lookup=_cached_account)
    except Exception:
        logger.exception("webhook %s/%s failed", kind, name)
        return JsonResponse({"error": "server error"}, status=500)
    finally:
        close_old_connections()  # back to the pool; a broken connection is dropped


async def _read_body(receive, limit: int | None) -> tuple[bytes | None, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None, True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


class WebhookFastPath:
    """Wrap the HTTP app: POST /hooks/<kind>/<name>/ is answered here, the rest passes on."""

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
        match = HOOK_PATH.match(path)
        if match is None:
            return await self.app(scope, receive, send)
        body, too_big = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if body is None and not too_big:
            return  # the client went away
        request = WebhookRequest({**scope, "path": path}, body, too_big)
        response = await self.handle(request, match["kind"], match["name"])
        headers = [(k.encode("latin1"), v.encode("latin1")) for k, v in response.items()]
        headers.append((b"content-length", str(len(response.content)).encode()))
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            headers.append((b"x-content-type-options", b"nosniff"))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": response.content})
