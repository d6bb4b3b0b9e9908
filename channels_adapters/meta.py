"""What WhatsApp Cloud API and Messenger share: Meta's handshake, signature and Graph URL."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import httpx
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.translation import gettext as _

from channels_adapters.base import ChannelAdapter, DeliveryError
from channels_adapters.http import TIMEOUT, _answer, load_json
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


#: Graph error codes that mean "not now" (rate limits, Meta's own trouble), though answered
#: with a 4xx: the reply is retried rather than failed.
TRANSIENT_GRAPH_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131056})
#: WhatsApp's "Re-engagement message": a free-form message past the 24-hour window.
REENGAGEMENT_CODE = 131047


def graph_error_text(error: dict[str, Any]) -> str:
    """Meta's reason from a Graph error object (a send's ``error`` or a WhatsApp status's
    ``errors[0]``): its title or message, and ``error_data.details`` when it says more."""
    text = str(error.get("title") or error.get("message") or "").strip()
    details = error.get("error_data") or {}
    detail = str(details.get("details") or "").strip() if isinstance(details, dict) else ""
    if detail and detail not in text:
        text = f"{text}: {detail}" if text else detail
    if _code(error) == REENGAGEMENT_CODE:
        text = _("24-hour window closed: send an approved template. (%(meta)s)") % {
            "meta": text or REENGAGEMENT_CODE
        }
    return text[:1000]


def _code(error: dict[str, Any]) -> int | None:
    try:
        return int(error.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def graph_post(url: str, payload: dict, *, headers: dict[str, str]) -> Any:
    """POST to the Graph API. A Graph error object becomes a DeliveryError with Meta's code
    and reason; permanent for a 4xx unless its code is a rate limit or Meta's own trouble."""
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: could not reach the provider") from None
    if response.status_code >= 400:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            code = _code(error)
            text = graph_error_text(error)
            if code is not None and f"(#{code})" not in text:
                text = f"(#{code}) {text}"
            permanent = (
                response.status_code < 500
                and response.status_code not in (408, 429)
                and code not in TRANSIENT_GRAPH_CODES
            )
            raise DeliveryError(f"HTTP {response.status_code}: {text}", permanent=permanent)
    return _answer(response)
