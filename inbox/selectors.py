"""Reads behind the agent screens: homepage, inbox, tickets list, ticket page, live counts.

Every function here runs a fixed number of SQL queries whatever the amount of data, and lists
are keyset-paginated on ``(last_message_at, id)``: never OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet, prefetch_related_objects
from django.http import Http404

from configuration.models import ActivityCategory, ChannelKind
from customers.models import ShoppingCart
from tickets.models import (
    ACTIVE_STATUSES,
    SLOT_STATUSES,
    Activity,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from tickets.selectors import HomeCounts, TeamMember, home_counts, team_list

PAGE_SIZE = 25
HOME_LIST_SIZE = 5
HOME_WORKS_SIZE = 20

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    next_cursor: str | None


def cursor_encode(ticket: Ticket) -> str:
    """``<microseconds since epoch>.<id>``; ``n.<id>`` for a ticket without messages."""
    if ticket.last_message_at is None:
        return f"n.{ticket.pk}"
    delta = ticket.last_message_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{ticket.pk}"


def cursor_decode(raw: str | None) -> tuple[datetime | None, int] | None:
    """The ``(last_message_at, id)`` a cursor stands for, or None for a missing/bad cursor."""
    if not raw:
        return None
    when, _sep, pk = raw.partition(".")
    try:
        ticket_id = int(pk)
        at = None if when == "n" else _EPOCH + timedelta(microseconds=int(when))
    except (ValueError, OverflowError):
        return None
    return at, ticket_id


def _keyset(queryset: QuerySet[Ticket], *, cursor: str | None, limit: int) -> Page:
    """Newest conversation first; tickets without any message come last."""
    queryset = queryset.order_by(F("last_message_at").desc(nulls_last=True), "-id")
    position = cursor_decode(cursor)
    if position is not None:
        at, ticket_id = position
        if at is None:
            queryset = queryset.filter(last_message_at__isnull=True, id__lt=ticket_id)
        else:
            queryset = queryset.filter(
                Q(last_message_at__lt=at)
                | Q(last_message_at=at, id__lt=ticket_id)
                | Q(last_message_at__isnull=True)
            )
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=cursor_encode(rows[-1]) if has_more and rows else None)


def _ticket_rows() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("customer", "assignee")


# --- inbox and tickets list -----------------------------------------------------------------

INBOX_TABS = ("mine", "unassigned", "all")


def inbox_page(*, user, tab: str, cursor: str | None = None, limit: int | None = None) -> Page:
    """Active tickets (not resolved or closed) for one tab of the inbox."""
    queryset = _ticket_rows().filter(status__in=ACTIVE_STATUSES)
    if tab == "mine":
        queryset = queryset.filter(assignee=user)
    elif tab == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    return _keyset(queryset, cursor=cursor, limit=limit or PAGE_SIZE)


def ticket_list_page(
    *,
    status: str = "",
    channel: str = "",
    assignee_id: int | None = None,
    unassigned: bool = False,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page:
    """Every ticket, filtered, most recent conversation first."""
    queryset = _ticket_rows()
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(source=channel)
    if unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee_id is not None:
        queryset = queryset.filter(assignee_id=assignee_id)
    return _keyset(queryset, cursor=cursor, limit=limit or PAGE_SIZE)


def agent_choices() -> QuerySet:
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


# --- homepage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HomePage:
    team: list[TeamMember]
    me: TeamMember | None
    counts: HomeCounts
    my_works: list[Ticket]
    pool: list[Ticket]
    offline: list[Ticket]
    by_status: list[Tally]
    by_channel: list[Tally]

    @property
    def active_agents(self) -> int:
        return sum(1 for member in self.team if member.is_active)


def home_page(*, user) -> HomePage:
    """Everything the homepage shows, in 7 queries whatever the number of tickets."""
    team = team_list()
    me = next((member for member in team if member.user_id == user.pk), None)
    my_works = list(
        _ticket_rows()
        .filter(assignee=user, status__in=SLOT_STATUSES)
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")[:HOME_WORKS_SIZE]
    )
    pool = list(
        _ticket_rows()
        .filter(assignee__isnull=True, status__in=SLOT_STATUSES)
        .order_by("priority_rank", "created_at", "id")[:HOME_LIST_SIZE]
    )
    offline = list(
        _ticket_rows()
        .filter(is_offline=True, status=TicketStatus.OPEN)
        .order_by("-created_at", "-id")[:HOME_LIST_SIZE]
    )
    return HomePage(
        team=team,
        me=me,
        counts=home_counts(user=user),
        my_works=my_works,
        pool=pool,
        offline=offline,
        by_status=status_counts(),
        by_channel=channel_counts(),
    )


# --- the ticket page ------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketPage:
    ticket: Ticket
    messages: list[Message]
    activities: list[Activity]
    events: list[TicketEvent]
    cart: ShoppingCart | None
    categories: list[ActivityCategory]

    @property
    def open_activities(self) -> int:
        return sum(1 for activity in self.activities if activity.status == Activity.Status.OPEN)


def ticket_get(*, ticket_id: int, user) -> Ticket:
    """The ticket an agent may work on, or 404. Every signed-in agent sees every ticket."""
    if not user.is_authenticated:
        raise Http404
    ticket = (
        Ticket.objects.select_related(
            "customer", "assignee", "channel_account", "subject", "group_type", "department"
        )
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        raise Http404
    return ticket


def ticket_page(*, ticket_id: int, user) -> TicketPage:
    """The conversation and side panel of one ticket (fixed number of queries)."""
    ticket = ticket_get(ticket_id=ticket_id, user=user)
    messages = list(
        ticket.messages.select_related("author")
        .prefetch_related("attachments")
        .order_by("sent_at", "id")
    )
    activities = list(
        ticket.activities.select_related("category", "subcategory", "agent").order_by(
            "created_at", "id"
        )
    )
    events = list(ticket.events.select_related("actor").order_by("-created_at", "-id")[:20])
    prefetch_related_objects([ticket], "tags", "customer__identities")
    cart = ShoppingCart.objects.filter(customer_id=ticket.customer_id).first()
    categories = list(
        ActivityCategory.objects.filter(is_active=True)
        .select_related("parent")
        .order_by(F("parent_id").asc(nulls_first=True), "position", "name")
    )
    return TicketPage(
        ticket=ticket,
        messages=messages,
        activities=activities,
        events=events,
        cart=cart,
        categories=categories,
    )


def activity_get(*, ticket: Ticket, activity_id: int) -> Activity:
    activity = Activity.objects.filter(ticket=ticket, pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


def message_get(*, ticket: Ticket, message_id: int) -> Message:
    message = Message.objects.filter(ticket=ticket, pk=message_id).first()
    if message is None:
        raise Http404
    return message
