"""Reads of agent presence: time per state and break reason, overrun breaks, the team's
states, and what reached an agent while they were away."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tickets.models import AgentPresence, Message, PresenceLog, PresenceState, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# --- time per state -------------------------------------------------------------------------


@dataclass(frozen=True)
class PresenceTime:
    agent_id: int
    state: str
    reason_id: int | None
    reason: str
    seconds: float


def presence_time(
    *,
    since: datetime,
    until: datetime,
    agent_ids: list[int] | None = None,
    now: datetime | None = None,
) -> list[PresenceTime]:
    """Seconds each agent spent in each state (and, on a break, per reason) within
    ``[since, until)``, from the presence log; a state still running counts up to ``now``.
    One query; the rows are clipped to the range here."""
    now = now or timezone.now()
    rows = PresenceLog.objects.filter(started_at__lt=until).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=since)
    )
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=agent_ids)
    totals: dict[tuple[int, str, int | None, str], float] = defaultdict(float)
    for agent_id, state, reason_id, reason, started, ended in rows.values_list(
        "agent_id", "state", "reason_id", "reason_text", "started_at", "ended_at"
    ):
        end = min(ended or now, until)
        start = max(started, since)
        if end > start:
            totals[(agent_id, state, reason_id, reason)] += (end - start).total_seconds()
    return [
        PresenceTime(agent_id=a, state=s, reason_id=r, reason=text, seconds=seconds)
        for (a, s, r, text), seconds in sorted(totals.items(), key=lambda kv: kv[0][:2])
    ]


# --- breaks over their allowed length -------------------------------------------------------


@dataclass(frozen=True)
class Overrun:
    """A break running longer than its reason allows."""

    user_id: int
    reason: str
    started_at: datetime
    allowed_minutes: int
    over: timedelta


def _overrun(presence: AgentPresence, now: datetime) -> Overrun | None:
    reason = presence.break_reason
    if presence.current_state != PresenceState.PASSIVE or reason is None:
        return None
    if reason.max_minutes is None:
        return None
    started = presence.state_since or presence.changed_at
    over = now - started - timedelta(minutes=reason.max_minutes)
    if over <= timedelta(0):
        return None
    return Overrun(
        user_id=presence.user_id,
        reason=reason.name,
        started_at=started,
        allowed_minutes=reason.max_minutes,
        over=over,
    )


def presence_overrun(*, presence: AgentPresence, now: datetime | None = None) -> Overrun | None:
    """This agent's break, if it runs over its reason's allowed length."""
    return _overrun(presence, now or timezone.now())


def breaks_overrun(*, now: datetime | None = None) -> list[Overrun]:
    """Every break running over its reason's allowed length, longest over first (1 query)."""
    now = now or timezone.now()
    rows = AgentPresence.objects.filter(
        is_active=False, break_reason__max_minutes__isnull=False
    ).select_related("break_reason")
    found = [o for o in (_overrun(p, now) for p in rows) if o is not None]
    return sorted(found, key=lambda o: o.over, reverse=True)


# --- "while you were away" ------------------------------------------------------------------


def missed_window(*, presence: AgentPresence | None) -> tuple[datetime, datetime] | None:
    """From when to when the agent last was not active, once they are active again."""
    if presence is None or not presence.is_active:
        return None
    if presence.absent_from is None or presence.absent_until is None:
        return None
    return presence.absent_from, presence.absent_until


def tickets_missed_q(*, user: User, presence: AgentPresence | None = None) -> Q:
    """Tickets the agent held while they were last away or on a break and whose customer wrote
    meanwhile (a ``Q`` for ``Ticket``; matches nothing when there is no such time).
    ``presence``: the agent's, when already loaded."""
    if presence is None:
        presence = AgentPresence.objects.filter(user=user).first()
    window = missed_window(presence=presence)
    if window is None:
        return Q(pk__in=[])
    start, end = window
    wrote = Message.objects.filter(
        ticket_id=OuterRef("pk"),
        direction=Message.Direction.INBOUND,
        created_at__gte=start,
        created_at__lte=end,
    )
    # Tickets given to them on their return (the pool drained) come as new assignments.
    theirs = Q(assignee=user) & (Q(assigned_at__isnull=True) | Q(assigned_at__lt=end))
    return theirs & Q(Exists(wrote))


def missed_unread_count(*, user: User, presence: AgentPresence | None = None) -> int:
    """How many of those the agent has not opened yet (the top bar's count)."""
    if presence is None:
        presence = AgentPresence.objects.filter(user=user).first()
    if missed_window(presence=presence) is None:
        return 0
    missed = tickets_missed_q(user=user, presence=presence)
    return Ticket.objects.filter(missed, unread=True).count()
