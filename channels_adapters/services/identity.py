"""A channel says a customer now goes by another id: move their identity, tell the agent."""

from __future__ import annotations

from django.db import transaction

from channels_adapters.base import IdentityChange
from configuration.models import ChannelAccount
from customers.services import customer_identity_change
from tickets.notices import ticket_add_channel_notice


@transaction.atomic(savepoint=False)  # runs in ingest's transaction
def identity_changes_apply(*, account: ChannelAccount, changes: list[IdentityChange]) -> None:
    """Apply an event's identity changes before its messages (and those of the events after
    it) are received, so a message from the new id finds the customer; each becomes a system
    line in the customer's conversation, shown once however often the notice is delivered."""
    for change in changes:
        move = customer_identity_change(
            kind=account.kind,
            external_id=change.sender_id,
            new_external_id=change.new_sender_id,
        )
        if move.customer is None:  # never wrote to us: nothing to move or show
            continue
        ticket_add_channel_notice(
            customer=move.customer,
            channel_account=account,
            text=change.note,
            external_id=change.external_id or None,
            sent_at=change.sent_at,
        )
