"""Who works which ticket: capacity-based routing (presence: ``tickets.presence``).

Each agent has a capacity N (``configuration.OperatorProfile``); an assigned ticket that is
``open`` or ``pending`` occupies one slot. A new ticket goes to the active agent with the most
free slots (ties: the one idle longest, i.e. the oldest ``last_assigned_at``, never-assigned
first). With no free slot it waits in the pool, ordered by priority then arrival, and the pool
is drained whenever a slot frees. "Active" is ``AgentPresence.is_active``: takes new tickets now.

Departments are skills. A ticket of a department (its subject's, else its group type's:
``tickets.receiving.ticket_department_for``) goes only to agents of that department
(``OperatorProfile.departments``), until it has waited its department's
``overflow_after_minutes`` in the pool: then to any agent. A ticket without a department goes
to any agent, as before departments. The pool stays one list in one order; a drain walks it in
that order and gives each ticket to the best agent who may serve it, skipping (not blocking on)
a ticket whose agents are all full. Two more rules pick the agent: a recontact (a new ticket of
a customer whose previous ticket was resolved within ``RoutingSettings.recontact_minutes``) goes
to that ticket's agent when they are active with a free slot; a ticket taken back for want of a
reply (``tickets.assignment``) never goes back to the agent who did not answer while it waits.

Every assignment here runs in one transaction that first locks the presence rows of all active
agents (ordered by pk, so two routers never deadlock), then the pool tickets it assigns. A
second router waits for the first to commit and then counts again, so no agent ever holds more
than N. Assignment by hand and taking from the pool (``tickets.assignment``) lock in the same
order: the agent's presence row, then the ticket.

Before taking those locks a drain asks, in one unlocked query (``any_free_slot``), whether some
pool ticket may go to an active agent with a free slot (no department, a department of a free
agent, a department that overflows, or a recontact of a free agent); when none may (the usual
state under load: everyone full, tickets wait in the pool) it returns at once instead of
queueing every ingest worker behind the same locks. That read may be a moment stale, never
wrong for long: every path that frees a slot or makes a ticket servable drains after it commits
(and sees every ticket committed before), and the periodic ``tickets.pool_drain`` task
(``CELERY_BEAT_SCHEDULE``) drains anyway, so a ticket that raced a freed slot, or whose
department's overflow time has come, waits at most that long.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import BreakReason, Department, OperatorProfile, RoutingSettings
from configuration.services import operator_set_capacity
from omnico.core import realtime
from omnico.core.db import retry_on_lost_connection, sqlstate_of
from tickets import webhooks
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


@dataclass
class _Agent:
    """An active agent as one drain sees them: presence row, free slots, departments."""

    presence: AgentPresence
    free: int
    departments: frozenset[int]

    @property
    def user_id(self) -> int:
        return self.presence.user_id


@dataclass(frozen=True)
class _PoolTicket:
    pk: int
    department_id: int | None
    skip_agent_id: int | None
    #: The agent of the customer's previous ticket when this one is a recontact (new, and
    #: written within ``RoutingSettings.recontact_minutes`` of that ticket's resolution).
    recontact_agent_id: int | None
    overflowed: bool


def _lock_active_agents() -> list[AgentPresence]:
    """Presence rows of agents who take tickets now, locked, in pk order."""
    return list(
        AgentPresence.objects.select_for_update(of=("self",))
        .filter(is_active=True, user__is_active=True, user__operator_profile__isnull=False)
        .select_related("user__operator_profile")
        .order_by("pk")
    )


def _works(user_ids: list[int]) -> dict[int, int]:
    return dict(
        Ticket.objects.filter(assignee_id__in=user_ids, status__in=SLOT_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("assignee_id", "n")
    )


def departments_map() -> tuple[dict[int, set[int]], dict[int, int]]:
    """Who belongs to which department (``{user id: department ids}``) and which departments
    overflow (``{department id: minutes}``), in one query over the departments."""
    members: dict[int, set[int]] = defaultdict(set)
    overflow: dict[int, int] = {}
    rows = Department.objects.values_list("pk", "overflow_after_minutes", "agents__user_id")
    for department_id, minutes, user_id in rows:
        if minutes is not None:
            overflow[department_id] = minutes
        if user_id is not None:
            members[user_id].add(department_id)
    return members, overflow


def _agents(presences: list[AgentPresence], members: dict[int, set[int]]) -> list[_Agent]:
    works = _works([p.user_id for p in presences])
    return [
        _Agent(
            presence=p,
            free=p.user.operator_profile.capacity - works.get(p.user_id, 0),
            departments=frozenset(members.get(p.user_id, ())),
        )
        for p in presences
    ]


def overflowed_q(overflow: dict[int, int], now: datetime) -> Q:
    where = Q(pk__in=[])
    for department_id, minutes in overflow.items():
        where |= Q(
            department_id=department_id, pool_entered_at__lte=now - timedelta(minutes=minutes)
        )
    return where


def _servable_q(agents: list[_Agent], overflow: dict[int, int], now: datetime) -> Q:
    """Pool tickets some agent with a free slot may take: no department, a department of such
    an agent, overflowed past their department's limit, or a recontact of such an agent (the
    window is checked in Python). Empty Q when nobody has a free slot."""
    free = [a for a in agents if a.free > 0]
    if not free:
        return Q(pk__in=[])
    departments = set().union(*(a.departments for a in free))
    return (
        Q(department__isnull=True)
        | Q(department_id__in=departments)
        | overflowed_q(overflow, now)
        | Q(assigned_at__isnull=True, previous_ticket__assignee_id__in=[a.user_id for a in free])
    )


def _pool_rows(
    where: Q, *, exclude: set[int], limit: int, overflow: dict[int, int], now: datetime
) -> list[_PoolTicket]:
    rows = list(
        pool_tickets()
        .select_for_update(of=("self",))
        .filter(where)
        .exclude(pk__in=exclude)
        .values_list(
            "pk",
            "department_id",
            "routing_skip_agent_id",
            "assigned_at",
            "pool_entered_at",
            "previous_ticket__assignee_id",
            "previous_ticket__resolved_at",
            "previous_ticket__closed_at",
        )[:limit]
    )
    window = 0
    if any(row[3] is None and row[5] is not None for row in rows):  # a possible recontact
        window = RoutingSettings.load().recontact_minutes
    since = now - timedelta(minutes=window)
    found = []
    for pk, dept, skip, assigned_at, entered, prev_agent, resolved_at, closed_at in rows:
        ended = resolved_at or closed_at
        recontact = (
            prev_agent
            if window and assigned_at is None and ended is not None and ended >= since
            else None
        )
        minutes = overflow.get(dept) if dept is not None else None
        overflowed = minutes is not None and entered <= now - timedelta(minutes=minutes)
        found.append(_PoolTicket(pk, dept, skip, recontact, overflowed))
    return found


def _may_serve(agent: _Agent, ticket: _PoolTicket) -> bool:
    if agent.free <= 0 or agent.user_id == ticket.skip_agent_id:
        return False
    return (
        ticket.department_id is None
        or ticket.overflowed
        or ticket.department_id in agent.departments
    )


def _pick(agents: list[_Agent], ticket: _PoolTicket, turn: dict[int, int]) -> _Agent | None:
    """The recontacted agent when they have a free slot; else, of the agents who may serve the
    ticket, most free slots, ties to the agent idle longest (never assigned counts as longest).

    ``turn`` orders the assignments made within one drain, which all share one timestamp.
    """
    if ticket.recontact_agent_id is not None:
        for agent in agents:
            if agent.user_id == ticket.recontact_agent_id and agent.free > 0:
                return agent
    candidates = [a for a in agents if _may_serve(a, ticket)]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda a: (
            -a.free,
            a.presence.last_assigned_at is not None,
            a.presence.last_assigned_at or datetime.min,
            turn.get(a.user_id, -1),
            a.presence.pk,
        ),
    )


def _assign(assignments: list[tuple[int, AgentPresence]], now: datetime) -> None:
    Ticket.objects.filter(pk__in=[t for t, _p in assignments], assignee__isnull=True).update(
        assignee_id=Case(
            *(When(pk=ticket_id, then=Value(p.user_id)) for ticket_id, p in assignments),
            output_field=IntegerField(),
        ),
        assigned_at=now,
        updated_at=now,
        routing_skip_agent=None,
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
    webhooks.webhook_tickets_assigned(ticket_ids=[ticket_id for ticket_id, _p in assignments])
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
    """Whether some pool ticket may go to an active agent with a free slot now: one query, no
    lock (a hint). It may say yes in vain (a department that overflows counts as overflowed,
    an agent who did not answer the ticket in time counts as free for it), never no when a
    drain would assign something.

    Asked after every commit that opened a ticket (each webhook from a new sender at a
    trickle), so its SQL, which has no value that changes, is compiled once per process and
    database (``_any_free_slot_sql``): building it through the ORM took milliseconds of CPU."""
    sql, params = _any_free_slot_sql(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


@functools.cache
def _any_free_slot_sql(alias: str) -> tuple[str, tuple[Any, ...]]:
    works = (
        Ticket.objects.filter(assignee_id=OuterRef("user_id"), status__in=SLOT_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    free_agents = (
        AgentPresence.objects.filter(
            is_active=True, user__is_active=True, user__operator_profile__isnull=False
        )
        .annotate(
            free=F("user__operator_profile__capacity")
            - Coalesce(Subquery(works, output_field=IntegerField()), Value(0))
        )
        .filter(free__gt=0)
        .values("user_id")
    )
    free_departments = OperatorProfile.departments.through.objects.filter(
        operatorprofile__user_id__in=free_agents
    ).values("department_id")
    query = (
        pool_tickets()
        .filter(Exists(free_agents))
        .filter(
            Q(department__isnull=True)
            | Q(department_id__in=free_departments)
            | Q(department__overflow_after_minutes__isnull=False)
            | Q(assigned_at__isnull=True, previous_ticket__assignee_id__in=free_agents)
        )
        .order_by()
        .values_list("pk")[:1]
    )
    sql, params = query.query.get_compiler(using=alias).as_sql()
    return sql, tuple(params)


def pool_drain() -> list[tuple[int, int]]:
    """Give pool heads to agents with free slots while both last.

    Returns the ``(ticket_id, agent_id)`` pairs assigned. Call it whenever a slot may have
    freed: a ticket left open/pending, an agent went active, a capacity was raised, a ticket
    or an agent changed department. When no pool ticket could go to anyone it returns without
    locking anything.
    """
    if not any_free_slot():
        return []
    return _pool_drain_locked()


def pool_drain_after_commit() -> None:
    """Drain the pool once this transaction commits (at once outside one): a slot may have
    freed or a ticket entered the pool.

    Once per transaction: an ingest batch that opens many tickets routes them in one drain. A
    drain already registered outside any savepoint we are not also in survives every rollback
    that would drop a second one, so none is added.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        savepoints = set(connection.savepoint_ids)
        for sids, func, _robust in connection.run_on_commit:
            if func is _pool_drain_committed and sids <= savepoints:
                return
    transaction.on_commit(_pool_drain_committed, robust=True)


