"""A channel's notice about a customer (WhatsApp: "this customer changed number"), shown as a
system line in their conversation: nothing the customer wrote, so it opens no ticket and
changes no status."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from configuration.models import ChannelAccount
from customers.models import Customer
from omnico.core import realtime
from omnico.core.db import insert_unless_duplicate
from tickets.models import Message, Ticket


@transaction.atomic(savepoint=False)
def ticket_add_channel_notice(
    *,
    customer: Customer,
    channel_account: ChannelAccount,
    text: str,
    external_id: str | None = None,
    sent_at: datetime | None = None,
) -> Message | None:
    """A system line with ``text`` in the customer's latest ticket on the account (active or
    not: it is their conversation); None when they have no ticket there, or when the notice
    ``external_id`` was already shown (a redelivery)."""
    ticket = (
        Ticket.objects.filter(customer=customer, channel_account=channel_account)
        .order_by("-created_at", "-pk")
        .first()
    )
    if ticket is None:
        return None
    message = Message(
        ticket=ticket,
        channel_account=channel_account,
        direction=Message.Direction.SYSTEM,
        external_id=external_id or None,
        body=text,
        sent_at=sent_at or timezone.now(),
    )
    if not insert_unless_duplicate(message):
        return None
    realtime.publish(
        realtime.ticket_group(ticket.pk),
        "ticket.message",
        ticket_id=ticket.pk,
        message_id=message.pk,
    )
    return message
