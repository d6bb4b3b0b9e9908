"""The generic API channel (BiP and any other messenger behind a small bridge).

Inbound: POST JSON ``{"id", "customer": {"id", "name", "email"?, "phone"?}, "text", "time"?,
"attachments"?: [{"url", "filename"?, "content_type"?}]}`` signed with
``X-Omnico-Signature: sha256=<hex HMAC-SHA256 of the body with the account secret>``.
Outbound: the same signature on a POST to ``account.callback_url``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from channels_adapters.base import (
    ChannelAdapter,
    DeliveryError,
    InboundAttachment,
    InboundError,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import load_json, post_raw
from channels_adapters.signing import sign, signature_valid
from configuration.models import ChannelAccount

if TYPE_CHECKING:
    from customers.models import Identity
    from tickets.models import Message

SIGNATURE_HEADER = "X-Omnico-Signature"
MAX_ATTACHMENTS = 20
_url = URLValidator(schemes=["http", "https"])


def _string(data: dict[str, Any], key: str, *, where: str, required: bool, limit: int) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InboundError(f"{where}{key} is required")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool) and key == "id":
        value = str(value)
    if not isinstance(value, str):
        raise InboundError(f"{where}{key} must be a string")
    if len(value) > limit:
        raise InboundError(f"{where}{key} is longer than {limit} characters")
    return value


def validate(data: dict[str, Any]) -> InboundMessage:
    """The message in an API channel body, or InboundError naming the first bad field."""
    external_id = _string(data, "id", where="", required=True, limit=200)
    customer = data.get("customer")
    if not isinstance(customer, dict):
        raise InboundError("customer is required and must be an object")
    customer_id = _string(customer, "id", where="customer.", required=True, limit=200)
    name = _string(customer, "name", where="customer.", required=False, limit=200)
    email = _string(customer, "email", where="customer.", required=False, limit=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InboundError("customer.email is not an e-mail address") from None
    phone = _string(customer, "phone", where="customer.", required=False, limit=40)
    text = _string(data, "text", where="", required=False, limit=100_000)
    sent_at = _time(data.get("time"))
    attachments = _attachments(data.get("attachments"))
    if not text and not attachments:
        raise InboundError("text (or attachments) is required")
    return InboundMessage(
        external_id=external_id,
        sender_id=customer_id,
        sender_name=name,
        email=email,
        phone=phone,
        text=text,
        sent_at=sent_at,
        attachments=attachments,
    )


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise InboundError("time must be an ISO-8601 date and time with a time zone")
    return parsed


def _attachments(value: Any) -> list[InboundAttachment]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise InboundError(f"attachments must be a list of at most {MAX_ATTACHMENTS} objects")
    found = []
    for index, item in enumerate(value):
        where = f"attachments[{index}]."
        if not isinstance(item, dict):
            raise InboundError(f"attachments[{index}] must be an object")
        url = _string(item, "url", where=where, required=True, limit=2000)
        try:
            _url(url)
        except ValidationError:
            raise InboundError(f"{where}url is not an http(s) address") from None
        filename = _string(item, "filename", where=where, required=False, limit=255)
        content_type = _string(item, "content_type", where=where, required=False, limit=120)
        found.append(
            InboundAttachment(
                filename=filename or url.rsplit("/", 1)[-1][:255] or "attachment",
                content_type=content_type or "application/octet-stream",
                url=url,
            )
        )
    return found


class ApiAdapter(ChannelAdapter):
    kind = "api"

    def body_limit(self) -> int:
        """The API channel's documented limit (README), ``OMNICO_API_MAX_BODY_BYTES``."""
        return min(settings.OMNICO_API_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    def verify_request(self, account: ChannelAccount, request: HttpRequest) -> bool:
        return signature_valid(account.secret, request.body, request.headers.get(SIGNATURE_HEADER))

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        message = validate(load_json(body))  # every field checked before anything is stored
        return f"message:{message.external_id}"

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        return ParsedEvent(messages=[validate(load_json(body))])

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        if not account.callback_url:
            raise DeliveryError(_("This API channel has no callback URL."), permanent=True)
        body = json.dumps(
            {
                "id": message.pk,
                "ticket": message.ticket_id,
                "customer_id": recipient.external_id,
                "text": message.body,
            }
        ).encode()
        answer = post_raw(
            account.callback_url,
            body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(account.secret, body),
            },
        )
        external = answer.get("id") if isinstance(answer, dict) else None
        return str(external) if external not in (None, "") else ""
