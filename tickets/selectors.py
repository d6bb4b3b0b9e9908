"""Reads of tickets and of who works them."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Count, F, IntegerField, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.utils import timezone

from configuration.models import ChannelKind
from tickets import routing
from tickets.models import SLOT_STATUSES, AgentPresence, BreakLog, Ticket, TicketStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class TeamMember:
    user_id: int
    username: str
    full_name: str
    is_active: bool
    break_reason: str
    capacity: int
    works: int
    state: str = "offline"  # tickets.models.PresenceState

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.works)


def team_list() -> list[TeamMember]:
    """Every agent with presence, capacity and how many slots their tickets occupy (1 query)."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, operator_profile__isnull=False)
        .select_related("operator_profile", "presence__break_reason")
        .annotate(
            works=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=SLOT_STATUSES))
        )
        .order_by("username")
    )
    members = []
    for user in users:
        presence = getattr(user, "presence", None)
        members.append(
            TeamMember(
                user_id=user.pk,
                username=user.get_username(),
                full_name=user.get_full_name() or user.get_username(),
                is_active=bool(presence and presence.is_active),
                break_reason=(
                    presence.break_reason.name
                    if presence and not presence.is_active and presence.break_reason
                    else ""
                ),
                capacity=user.operator_profile.capacity,
                works=user.works,
                state=presence.current_state if presence else "offline",
            )
        )
    return members


@dataclass(frozen=True)
class HomeCounts:
    my_works: int
    pool: int
    offline: int
    open_total: int


def home_counts(*, user: User) -> HomeCounts:
    """The homepage's numbers in one aggregate query."""
    counts = Ticket.objects.aggregate(
        my_works=Count("id", filter=Q(assignee=user, status__in=SLOT_STATUSES)),
        pool=Count(
            "id", filter=Q(assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False)
        ),
        offline=Count("id", filter=Q(is_offline=True, status=TicketStatus.OPEN)),
        open_total=Count("id", filter=Q(status__in=SLOT_STATUSES)),
    )
    return HomeCounts(**counts)


def pool_list(*, limit: int = 50) -> list[Ticket]:
    """Tickets waiting for a free slot, in the order routing takes them (priority, arrival)."""
    return list(routing.pool_tickets().select_related("customer", "channel_account")[:limit])


# --- the pool as a waiting customer sees it -------------------------------------------------

#: Assignments older than this say nothing about how fast the pool moves now.
PACE_WINDOW = timedelta(minutes=30)
#: Fewer pool departures than this in the window: too few to estimate a wait from.
PACE_MIN_SAMPLES = 3
#: A ticket assigned within this of entering the pool found a free slot: it did not wait, and
#: says how fast tickets arrive, not how fast slots free.
PACE_WAITED = timedelta(seconds=5)


class _Count(Subquery):
    """The number of rows of a subquery, as a column."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


def _competing(department_id: int | None) -> Q:
    """The pool tickets that compete with one of ``department_id`` for the same agents: for a
    ticket of a department, those of that department and those without one (any agent may
    take them); for a ticket without a department, every ticket (it may go to any agent)."""
    if department_id is None:
        return Q()
    return Q(department_id=department_id) | Q(department__isnull=True)


def pool_position(*, ticket_id: int) -> int | None:
    """The ticket's place in its queue, or None when it is not in the pool: ``pool_place``."""
    found = pool_place(ticket_id=ticket_id)
    return None if found is None else found[0]


def pool_place(*, ticket_id: int) -> tuple[int, int | None] | None:
    """``(place, department id)``: the ticket's place in its queue (1: routing takes it
    next), or None when it is not in the pool: 1 + the pool tickets ``routing.pool_drain``
    takes before it (priority, then arrival, then id: ``routing.POOL_ORDER``) that compete
    for the same agents
    (``_competing``: its department's and those without a department; every one for a ticket
    without a department). Counted in one statement, so in one snapshot: two tickets of one
    queue never share a place. One query.

    The rule leaves out two things routing also does: an agent in two departments serves both
    queues, and an overflowed ticket goes to any agent; either can move a place faster than
    counted, never slower."""
    pool = routing.pool_tickets()
    rank, created = OuterRef("priority_rank"), OuterRef("created_at")
    ahead = pool.filter(
        Q(priority_rank__lt=rank)
        | Q(priority_rank=rank, created_at__lt=created)
        | Q(priority_rank=rank, created_at=created, id__lt=OuterRef("id"))
    ).filter(
        Q(IsNull(OuterRef("department_id"), True))
        | Q(department__isnull=True)
        | Q(department_id=OuterRef("department_id"))
    )
    found = (
        pool.filter(pk=ticket_id)
        .annotate(ahead=_Count(ahead.order_by().values("id")))
        .values_list("ahead", "department_id")
        .first()
    )
    return None if found is None else (found[0] + 1, found[1])


def pool_places(*, source: str | None = None) -> dict[int, tuple[int, int | None]]:
    """``{ticket id: (place, department id)}`` for every pool ticket (of ``source`` only, when
    given; the places count every competing ticket, as ``pool_position`` does). One query over
    the pool's index."""
    rows = routing.pool_tickets().values_list("pk", "source", "department_id")
    without = 0  # those without a department
    of: dict[int, int] = defaultdict(int)  # those of each department
    places: dict[int, tuple[int, int | None]] = {}
    for before, (pk, kind, department_id) in enumerate(rows):  # before: every ticket so far
        place = 1 + (before if department_id is None else without + of[department_id])
        if source is None or kind == source:
            places[pk] = (place, department_id)
        if department_id is None:
            without += 1
        else:
            of[department_id] += 1
    return places


