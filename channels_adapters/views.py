"""Webhook endpoints: verify, store the raw event, answer fast. Ingest happens after commit.

POSTs normally reach ``webhook_post`` through ``channels_adapters.asgi.WebhookFastPath`` (no
middleware, no per-request thread); the Django view below serves the same function for
everything else (GET handshakes, the test client, WSGI).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_adapters import services, throttle
from channels_adapters.base import InboundError
from channels_adapters.registry import get_adapter, has_adapter
from configuration.models import ChannelAccount

logger = logging.getLogger(__name__)

#: A flood of forged or broken requests writes one warning per account and reason this often.
WARN_EVERY_SECONDS = 10.0
_warned: dict[tuple[str, str, str], tuple[float, int]] = {}
_warned_lock = threading.Lock()


def _warn(kind: str, name: str, reason: str, detail: str = "") -> None:
    """Log a refused webhook, at most once per ``WARN_EVERY_SECONDS`` per account and reason,
    with the count of those left out since."""
    key, now = (kind, name, reason), time.monotonic()
    with _warned_lock:
        if len(_warned) > 1000:  # names in forged URLs must not grow this without bound
            _warned.clear()
        last, skipped = _warned.get(key, (0.0, 0))
        if last and now - last < WARN_EVERY_SECONDS:
            _warned[key] = (last, skipped + 1)
            return
        _warned[key] = (now, 0)
    more = f" (and {skipped} more since the last warning)" if skipped else ""
    logger.warning("webhook %s/%s: %s%s%s", kind, name, reason, detail, more)


def account_for_hook(kind: str, name: str) -> ChannelAccount | None:
    """The enabled account a webhook URL names, or None."""
    if not has_adapter(kind):
        return None
    return ChannelAccount.objects.filter(kind=kind, name=name, enabled=True).first()


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def too_large() -> JsonResponse:
    return _error("body too large", 413)


def body_limit(kind: str) -> int | None:
    """The largest body a webhook of this channel may have; None: no such channel."""
    return get_adapter(kind).body_limit() if has_adapter(kind) else None


def declared_too_large(meta: Mapping[str, str], limit: int) -> bool:
    """True when the request's Content-Length already says it is over ``limit``."""
    try:
        return int(meta.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return False


def read_capped(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None once it is known to be over ``limit``: from its Content-Length before
    anything is read, else after reading at most ``limit + 1`` bytes."""
    if declared_too_large(request.META, limit):
        return None
    if not hasattr(request, "_body"):
        # Read no more than the limit allows; kept as the body the signature checks read.
        request._body = request.read(limit + 1)
    body = request.body
    return None if len(body) > limit else body


def webhook_post(
    request: HttpRequest,
    kind: str,
    name: str,
    *,
    lookup: Callable[[str, str], ChannelAccount | None] = account_for_hook,
) -> HttpResponse:
    """Answer a webhook POST. The checks run cheapest first, and the fast path
    (``channels_adapters.asgi``) keeps their order: no such channel 404, body over the channel's
    limit 413, over the account's or the address's rate 429 (with Retry-After), no such
    enabled account 404, bad signature 403, malformed body 400; else the raw body is stored
    once (one INSERT, ingest queued after commit) and the answer is 200."""
    limit = body_limit(kind)
    if limit is None:
        return _error("not found", 404)
    body = read_capped(request, limit)
    if body is None:
        _warn(kind, name, "body too large")
        return too_large()
    wait = throttle.webhook_throttle(
        kind=kind, name=name, address=request.META.get("REMOTE_ADDR", "")
    )
    if wait is not None:
        _warn(kind, name, "rate limited")
        response = _error("too many requests", 429)
        response["Retry-After"] = str(wait)
        return response
    account = lookup(kind, name)
    if account is None:
        return _error("not found", 404)
    adapter = get_adapter(kind)
    if not adapter.verify_request(account, request):
        _warn(kind, name, "bad signature")
        return _error("bad signature", 403)
    try:
        dedupe_key = adapter.dedupe_key(account, body)
    except InboundError as exc:
        _warn(kind, name, "malformed body", f" ({len(body)} bytes): {exc}")
        return _error(str(exc), 400)
    _event, created = services.event_record(account=account, body=body, dedupe_key=dedupe_key)
    return JsonResponse({"ok": True, "duplicate": not created})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    if request.method == "POST":
        return webhook_post(request, kind, name)
    account = account_for_hook(kind, name)
    if account is None:
        raise Http404
    response = get_adapter(kind).handshake(account, request)
    return response if response is not None else HttpResponse(status=405)