@retry_on_lost_connection
def _pool_drain_retried() -> None:
    pool_drain()


def _pool_drain_committed() -> None:
    """The drain after a commit. The change is committed; a database restart may end the
    connection before the drain reads (the worker's ingest, a web request): it runs once more
    on a fresh connection, and if that fails too the periodic drain (``tickets.pool_drain``)
    hands the pool out. Logged short either way: the server's words would read as a failure."""
    try:
        _pool_drain_retried()
    except (OperationalError, InterfaceError) as exc:
        logger.warning(
            "pool drain after commit: database error (%s, SQLSTATE %s); the periodic drain "
            "will hand out the pool",
            exc.__class__.__name__,
            sqlstate_of(exc),
        )


@transaction.atomic
def _pool_drain_locked() -> list[tuple[int, int]]:
    presences = _lock_active_agents()
    if not presences:
        return []
    members, overflow = departments_map()
    agents = _agents(presences, members)
    now = timezone.now()
    assignments: list[tuple[int, AgentPresence]] = []
    turn: dict[int, int] = {}
    seen: set[int] = set()
    while True:
        slots = sum(a.free for a in agents if a.free > 0)
        if slots <= 0:
            break
        batch = _pool_rows(
            _servable_q(agents, overflow, now),
            exclude=seen,
            limit=slots,
            overflow=overflow,
            now=now,
        )
        for ticket in batch:
            seen.add(ticket.pk)
            agent = _pick(agents, ticket, turn)
            if agent is None:
                continue  # its agents are full: it keeps its place, later ones may go
            assignments.append((ticket.pk, agent.presence))
            agent.free -= 1
            agent.presence.last_assigned_at = now
            turn[agent.user_id] = len(assignments)
        if len(batch) < slots:
            break  # every ticket servable when fetched was in it
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
    pool_drain_after_commit()
    return profile
