"""The web chat: the hosted support page's visitors, behind the one adapter interface.

Inbound: the support page stores each visitor message as an inbound event (no webhook), JSON
``{"id": <client message id>, "visitor": <visitor id>, "text", "group_type"?, "subject"?,
"name"?, "email"?, "phone"?, "file"?: {"name", "filename", "type"}}`` (``file``: an upload
already kept in the visitor's storage folder, see ``webchat.uploads``); the visitor id comes
from the signed cookie, never from the browser's body. Outbound: an agent's reply is pushed
to the visitor's socket group after commit; the visitor's socket acknowledges it (delivered).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from channels_adapters.base import (
    ChannelAdapter,
    InboundAttachment,
    InboundError,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.webchat.uploads import upload_folder
from channels_adapters.webchat.visitor import VISITOR_ID
from omnico.core import realtime
from tickets.offline import ticket_mark_offline

if TYPE_CHECKING:
    from django.http import HttpRequest

    from configuration.models import ChannelAccount
    from customers.models import Identity
    from tickets.models import Message
    from tickets.receiving import Received

#: A client-generated message id (the page makes a UUID).
CLIENT_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_TEXT_CHARS = 5000


def external_id(visitor_id: str, client_id: str) -> str:
    """The message's id on the channel: the client's id, scoped to its visitor, so one visitor
    can never collide with (or be deduplicated against) another's message."""
    return f"{visitor_id}:{client_id}"


def reply_external_id(message_id: int) -> str:
    return f"webchat-{message_id}"


def reply_frame_data(message: Message) -> dict[str, str]:
    """What the visitor's frame shows of a reply known to have no files
    (``Message.know_no_attachments``, as ``reply_send`` leaves a reply just stored): its text
    and time, so each web process's hub draws the frame from the event instead of reading the
    reply back (``webchat.realtime.render_reply``). ``{}`` otherwise: the hub reads it, files
    and all."""
    if not message.attachments_known_empty or message.sent_at is None:
        return {}
    return {"body": message.body, "sent_at": message.sent_at.isoformat()}


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise InboundError(f"{key} must be a string")
    return value.strip()[:limit]


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InboundError(f"{key} must be a number")
    return value


def _file(data: dict[str, Any], *, account_id: int, visitor: str) -> list[InboundAttachment]:
    """The upload of the message, which must lie in this visitor's own storage folder."""
    value = data.get("file")
    if value is None:
        return []
    if not isinstance(value, dict) or not all(
        isinstance(value.get(key), str) and value.get(key) for key in ("name", "filename", "type")
    ):
        raise InboundError("file must name a stored upload")
    name = value["name"]
    if not name.startswith(upload_folder(account_id=account_id, visitor_id=visitor)) or (
        ".." in name.split("/")
    ):
        raise InboundError("file is not this visitor's upload")
    return [
        InboundAttachment(
            filename=value["filename"][:255], content_type=value["type"][:120], stored_name=name
        )
    ]


def validate(data: Any, *, account_id: int) -> InboundMessage:
    if not isinstance(data, dict):
        raise InboundError("the event must be an object")
    client_id = data.get("id")
    visitor = data.get("visitor")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise InboundError("id is not a client message id")
    if not isinstance(visitor, str) or not VISITOR_ID.match(visitor):
        raise InboundError("visitor is not a visitor id")
    text = _text(data, "text", MAX_TEXT_CHARS)
    attachments = _file(data, account_id=account_id, visitor=visitor)
    if not text and not attachments:
        raise InboundError("text or a file is required")
    offline = data.get("offline") is True
    return InboundMessage(
        external_id=external_id(visitor, client_id),
        sender_id=visitor,
        sender_name=_text(data, "name", 120),
        email=_text(data, "email", 254),
        phone=_text(data, "phone", 40),
        text=text,
        subject_id=_int(data, "subject"),
        group_type_id=_int(data, "group_type"),
        is_offline=offline,
        meta={"contact": _contact(data)} if offline else {},
        attachments=attachments,
    )


def _contact(data: dict[str, Any]) -> dict[str, str]:
    """What an offline form's sender left to be answered at (``offline.offline_contact``)."""
    return {
        "name": _text(data, "name", 120),
        "email": _text(data, "email", 254),
        "phone": _text(data, "phone", 40),
    }


class WebChatAdapter(ChannelAdapter):
    kind = "webchat"
    sends_in_process = True  # a push to the visitor's group: no Celery hop for a reply

    def verify_request(self, account: ChannelAccount, request: HttpRequest) -> bool:
        return False  # no webhook: visitors' messages are stored by the support page itself

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        return validate(_load(body), account_id=account.pk).external_id

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        return ParsedEvent(messages=[validate(_load(body), account_id=account.pk)])

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        """Push the reply to the visitor's sockets; a visitor who is away reads it from the
        page's history when they come back."""
        realtime.publish(
            realtime.visitor_group(recipient.external_id),
            "visitor.message",
            message_id=message.pk,
            ticket_id=message.ticket_id,
            account_id=account.pk,
            **reply_frame_data(message),
        )
        return reply_external_id(message.pk)

    def received(self, account: ChannelAccount, message: InboundMessage, got: Received) -> None:
        """The visitor's sockets learn the ticket they are on (and so who joins it). An offline
        form's message appended to the visitor's active ticket makes that ticket offline."""
        if message.is_offline and not got.ticket.is_offline:
            ticket_mark_offline(ticket_id=got.ticket.pk)
        realtime.publish(
            realtime.visitor_group(message.sender_id),
            "visitor.ticket",
            ticket_id=got.ticket.pk,
            account_id=account.pk,
        )


def _load(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise InboundError("the event is not JSON") from None
