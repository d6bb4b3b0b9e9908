"""Webhook endpoints: verify, store the raw event, answer fast. Ingest happens after commit."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_adapters import services
from channels_adapters.base import InboundError
from channels_adapters.registry import get_adapter, has_adapter
from configuration.models import ChannelAccount

logger = logging.getLogger(__name__)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    if not has_adapter(kind):
        raise Http404
    account = ChannelAccount.objects.filter(kind=kind, name=name, enabled=True).first()
    if account is None:
        raise Http404
    adapter = get_adapter(kind)
    if request.method == "GET":
        response = adapter.handshake(account, request)
        return response if response is not None else HttpResponse(status=405)
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "body too large"}, status=413)
    if not adapter.verify_request(account, request):
        logger.warning("webhook %s/%s: bad signature", kind, name)
        return JsonResponse({"error": "bad signature"}, status=403)
    try:
        dedupe_key = adapter.dedupe_key(account, body)
    except InboundError as exc:
        logger.warning("webhook %s/%s: malformed body (%d bytes): %s", kind, name, len(body), exc)
        return JsonResponse({"error": str(exc)}, status=400)
    event, created = services.event_record(account=account, body=body, dedupe_key=dedupe_key)
    return JsonResponse({"ok": True, "duplicate": not created})
