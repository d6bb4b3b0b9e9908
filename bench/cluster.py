"""Cluster mode of the benches (``bench/run NAME --cluster``, bench/stack.sh ``start_cluster``).

The stack is several web processes, each on its own port; ``--url`` is then a comma-separated
list and the benches spread their clients over it round robin (no balancer in between: the
client is the balancer, as a proxy doing round robin over keep-alive connections would be).

``integrity()`` answers, from the database at the end of a run, the questions several
processes raise: was any event ingested twice, did any ticket go to two agents from the pool,
is any agent over capacity. Call it after ``django.setup()``.
"""

from __future__ import annotations

import os

from django.db.models import Count, F, Q

#: The stack's shape as bench/run started it ("web=3,workers=2"), empty when not a cluster.
SHAPE = os.environ.get("OMNICO_BENCH_CLUSTER", "")


def url_list(value: str) -> list[str]:
    """The web processes' base URLs from ``--url`` (one, or several separated by commas)."""
    return [u.strip().rstrip("/") for u in value.split(",") if u.strip()]


def agents_taking_tickets(count: int, capacity: int) -> list[int]:
    """``count`` agents ("bench-cap-NNN") active with room for ``capacity`` tickets each, the
    only ones taking tickets, so that routing across the workers fills their slots and the rest
    waits in the pool. Their screens count as seen for the next hour: the away sweep (beat)
    leaves them active without sockets. Their ids."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from configuration.models import OperatorProfile
    from tickets.models import AgentPresence, PresenceState

    now = timezone.now()
    ids = []
    for n in range(count):
        user, _created = get_user_model().objects.get_or_create(username=f"bench-cap-{n:03d}")
        OperatorProfile.objects.update_or_create(user=user, defaults={"capacity": capacity})
        AgentPresence.objects.update_or_create(
            user=user,
            defaults={
                "is_active": True,
                "state": PresenceState.ACTIVE,
                "state_since": now,
                "break_reason": None,
                "last_seen_at": now + timedelta(hours=1),
            },
        )
        ids.append(user.pk)
    AgentPresence.objects.exclude(user_id__in=ids).update(
        is_active=False, state=PresenceState.OFFLINE
    )
    return ids


def integrity() -> dict:
    """Duplicates and capacity over the whole database, as the run left it."""
    from channels_adapters.models import InboundEvent
    from customers.models import Identity
    from tickets.models import SLOT_STATUSES, Message, Ticket, TicketEvent

    messages = Message.objects.filter(external_id__isnull=False)
    events = InboundEvent.objects.all()
    identities = Identity.objects.all()
    # A ticket routed from the pool more often than it went back to it was given twice.
    routed: dict[int, int] = {}
    unassigned: dict[int, int] = {}
    for ticket_id, data in TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNEE).values_list(
        "ticket_id", "data"
    ):
        if data.get("routed"):
            routed[ticket_id] = routed.get(ticket_id, 0) + 1
        if data.get("new") is None:
            unassigned[ticket_id] = unassigned.get(ticket_id, 0) + 1
    assigned_twice = sorted(t for t, n in routed.items() if n > 1 + unassigned.get(t, 0))
    over = list(
        Ticket.objects.filter(status__in=SLOT_STATUSES, assignee__isnull=False)
        .values("assignee", capacity=F("assignee__operator_profile__capacity"))
        .annotate(works=Count("pk"))
        .filter(works__gt=F("capacity"))
        .values_list("assignee__username", "works", "capacity")
    )
    active_per_customer = (
        Ticket.objects.filter(~Q(status__in=["resolved", "closed"]))
        .values("customer", "channel_account")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    return {
        "shape": SHAPE or "single",
        "message_rows": messages.count(),
        "message_distinct_external_ids": messages.values("channel_account", "external_id")
        .distinct()
        .count(),
        "event_rows": events.count(),
        "event_distinct_keys": events.values("channel_account", "dedupe_key").distinct().count(),
        "identity_rows": identities.count(),
        "identity_distinct": identities.values("kind", "external_id").distinct().count(),
        "customers_with_two_active_tickets": active_per_customer,
        "tickets_routed": len(routed),
        "tickets_assigned_twice": assigned_twice[:20],
        "agents_over_capacity": [list(row) for row in over],
    }


def integrity_rows(result: dict) -> list[tuple[str, object]]:
    """The table lines of ``integrity()``'s answer."""
    return [
        ("cluster", result["shape"]),
        (
            "  message rows / distinct external ids",
            (result["message_rows"], result["message_distinct_external_ids"]),
        ),
        ("  event rows / distinct keys", (result["event_rows"], result["event_distinct_keys"])),
        (
            "  identity rows / distinct",
            (result["identity_rows"], result["identity_distinct"]),
        ),
        ("  customers with two active tickets", result["customers_with_two_active_tickets"]),
        ("  tickets routed from the pool", result["tickets_routed"]),
        ("  tickets assigned twice", len(result["tickets_assigned_twice"])),
        ("  agents over capacity", len(result["agents_over_capacity"])),
    ]
