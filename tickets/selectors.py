"""Reads of tickets and of who works them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from configuration.models import ChannelKind
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
    return list(
        Ticket.objects.filter(assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False)
        .select_related("customer", "channel_account")
        .order_by("priority_rank", "created_at", "id")[:limit]
    )


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
