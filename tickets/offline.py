"""Offline messages: a ticket left outside business hours, or one that waited too long.

An offline ticket never waits in the pool (routing skips ``is_offline``): it is listed under
"Offline messages" and answered by e-mail (``channels_adapters.services.outbound``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from omnico.core import realtime
from tickets.models import SLOT_STATUSES, Ticket, TicketEvent


@transaction.atomic
def ticket_mark_offline(*, ticket_id: int, waited_since: datetime | None = None) -> bool:
    """Make an unassigned active ticket an offline message: it leaves the pool and appears in
    "Offline messages". ``waited_since``: only if it has waited in the pool since then at
    least (``pool_entered_at``: the maximum wait). One conditional UPDATE settles a race with
    routing (a ticket assigned a moment ago stays with its agent). True when it changed."""
    matching = Ticket.objects.filter(
        pk=ticket_id, assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False
    )
    if waited_since is not None:
        matching = matching.filter(pool_entered_at__lte=waited_since)
    if not matching.update(is_offline=True, updated_at=timezone.now()):
        return False
    TicketEvent.objects.create(
        ticket_id=ticket_id,
        kind=TicketEvent.Kind.FIELD,
        data={"field": "is_offline", "old": False, "new": True},
    )
    realtime.publish(realtime.AGENTS_GROUP, "inbox.ticket", ticket_id=ticket_id, created=False)
    realtime.publish(
        realtime.ticket_group(ticket_id), "ticket.changed", ticket_id=ticket_id, change="field"
    )
    return True


def ticket_wait_expire(*, ticket: Ticket, max_wait: timedelta, now: datetime | None = None) -> bool:
    """The visitor's ticket waited in the pool longer than ``max_wait``: it becomes an offline
    message (the conversation so far stays in it). True when it did now."""
    now = now or timezone.now()
    return ticket_mark_offline(ticket_id=ticket.pk, waited_since=now - max_wait)
