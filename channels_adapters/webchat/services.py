"""Writes of the support page: a visitor's message stored durably, their acknowledgements.

The visitor id always comes from the signed cookie (``webchat.visitor``), never from the
request body: a visitor can only write into, and acknowledge, their own conversation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from channels_adapters.base import InboundError
from channels_adapters.models import InboundEvent
from channels_adapters.services.inbound import event_record
from channels_adapters.webchat import uploads
from channels_adapters.webchat.adapter import (
    CLIENT_ID,
    MAX_TEXT_CHARS,
    external_id,
    validate,
)
from configuration.models import ChannelAccount, ChannelKind
from omnico.core import realtime
from tickets.delivery import messages_delivery_advance
from tickets.models import Message


@dataclass(frozen=True)
class Intake:
    """What the visitor chose and told before the chat: set on the ticket it opens."""

    group_type_id: int | None = None
    subject_id: int | None = None
    name: str = ""
    email: str = ""
    phone: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "group_type": self.group_type_id,
            "subject": self.subject_id,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intake:
        def number(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def text(key: str, limit: int) -> str:
            value = data.get(key)
            return value[:limit] if isinstance(value, str) else ""

        return cls(
            group_type_id=number("group_type"),
            subject_id=number("subject"),
            name=text("name", 120),
            email=text("email", 254),
            phone=text("phone", 40),
        )


class VisitorMessageError(ValueError):
    """The message cannot be taken (empty, too long, a malformed id): shown to the visitor."""


def visitor_message_post(
    *, account: ChannelAccount, visitor_id: str, client_id: str, text: str, intake: Intake
) -> tuple[InboundEvent, bool]:
    """Store a visitor's message as an inbound event (durable when this returns, so the
    visitor may be told "delivered"), deduplicated by the client's message id: a resend after
    a reconnect returns the stored event and changes nothing. Ingest follows after commit."""
    text = (text or "").strip()
    if not CLIENT_ID.match(client_id or ""):
        raise VisitorMessageError(_("This message has no valid id; reload the page."))
    if not text:
        raise VisitorMessageError(_("Write a message first."))
    if len(text) > MAX_TEXT_CHARS:
        raise VisitorMessageError(
            _("A message can be at most %(n)d characters long.") % {"n": MAX_TEXT_CHARS}
        )
    body = json.dumps(
        {"id": client_id, "visitor": visitor_id, "text": text, **intake.as_dict()}
    ).encode()
    try:
        message = validate(json.loads(body), account_id=account.pk)
    except InboundError as exc:
        raise VisitorMessageError(_("This message cannot be sent.")) from exc
    return event_record(account=account, body=body, dedupe_key=message.external_id)


def upload_too_big_message() -> str:
    return _("This file is too big: the largest file you can send is %(size)s.") % {
        "size": filesizeformat(settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES)
    }


def visitor_upload_post(
    *,
    account: ChannelAccount,
    visitor_id: str,
    client_id: str,
    upload: UploadedFile | None,
    intake: Intake,
) -> tuple[InboundEvent, bool]:
    """Store a file the visitor attached, then its message as an inbound event, like a text
    (durable when this returns; ingest attaches the same file to the ticket's message). The
    type is checked by the file's content against ``OMNICO_SUPPORT_UPLOAD_TYPES``, the size
    against ``OMNICO_SUPPORT_UPLOAD_MAX_BYTES``. A resend with the same client message id
    returns the stored event and keeps no second file."""
    if not CLIENT_ID.match(client_id or ""):
        raise VisitorMessageError(_("This message has no valid id; reload the page."))
    if upload is None:
        raise VisitorMessageError(_("Choose a file first."))
    if (upload.size or 0) > settings.OMNICO_SUPPORT_UPLOAD_MAX_BYTES:
        raise VisitorMessageError(upload_too_big_message())
    if not upload.size:
        raise VisitorMessageError(_("This file is empty."))
    dedupe_key = external_id(visitor_id, client_id)
    existing = InboundEvent.objects.filter(channel_account=account, dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    filename = uploads.upload_filename(upload.name or "")
    upload.seek(0)
    head = upload.read(uploads.HEAD_BYTES)
    upload.seek(0)
    content_type = uploads.upload_sniff(head=head, filename=filename)
    if content_type is None:
        raise VisitorMessageError(
            _(
                "This type of file cannot be sent. You can send images, PDF, office "
                "documents and text files."
            )
        )
    name = uploads.upload_store(
        account_id=account.pk,
        visitor_id=visitor_id,
        client_id=client_id,
        filename=filename,
        file=upload,
    )
    body = json.dumps(
        {
            "id": client_id,
            "visitor": visitor_id,
            "text": "",
            "file": {"name": name, "filename": filename, "type": content_type},
            **intake.as_dict(),
        }
    ).encode()
    try:
        message = validate(json.loads(body), account_id=account.pk)
    except InboundError as exc:
        uploads.upload_discard(name=name)
        raise VisitorMessageError(_("This message cannot be sent.")) from exc
    event, created = event_record(account=account, body=body, dedupe_key=message.external_id)
    if not created:  # the same message sent twice at once: the first one's file is kept
        uploads.upload_discard(name=name)
    return event, created


def intake_clean(
    *, group_type_id: int | None, subject_id: int | None, name: str, email: str, phone: str
) -> Intake:
    """The contact step's answers, checked (e-mail and phone are optional)."""
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise VisitorMessageError(_("Enter a valid e-mail address.")) from None
    phone = (phone or "").strip()
    if phone and not all(c.isdigit() or c in "+ -()" for c in phone):
        raise VisitorMessageError(_("Enter a valid phone number."))
    return Intake(
        group_type_id=group_type_id,
        subject_id=subject_id,
        name=(name or "").strip()[:120],
        email=email[:254],
        phone=phone[:40],
    )


def _visitor_replies(*, account_id: int, visitor_id: str) -> QuerySet[Message]:
    return Message.objects.filter(
        channel_account_id=account_id,
        direction=Message.Direction.OUTBOUND,
        ticket__customer__identities__kind=ChannelKind.WEBCHAT,
        ticket__customer__identities__external_id=visitor_id,
    )


#: The states an agent's reply moves forward from when the visitor's page shows it.
_NOT_YET_DELIVERED = (Message.Delivery.PENDING, Message.Delivery.SENT)


def visitor_reply_delivered(
    *, account: ChannelAccount, visitor_id: str, message_id: int, ticket_id: int | None = None
) -> int:
    """The visitor's socket showed agent reply ``message_id``: it is delivered. A reply on
    another visitor's ticket is not theirs to acknowledge: nothing changes.

    One conditional ``UPDATE`` whose ``WHERE`` is the check (this visitor's reply, on
    ``ticket_id`` when the socket names it, not delivered yet: forward only, as
    ``tickets.delivery.messages_delivery_update``); the agents' screens are told after commit.
    Every reply shown is acknowledged, so this runs as often as agents reply."""
    replies = _visitor_replies(account_id=account.pk, visitor_id=visitor_id).filter(
        pk=message_id, delivery__in=_NOT_YET_DELIVERED
    )
    if ticket_id is not None:
        replies = replies.filter(ticket_id=ticket_id)
    changed = replies.update(delivery=Message.Delivery.DELIVERED)
    if changed:
        if ticket_id is None:
            ticket_id = Message.objects.values_list("ticket_id", flat=True).get(pk=message_id)
        realtime.publish(
            realtime.ticket_group(ticket_id),
            "ticket.message",
            ticket_id=ticket_id,
            message_id=message_id,
        )
    return changed


def visitor_replies_shown(*, account: ChannelAccount, visitor_id: str, ticket_id: int) -> int:
    """The visitor's page showed their conversation: the replies sent to it are delivered.
    Two queries however many replies were waiting (one when none was)."""
    ids = list(
        _visitor_replies(account_id=account.pk, visitor_id=visitor_id)
        .filter(ticket_id=ticket_id, delivery=Message.Delivery.SENT)
        .values_list("pk", flat=True)
    )
    return messages_delivery_advance(
        channel_account=account, state=Message.Delivery.DELIVERED, message_ids=ids
    )
