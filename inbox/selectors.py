"""Reads behind the agent screens: homepage, inbox, tickets list, ticket page, live counts.

Every function here runs a fixed number of SQL queries whatever the amount of data, and lists
are keyset-paginated on ``(last_message_at, id)``: never OFFSET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet

from customers.models import Customer
from inbox import pagination
from inbox.pagination import Column, Page, keyset_page
from tickets.models import (
    ACTIVE_STATUSES,
    SLOT_STATUSES,
    Message,
    Tag,
    Ticket,
    TicketStatus,
)
from tickets.presence_selectors import tickets_missed_q
from tickets.selectors import (
    HomeCounts,
    Tally,
    TeamMember,
    channel_counts,
    home_counts,
    status_counts,
    team_list,
)
from tickets.team_selectors import PoolQueue, pool_by_department

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

PAGE_SIZE = 25
HOME_LIST_SIZE = 5
HOME_WORKS_SIZE = 20

# --- orders ---------------------------------------------------------------------------------

#: The orders a list can be sorted by; each ends with the primary key, so it is total.
SORTS: dict[str, tuple[Column, ...]] = {
    "recent": (Column("last_message_at", True, nullable=True), Column("id", True)),
    "created": (Column("created_at", True), Column("id", True)),
    "priority": (Column("priority_rank", False), Column("created_at", False), Column("id", False)),
}
#: The pool: waiting for a free slot, most urgent first, then in order of arrival.
POOL_SORT = "priority"


def cursor_encode(ticket: Ticket, sort: str = "recent") -> str:
    """The ticket's position in a sort order (``inbox.pagination``).

    For the default order that is ``<microseconds of last_message_at>.<id>``, which is also
    the ``data-sort`` key the live list uses to place a pushed row.
    """
    return pagination.cursor_encode(ticket, SORTS[sort])


def _keyset(
    queryset: QuerySet[Ticket], *, cursor: str | None, limit: int, sort: str = "recent"
) -> Page[Ticket]:
    return keyset_page(queryset, columns=SORTS[sort], cursor=cursor, limit=limit)


def _ticket_rows() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("customer", "assignee")


def _list_rows(*, department: bool = False) -> QuerySet[Ticket]:
    """What one row of the inbox (or, with its department, of the tickets list) shows: 2 queries
    for any number of rows. The inbox row shows no department: one join less to plan."""
    related = ("customer", "assignee", "department") if department else ("customer", "assignee")
    return Ticket.objects.select_related(*related).prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


# --- filters and search ---------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilters:
    """What the agent narrowed a list to. Empty values mean "any"."""

    tab: str = "all"
    status: str = ""
    channel: str = ""
    department_id: int | None = None
    group_type_id: int | None = None
    subject_id: int | None = None
    tag_id: int | None = None
    tag: str = ""  # a tag's name (any case), or its id
    assignee_id: int | None = None
    unassigned: bool = False
    query: str = ""
    missed: bool = False  # the agent's tickets customers wrote to while they were away


_WORD = re.compile(r"\w+", re.UNICODE)


def _search_query(text: str) -> SearchQuery | None:
    """Every word as a prefix (``kargo`` finds ``kargom``); punctuation cannot inject syntax."""
    words = _WORD.findall(text.lower())[:8]
    if not words:
        return None
    return SearchQuery(
        " & ".join(f"{word}:*" for word in words), config="simple", search_type="raw"
    )


def _message_matches(text: str) -> QuerySet[Message]:
    """Messages holding every word: full-text (GIN index) on PostgreSQL, substrings elsewhere."""
    if connection.vendor == "postgresql":
        query = _search_query(text)
        if query is None:
            return Message.objects.none()
        return Message.objects.annotate(document=SearchVector("body", config="simple")).filter(
            document=query
        )
    matches = Message.objects.all()
    for word in text.split()[:8]:
        matches = matches.filter(body__icontains=word)
    return matches


def _search(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    """By customer name, phone or e-mail (any identity), ticket number, or message text."""
    text = text.strip()[:200]
    if not text:
        return queryset
    customers = Customer.objects.filter(
        Q(name__icontains=text)
        | Q(email__icontains=text)
        | Q(phone__icontains=text)
        | Q(identities__external_id__icontains=text)
        | Q(identities__display__icontains=text)
    ).values("pk")
    matches = Q(customer_id__in=customers) | Q(pk__in=_message_matches(text).values("ticket_id"))
    number = text.removeprefix("#")
    if number.isdigit() and len(number) < 12:
        matches |= Q(pk=int(number))
    return queryset.filter(matches)


def ticket_filter(
    queryset: QuerySet[Ticket], *, filters: TicketFilters, user: User | None
) -> QuerySet[Ticket]:
    if filters.tab == "mine":
        queryset = queryset.filter(assignee=user)
    elif filters.tab == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.tab == "pool":
        queryset = queryset.filter(
            assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False
        )
    elif filters.tab == "offline":
        queryset = queryset.filter(is_offline=True, status=TicketStatus.OPEN)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.channel:
        queryset = queryset.filter(source=filters.channel)
    if filters.department_id is not None:
        queryset = queryset.filter(department_id=filters.department_id)
    if filters.group_type_id is not None:
        queryset = queryset.filter(group_type_id=filters.group_type_id)
    if filters.subject_id is not None:
        queryset = queryset.filter(subject_id=filters.subject_id)
    tagged = Ticket.tags.through.objects
    if filters.tag_id is not None:
        queryset = queryset.filter(pk__in=tagged.filter(tag_id=filters.tag_id).values("ticket_id"))
    if filters.tag:
        named = Q(tag__name__iexact=filters.tag)
        if filters.tag.isdigit() and len(filters.tag) < 12:
            named |= Q(tag_id=int(filters.tag))
        queryset = queryset.filter(pk__in=tagged.filter(named).values("ticket_id"))
    if filters.unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    elif filters.assignee_id is not None:
        queryset = queryset.filter(assignee_id=filters.assignee_id)
    if filters.missed and user is not None:
        queryset = queryset.filter(tickets_missed_q(user=user))
    return _search(queryset, filters.query)


# --- inbox and tickets list -----------------------------------------------------------------


def inbox_rows(
    *,
    user: User,
    filters: TicketFilters | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[Ticket]:
    """One page of the universal inbox: active tickets (any status when one is asked for).

    The pool tab is ordered as the pool is served (priority, then arrival); every other tab
    shows the most recent conversation first. Rows never depend on the viewing agent.
    """
    filters = filters or TicketFilters()
    queryset = _list_rows()
    if not filters.status:
        queryset = queryset.filter(status__in=ACTIVE_STATUSES)
    queryset = ticket_filter(queryset, filters=filters, user=user)
    return _keyset(queryset, cursor=cursor, limit=limit or PAGE_SIZE, sort=inbox_sort(filters))


def inbox_sort(filters: TicketFilters) -> str:
    """The order of an inbox tab: the pool as it is served, the others newest first."""
    return POOL_SORT if filters.tab == "pool" else "recent"


def inbox_row(ticket_id: int) -> Ticket | None:
    """One ticket as a list row (2 queries), for pushes; None when it is gone."""
    return _list_rows().filter(pk=ticket_id).first()


def inbox_rows_by_id(ticket_ids: list[int]) -> dict[int, Ticket]:
    """Tickets as list rows by id (2 queries whatever their number), for a batch of pushes;
    the gone are left out."""
    return {ticket.pk: ticket for ticket in _list_rows().filter(pk__in=ticket_ids)}


def ticket_list_page(
    *,
    filters: TicketFilters | None = None,
    sort: str = "recent",
    cursor: str | None = None,
    limit: int | None = None,
    user: User | None = None,
) -> Page[Ticket]:
    """Every ticket, filtered, in one of ``SORTS`` (most recent conversation by default)."""
    filters = filters or TicketFilters()
    if sort not in SORTS:
        sort = "recent"
    queryset = ticket_filter(_list_rows(department=True), filters=filters, user=user)
    return _keyset(queryset, cursor=cursor, limit=limit or PAGE_SIZE, sort=sort)


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
    #: The pool per department, largest first ("no department" too): the team screen's.
    pool_queues: list[PoolQueue] = field(default_factory=list)

    @property
    def active_agents(self) -> int:
        return sum(1 for member in self.team if member.is_active)

    @property
    def team_free(self) -> int:
        """Free slots of the agents who take tickets now."""
        return sum(member.free for member in self.team if member.is_active)


def home_offline() -> tuple[int, list[Ticket]]:
    """The homepage's offline-messages card: how many open offline messages, the newest few.
    Two queries (the card's live refresh)."""
    queryset = _ticket_rows().filter(is_offline=True, status=TicketStatus.OPEN)
    rows = list(queryset.order_by("-created_at", "-id")[:HOME_LIST_SIZE])
    count = len(rows) if len(rows) < HOME_LIST_SIZE else queryset.count()
    return count, rows


def home_page(*, user: User) -> HomePage:
    """Everything the homepage shows, in 8 queries whatever the number of tickets, agents or
    departments."""
    team = team_list()
    me = next((member for member in team if member.user_id == user.pk), None)
    my_works = list(
        _ticket_rows()
        .filter(assignee=user, status__in=SLOT_STATUSES)
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")[:HOME_WORKS_SIZE]
    )
    pool = list(
        _ticket_rows()
        .filter(assignee__isnull=True, status__in=SLOT_STATUSES, is_offline=False)
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
        pool_queues=pool_by_department(),
    )


def tickets_changed_since(*, since: datetime) -> bool:
    """Did any ticket change after ``since``? One query on the ``updated_at`` index.

    Any ticket, not only those of a list's filter: a change can also take a row out of it."""
    return Ticket.objects.filter(updated_at__gt=since).exists()
