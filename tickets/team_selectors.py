"""Reads behind the supervisor's team screen: every agent's state, load and breaks today, and
the pool per department. A fixed number of queries whatever the number of agents or tickets."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from tickets.models import ACTIVE_STATUSES, SLOT_STATUSES, BreakLog, PresenceState, Ticket
from tickets.presence_selectors import Overrun, presence_overrun
from tickets.routing import pool_tickets


@dataclass(frozen=True)
class AgentRow:
    """One agent on the team screen."""

    user_id: int
    name: str
    state: str
    state_label: str
    reason: str
    since: datetime | None
    overrun: Overrun | None
    capacity: int
    works: int
    #: Since when the longest-waiting customer among their open/pending tickets has waited
    #: for a reply (``Ticket.awaiting_reply_since``); None when nobody waits.
    oldest_waiting: datetime | None
    breaks_today: int
    break_time_today: timedelta

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.works)

    @property
    def load_percent(self) -> int:
        if self.capacity <= 0:
            return 100 if self.works else 0
        return min(100, round(100 * self.works / self.capacity))


@dataclass(frozen=True)
class PoolQueue:
    """The pool tickets of one department (``department_id`` None: without a department)."""

    department_id: int | None
    name: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class TeamBoard:
    agents: list[AgentRow]
    pool: list[PoolQueue] = field(default_factory=list)

    @property
    def pool_total(self) -> int:
        return sum(queue.count for queue in self.pool)

    @property
    def active_count(self) -> int:
        return sum(1 for agent in self.agents if agent.state == PresenceState.ACTIVE)

    @property
    def free_total(self) -> int:
        """Free slots of the agents who take tickets now."""
        return sum(agent.free for agent in self.agents if agent.state == PresenceState.ACTIVE)


def _day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def breaks_today(
    *, now: datetime | None = None, agent_ids: list[int] | None = None
) -> dict[int, tuple[int, timedelta]]:
    """``{agent id: (breaks begun or running today, their time today)}``; a break still
    running counts up to now, one begun yesterday from midnight (local time). One query."""
    now = now or timezone.now()
    start = _day_start(now)
    rows = BreakLog.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=agent_ids)
    found: dict[int, tuple[int, timedelta]] = defaultdict(lambda: (0, timedelta(0)))
    for agent_id, started, ended in rows.values_list("agent_id", "started_at", "ended_at"):
        count, total = found[agent_id]
        spent = min(ended or now, now) - max(started, start)
        found[agent_id] = (count + 1, total + max(spent, timedelta(0)))
    return dict(found)


def pool_by_department() -> list[PoolQueue]:
    """How many wait in the pool per department and since when the longest has waited there,
    largest first; "no department" as its own queue. One query."""
    rows = (
        pool_tickets()
        .order_by()
        .values("department_id", "department__name")
        .annotate(n=Count("id"), oldest=Min("pool_entered_at"))
        .order_by("-n", "department__name")
    )
    return [
        PoolQueue(
            department_id=row["department_id"],
            name=row["department__name"] or "",
            count=row["n"],
            oldest=row["oldest"],
        )
        for row in rows
    ]


def team_board(*, now: datetime | None = None) -> TeamBoard:
    """Every agent (a capacity, an active account) with state, reason, since when, load, the
    oldest waiting customer among their tickets and their breaks today; the pool per
    department. Three queries whatever the number of agents."""
    now = now or timezone.now()
    users = list(
        get_user_model()
        .objects.filter(is_active=True, operator_profile__isnull=False)
        .select_related("operator_profile", "presence__break_reason")
        .annotate(
            works=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=SLOT_STATUSES)),
            oldest_waiting=Min(
                "assigned_tickets__awaiting_reply_since",
                filter=Q(assigned_tickets__status__in=SLOT_STATUSES),
            ),
        )
        .order_by("username")
    )
    breaks = breaks_today(now=now)
    labels = dict(PresenceState.choices)
    agents = []
    for user in users:
        presence = getattr(user, "presence", None)
        state = presence.current_state if presence else PresenceState.OFFLINE
        reason = presence.break_reason if presence and state == PresenceState.PASSIVE else None
        count, spent = breaks.get(user.pk, (0, timedelta(0)))
        agents.append(
            AgentRow(
                user_id=user.pk,
                name=user.get_full_name() or user.get_username(),
                state=state,
                state_label=str(labels[state]),
                reason=reason.name if reason else "",
                since=(presence.state_since or presence.changed_at) if presence else None,
                overrun=presence_overrun(presence=presence, now=now) if presence else None,
                capacity=user.operator_profile.capacity,
                works=user.works,
                oldest_waiting=user.oldest_waiting,
                breaks_today=count,
                break_time_today=spent,
            )
        )
    return TeamBoard(agents=agents, pool=pool_by_department())


def agent_works(*, agent_id: int) -> list[Ticket]:
    """The agent's tickets that are not finished (open, pending or waiting), oldest waiting
    customer first: what a supervisor may move. One query."""
    return list(
        Ticket.objects.filter(assignee_id=agent_id, status__in=ACTIVE_STATUSES)
        .select_related("customer")
        .order_by(F("awaiting_reply_since").asc(nulls_last=True), "created_at", "id")
    )
