"""Who works which ticket: capacity-based routing (presence: ``tickets.presence``).

Each agent has a capacity N (``configuration.OperatorProfile``); an assigned ticket that is
``open`` or ``pending`` occupies one slot. A new ticket goes to the active agent with the most
free slots (ties: the one idle longest, i.e. the oldest ``last_assigned_at``, never-assigned
first). With no free slot it waits in the pool, ordered by priority then arrival, and the pool
is drained whenever a slot frees.

Every assignment here runs in one transaction that first locks the presence rows of all active
agents (ordered by pk, so two routers never deadlock), then counts slots and assigns. A second
router waits for the first to commit and then counts again, so no agent ever holds more than N.

Before taking those locks a drain asks, in one unlocked query, whether any active agent has a
free slot at all; when none has (the usual state under load: everyone full, tickets wait in the
pool) it returns at once instead of queueing every ingest worker behind the same locks. That
read may be a moment stale, never wrong for long: every path that frees a slot drains after it
commits (and sees every ticket committed before), and the periodic ``routing_pool_drain`` task
(``CELERY_BEAT_SCHEDULE``) drains anyway, so a ticket that raced a freed slot waits at most
that long.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import BreakReason, OperatorProfile
from configuration.services import operator_set_capacity
from omnico.core import realtime
from tickets.errors import TicketRuleError
from tickets.models import (
    SLOT_STATUSES,
    AgentPresence,
    Ticket,
    TicketEvent,
)

logger = logging.getLogger(__name__)


# --- routing --------------------------------------------------------------------------------


#: The order the pool is taken in: priority (urgent first), then arrival, then id (a total
#: order, so no two pool tickets ever share a place).
POOL_ORDER = ("priority_rank", "created_at", "id")


def pool_tickets() -> QuerySet[Ticket]:
    """The pool (open or pending, no agent) in the order ``pool_drain`` takes it."""
    return Ticket.objects.filter(
        assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False
    ).order_by(*POOL_ORDER)


def _lock_active_agents() -> list[AgentPresence]:
    """Presence rows of agents who take tickets now, locked, in pk order."""
    return list(
        AgentPresence.objects.select_for_update(of=("self",))
        .filter(is_active=True, user__is_active=True, user__operator_profile__isnull=False)
        .select_related("user__operator_profile")
        .order_by("pk")
    )


def _free_slots(agents: list[AgentPresence]) -> dict[int, int]:
    works = dict(
        Ticket.objects.filter(assignee_id__in=[a.user_id for a in agents], status__in=SLOT_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("assignee_id", "n")
    )
    return {a.user_id: a.user.operator_profile.capacity - works.get(a.user_id, 0) for a in agents}


def _pick(
    agents: list[AgentPresence], free: dict[int, int], turn: dict[int, int]
) -> AgentPresence | None:
    """Most free slots; ties to the agent idle longest (never assigned counts as longest).

    ``turn`` orders the assignments made within one drain, which all share one timestamp.
    """
    candidates = [a for a in agents if free[a.user_id] > 0]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda a: (
            -free[a.user_id],
            a.last_assigned_at is not None,
            a.last_assigned_at or datetime.min,
            turn.get(a.user_id, -1),
            a.pk,
        ),
    )


def _assign(assignments: list[tuple[int, AgentPresence]], now: datetime) -> None:
    by_agent: dict[int, list[int]] = defaultdict(list)
    for ticket_id, presence in assignments:
        by_agent[presence.user_id].append(ticket_id)
    for user_id, ticket_ids in by_agent.items():
        Ticket.objects.filter(pk__in=ticket_ids, assignee__isnull=True).update(
            assignee_id=user_id, assigned_at=now, updated_at=now
        )
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=ticket_id,
            actor=None,
            kind=TicketEvent.Kind.ASSIGNEE,
            data={
                "old": None,
                "new": presence.user_id,
                "new_name": presence.user.get_username(),
                "routed": True,
            },
        )
        for ticket_id, presence in assignments
    )
    touched = {presence.pk: presence for _ticket_id, presence in assignments}
    AgentPresence.objects.bulk_update(touched.values(), ["last_assigned_at"])
    for ticket_id, presence in assignments:
        realtime.publish(
            realtime.agent_group(presence.user_id), "ticket.assigned", ticket_id=ticket_id
        )
        # ticket.changed also pushes the ticket's row to every agent (inbox/realtime.py).
        realtime.publish(
            realtime.ticket_group(ticket_id),
            "ticket.changed",
            ticket_id=ticket_id,
            change=TicketEvent.Kind.ASSIGNEE,
        )


def any_free_slot() -> bool:
    """Whether some active agent has a free slot now: one query, no lock (a hint)."""
    works = (
        Ticket.objects.filter(assignee_id=OuterRef("user_id"), status__in=SLOT_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        AgentPresence.objects.filter(
            is_active=True, user__is_active=True, user__operator_profile__isnull=False
        )
        .annotate(
            free=F("user__operator_profile__capacity")
            - Coalesce(Subquery(works, output_field=IntegerField()), Value(0))
        )
        .filter(free__gt=0)
        .exists()
    )


def pool_drain() -> list[tuple[int, int]]:
    """Give pool heads to agents with free slots while both last.

    Returns the ``(ticket_id, agent_id)`` pairs assigned. Call it whenever a slot may have
    freed: a ticket left open/pending, an agent went active, a capacity was raised. When no
    active agent has a free slot it returns without locking anything.
    """
    if not any_free_slot():
        return []
    return _pool_drain_locked()


@transaction.atomic
def _pool_drain_locked() -> list[tuple[int, int]]:
    agents = _lock_active_agents()
    if not agents:
        return []
    free = _free_slots(agents)
    total = sum(n for n in free.values() if n > 0)
    if total <= 0:
        return []
    pool = list(pool_tickets().select_for_update().values_list("pk", flat=True)[:total])
    now = timezone.now()
    assignments: list[tuple[int, AgentPresence]] = []
    turn: dict[int, int] = {}
    for ticket_id in pool:
        presence = _pick(agents, free, turn)
        if presence is None:
            break
        assignments.append((ticket_id, presence))
        free[presence.user_id] -= 1
        presence.last_assigned_at = now
        turn[presence.user_id] = len(assignments)
    if assignments:
        _assign(assignments, now)
    return [(ticket_id, presence.user_id) for ticket_id, presence in assignments]


def ticket_route(*, ticket_id: int) -> int | None:
    """Route a new ticket: to the freest active agent, or into the pool. Returns its agent id.

    Older pool tickets of higher or equal priority go first, so routing is the same as draining
    the pool; the new ticket is simply one of its entries.
    """
    pool_drain()
    return Ticket.objects.filter(pk=ticket_id).values_list("assignee_id", flat=True).first()


# --- presence and breaks --------------------------------------------------------------------
# The states and their log live in ``tickets.presence``; these names stay for their callers.


def agent_go_active(*, user) -> AgentPresence:
    """The agent takes tickets again (``tickets.presence.agent_go_active``)."""
    from tickets import presence  # presence drains the pool through this module

    if not user.is_active:
        raise TicketRuleError(_("This user is deactivated and cannot take tickets."))

    return presence.agent_go_active(user=user)


def agent_go_passive(*, user, break_reason: BreakReason | None) -> AgentPresence:
    """The agent goes on a break (``tickets.presence.agent_go_passive``)."""
    from tickets import presence

    return presence.agent_go_passive(user=user, break_reason=break_reason)


@transaction.atomic
def agent_set_capacity(*, actor, agent, capacity: int) -> OperatorProfile:
    """Set an agent's capacity (admins only) and, once committed, fill newly freed slots."""
    profile = operator_set_capacity(actor=actor, agent=agent, capacity=capacity)
    transaction.on_commit(pool_drain, robust=True)
    return profile
