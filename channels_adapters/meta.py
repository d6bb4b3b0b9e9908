"""What WhatsApp Cloud API and Messenger share: Meta's handshake, signature and Graph URL."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from channels_adapters.base import ChannelAdapter
from channels_adapters.http import load_json
from channels_adapters.signing import signature_valid
from configuration.models import ChannelAccount

GRAPH_URL = "https://graph.facebook.com/v21.0"


class MetaAdapter(ChannelAdapter):
    #: "Webhooks payloads can be up to 3MB" (Meta's WhatsApp Cloud API and Messenger docs).
    max_body_bytes = 3 * 1024 * 1024

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse:
        mode = request.GET.get("hub.mode", "")
        token = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        if (
            mode == "subscribe"
            and account.verify_token
            and hmac.compare_digest(token.encode(), account.verify_token.encode())
        ):
            return HttpResponse(challenge, content_type="text/plain")
        return HttpResponseForbidden()

    def verify_request(self, account: ChannelAccount, request: HttpRequest) -> bool:
        return signature_valid(
            account.secret, request.body, request.headers.get("X-Hub-Signature-256")
        )

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        load_json(body)  # malformed → InboundError → 400
        # Meta redelivers the same body; messages are deduplicated again by their own ids.
        return "sha256:" + hashlib.sha256(body).hexdigest()

    @staticmethod
    def graph_url(account: ChannelAccount) -> str:
        return (account.base_url or GRAPH_URL).rstrip("/")

    @staticmethod
    def auth(account: ChannelAccount) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token}"}


def from_timestamp(value) -> datetime | None:
    """Unix seconds (WhatsApp, as a string) or milliseconds (Messenger) → aware datetime."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
