"""Reads the e-mail channel needs: which ticket a mail continues, and a reply's thread."""

from __future__ import annotations

from typing import TypeGuard

from channels_adapters.base import InboundMessage
from channels_adapters.email.parser import SYNTHETIC_DOMAIN
from configuration.models import ChannelAccount, ChannelKind
from tickets.models import Message, Ticket

MAX_REFERENCES = 20


def mail_thread_ticket_id(*, account: ChannelAccount, message: InboundMessage) -> int | None:
    """The ticket a mail answers: by its In-Reply-To/References ids among our stored messages
    (inbound and our replies), else by a ``[#id]`` subject token on a ticket of the same
    sender. Two queries at most."""
    ids = message.thread_message_ids[:50]
    if ids:
        found = dict(
            Message.objects.filter(channel_account=account, external_id__in=ids).values_list(
                "external_id", "ticket_id"
            )
        )
        for message_id in ids:
            if message_id in found:
                return found[message_id]
    if message.ticket_token is not None:
        return (
            Ticket.objects.filter(
                pk=message.ticket_token,
                channel_account=account,
                customer__identities__kind=ChannelKind.EMAIL,
                customer__identities__external_id=message.sender_id,
            )
            .values_list("pk", flat=True)
            .first()
        )
    return None


def _is_real_id(value: str | None) -> TypeGuard[str]:
    return (
        value is not None
        and bool(value)
        and not value.endswith("@" + SYNTHETIC_DOMAIN)
        and not value.startswith("h:")
    )


def _mail_id(stored_id: str | None, direction: str, meta: object) -> str | None:
    """The Message-ID a stored message had: a mail kept under a variant id (it shared its
    Message-ID with another mail, ``tickets.receiving._variant``) has it in its meta."""
    if direction == Message.Direction.INBOUND and isinstance(meta, dict) and meta.get("message_id"):
        return str(meta["message_id"])
    return stored_id


def mail_reply_thread(*, message: Message) -> tuple[str, list[str]]:
    """``(In-Reply-To, References)`` for an outbound reply, ids without angle brackets.

    In-Reply-To is the customer's last mail before the reply; References is that mail's own
    chain followed by every id of the ticket's conversation, newest last (one query)."""
    rows = list(
        Message.objects.filter(ticket_id=message.ticket_id, external_id__isnull=False)
        .exclude(pk=message.pk)
        .filter(direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND])
        .order_by("sent_at", "id")
        .values_list("external_id", "direction", "meta")
    )
    in_reply_to = ""
    chain: list[str] = []
    for stored_id, direction, meta in rows:
        external_id = _mail_id(stored_id, direction, meta)
        if direction == Message.Direction.INBOUND and _is_real_id(external_id):
            in_reply_to = external_id
            for ref in (meta or {}).get("references", []) if isinstance(meta, dict) else []:
                if _is_real_id(ref) and ref not in chain:
                    chain.append(ref)
        if _is_real_id(external_id) and external_id not in chain:
            chain.append(external_id)
    if in_reply_to:  # the parent goes last, as RFC 5322 asks
        chain = [ref for ref in chain if ref != in_reply_to] + [in_reply_to]
    return in_reply_to, chain[-MAX_REFERENCES:]
