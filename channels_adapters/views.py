"""Webhook endpoints: verify, store the raw event, answer fast. Ingest happens after commit.

POSTs normally reach ``webhook_post`` through ``channels_adapters.asgi.WebhookFastPath`` (no
middleware, no per-request thread); the Django view below serves the same function for
everything else (GET handshakes, the test client, WSGI).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_adapters import services
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


def webhook_post(
    request: HttpRequest,
    kind: str,
    name: str,
    *,
    lookup: Callable[[str, str], ChannelAccount | None] = account_for_hook,
) -> HttpResponse:
    """Verify the signature, store the raw body once (one INSERT), answer 200."""
    account = lookup(kind, name)
    if account is None:
        return JsonResponse({"error": "not found"}, status=404)
    adapter = get_adapter(kind)
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "body too large"}, status=413)
    if not adapter.verify_request(account, request):
        _warn(kind, name, "bad signature")
        return JsonResponse({"error": "bad signature"}, status=403)
    try:
        dedupe_key = adapter.dedupe_key(account, body)
    except InboundError as exc:
        _warn(kind, name, "malformed body", f" ({len(body)} bytes): {exc}")
        return JsonResponse({"error": str(exc)}, status=400)
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