def pool_positions(*, source: str | None = None) -> dict[int, int]:
    """``{ticket id: place}`` for every pool ticket (of ``source`` only, when given): see
    ``pool_places``."""
    return {pk: place for pk, (place, _department) in pool_places(source=source).items()}


@dataclass(frozen=True)
class PoolPace:
    """How fast the pool moves now: one ticket leaves it for an agent every ``interval``
    seconds (None: too few recent departures to say)."""

    interval: float | None
    samples: int

    def wait_minutes(self, position: int) -> int | None:
        """The estimated wait of the ticket at ``position``, in whole minutes (at least 1), or
        None when the pace is unknown. See ``pool_pace``."""
        if self.interval is None:
            return None
        return max(1, math.ceil(position * self.interval / 60))


def pool_pace(*, now: datetime | None = None, department_id: int | None = None) -> PoolPace:
    """The pool's recent pace, from assignment times (one query).

    The formula: take the tickets assigned in the last ``PACE_WINDOW`` (30 minutes) after
    waiting in the pool at least ``PACE_WAITED`` (5 s; one assigned at once found a free slot
    and says nothing about how fast slots free). With ``n`` of them (``n >= PACE_MIN_SAMPLES``)
    and the first assigned at ``t0``, a pool ticket leaves for an agent every
    ``interval = (now - t0) / n`` seconds: the time since the first departure, so a pool that
    has stopped moving reads slower and slower instead of keeping its old pace. The ticket at
    position ``p`` then waits about ``p * interval`` (``PoolPace.wait_minutes``). This is the
    rate at which the whole team frees slots, so the number of active agents and their
    capacity are already in it. Too few departures: no estimate (the page says so) rather
    than an invented one. ``department_id``: the pace of that department's queue, counted
    over the tickets that compete in it (``_competing``), as its places are.
    """
    return pool_paces(now=now, department_ids=[department_id])[department_id]


def pool_paces(
    *, now: datetime | None = None, department_ids: Iterable[int | None]
) -> dict[int | None, PoolPace]:
    """``pool_pace`` of each of ``department_ids`` (None: the whole pool), one query for all."""
    now = now or timezone.now()
    rows = (
        Ticket.objects.filter(
            assigned_at__gte=now - PACE_WINDOW,
            assigned_at__lte=now,
            assigned_at__gt=F("pool_entered_at") + PACE_WAITED,
        )
        .order_by()
        .values_list("department_id")
        .annotate(n=Count("id"), first=Min("assigned_at"))
    )
    by_department = {department_id: (n, first) for department_id, n, first in rows}
    paces: dict[int | None, PoolPace] = {}
    for wanted in set(department_ids):
        counted = [
            found
            for department_id, found in by_department.items()
            if wanted is None or department_id in (wanted, None)
        ]
        n = sum(found[0] for found in counted)
        first = min((found[1] for found in counted), default=None)
        if n < PACE_MIN_SAMPLES or first is None:
            paces[wanted] = PoolPace(interval=None, samples=n)
        else:
            interval = max((now - first).total_seconds(), 1.0) / n
            paces[wanted] = PoolPace(interval=interval, samples=n)
    return paces


def agent_is_active(*, user: User) -> bool:
    """Whether the agent takes new tickets now (no presence row yet: not active)."""
    return AgentPresence.objects.filter(user=user, is_active=True).exists()


def break_list(
    *, agent: User | None = None, since: datetime | None = None, until: datetime | None = None
) -> list[BreakLog]:
    """Logged breaks, newest first; a break still running has ``ended_at`` None."""
    breaks = BreakLog.objects.select_related("agent", "reason").order_by("-started_at", "-id")
    if agent is not None:
        breaks = breaks.filter(agent=agent)
    if since is not None:
        breaks = breaks.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
    if until is not None:
        breaks = breaks.filter(started_at__lt=until)
    return list(breaks)


def agent_choices() -> QuerySet[User]:
    """Users who can hold tickets: agents (with a capacity) and staff."""
    return (
        get_user_model()
        .objects.filter(Q(operator_profile__isnull=False) | Q(is_staff=True), is_active=True)
        .order_by("username")
    )


# --- live counts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int


def status_counts() -> list[Tally]:
    """Tickets per status, every status listed (1 query)."""
    found = dict(
        Ticket.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return [Tally(value, str(label), found.get(value, 0)) for value, label in TicketStatus.choices]


def channel_counts() -> list[Tally]:
    """Tickets per channel, every channel listed (1 query)."""
    found = dict(
        Ticket.objects.order_by()
        .values_list("source")
        .annotate(n=Count("id"))
        .values_list("source", "n")
    )
    return [Tally(value, str(label), found.get(value, 0)) for value, label in ChannelKind.choices]


@dataclass(frozen=True)
class AgentCounts:
    user_id: int | None
    name: str
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def in_order(self) -> list[int]:
        return [self.by_status.get(value, 0) for value in TicketStatus.values]


def agent_counts() -> list[AgentCounts]:
    """Tickets per agent and status; every agent listed, unassigned last (2 queries)."""
    agents = {
        user.pk: AgentCounts(user.pk, user.get_full_name() or user.get_username(), {})
        for user in agent_choices()
    }
    unassigned = AgentCounts(None, "", {})
    rows = (
        Ticket.objects.order_by()
        .values_list("assignee_id", "assignee__username", "status")
        .annotate(n=Count("id"))
    )
    for assignee_id, username, status, n in rows:
        if assignee_id is None:
            row = unassigned
        else:
            row = agents.setdefault(assignee_id, AgentCounts(assignee_id, username, {}))
        row.by_status[status] = n
    return [*agents.values(), unassigned]
