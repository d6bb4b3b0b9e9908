"""Reads behind the agent screens: homepage, inbox, tickets list, ticket page, live counts.

Every function here runs a fixed number of SQL queries whatever the amount of data, and lists
are keyset-paginated on ``(last_message_at, id)``: never OFFSET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.expressions import OrderBy

from customers.models import Customer
from tickets.models import (
    ACTIVE_STATUSES,
    SLOT_STATUSES,
    Message,
    Tag,
    Ticket,
    TicketStatus,
)
from tickets.selectors import (
    HomeCounts,
    Tally,
    TeamMember,
    channel_counts,
    home_counts,
    status_counts,
    team_list,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PAGE_SIZE = 25
HOME_LIST_SIZE = 5
HOME_WORKS_SIZE = 20

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    next_cursor: str | None


@dataclass(frozen=True)
class Column:
    """One ORDER BY column of a keyset: descending ones may hold NULL (sorted last)."""

    field: str
    descending: bool
    nullable: bool = False


#: The orders a list can be sorted by; each ends with the primary key, so it is total.
SORTS: dict[str, tuple[Column, ...]] = {
    "recent": (Column("last_message_at", True, nullable=True), Column("id", True)),
    "created": (Column("created_at", True), Column("id", True)),
    "priority": (Column("priority_rank", False), Column("created_at", False), Column("id", False)),
}
#: The pool: waiting for a free slot, most urgent first, then in order of arrival.
POOL_SORT = "priority"


def _micros(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _encode_value(value: Any) -> str:
    if value is None:
        return "n"
    if isinstance(value, datetime):
        return str(_micros(value))
    return str(int(value))


def cursor_encode(ticket: Ticket, sort: str = "recent") -> str:
    """The ticket's position in a sort order: ``<value>.<value>…``, ``n`` for NULL.

    For the default order that is ``<microseconds of last_message_at>.<id>``, which is also
    the ``data-sort`` key the live list uses to place a pushed row.
    """
    return ".".join(_encode_value(getattr(ticket, col.field)) for col in SORTS[sort])


def _decode_value(column: Column, raw: str) -> Any:
    if raw == "n":
        if not column.nullable:
            raise ValueError(raw)
        return None
    number = int(raw)
    if column.field.endswith("_at"):
        return _EPOCH + timedelta(microseconds=number)
    return number


def cursor_values(raw: str | None, sort: str = "recent") -> list[Any] | None:
    """The column values a cursor stands for, or None for a missing or malformed cursor."""
    columns = SORTS[sort]
    parts = (raw or "").split(".")
    if not raw or len(parts) != len(columns):
        return None
    try:
        return [_decode_value(col, part) for col, part in zip(columns, parts, strict=True)]
    except (ValueError, OverflowError):
        return None


def cursor_decode(raw: str | None) -> tuple[datetime | None, int] | None:
    """The ``(last_message_at, id)`` a default-order cursor stands for, or None."""
    values = cursor_values(raw, "recent")
    return None if values is None else (values[0], values[1])


def _equal(column: Column, value: Any) -> Q:
    if value is None:
        return Q(**{f"{column.field}__isnull": True})
    return Q(**{column.field: value})


def _beyond(column: Column, value: Any) -> Q:
    """Rows strictly after ``value`` in this column's direction (NULLs come last)."""
    if value is None:
        return Q(pk__in=[])  # nothing sorts after NULL
    op = "lt" if column.descending else "gt"
    beyond = Q(**{f"{column.field}__{op}": value})
    if column.nullable:
        beyond |= Q(**{f"{column.field}__isnull": True})
    return beyond


def _after(columns: tuple[Column, ...], values: list[Any]) -> Q:
    """The keyset condition: lexicographically after ``values`` (no OFFSET, index friendly)."""
    condition = Q(pk__in=[])
    for i, column in enumerate(columns):
        step = _beyond(column, values[i])
        for previous, value in zip(columns[:i], values[:i], strict=True):
            step &= _equal(previous, value)
        condition |= step
    return condition


def _order(column: Column) -> OrderBy:
    if column.descending:
        return F(column.field).desc(nulls_last=True) if column.nullable else F(column.field).desc()
    return F(column.field).asc()


def _keyset(
    queryset: QuerySet[Ticket], *, cursor: str | None, limit: int, sort: str = "recent"
) -> Page:
    columns = SORTS[sort]
    queryset = queryset.order_by(*(_order(col) for col in columns))
    values = cursor_values(cursor, sort)
    if values is not None:
        queryset = queryset.filter(_after(columns, values))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursor_encode(rows[-1], sort) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)


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

INBOX_TABS = ("mine", "unassigned", "pool", "all")


@dataclass(frozen=True)
class TicketFilters:
    """What the agent narrowed a list to. Empty values mean "any"."""

    tab: str = "all"
    status: str = ""
    channel: str = ""
    department_id: int | None = None
    tag_id: int | None = None
    tag: str = ""  # a tag's name (any case), or its id
    assignee_id: int | None = None
    unassigned: bool = False
    query: str = ""


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
        queryset = queryset.filter(assignee__isnull=True, status__in=SLOT_STATUSES)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.channel:
        queryset = queryset.filter(source=filters.channel)
    if filters.department_id is not None:
        queryset = queryset.filter(department_id=filters.department_id)
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
    return _search(queryset, filters.query)


# --- inbox and tickets list -----------------------------------------------------------------


def inbox_rows(
    *,
    user: User,
    filters: TicketFilters | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page:
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


def inbox_page(
    *, user: User, tab: str, cursor: str | None = None, limit: int | None = None
) -> Page:
    """One tab of the inbox without other filters."""
    return inbox_rows(user=user, filters=TicketFilters(tab=tab), cursor=cursor, limit=limit)


def inbox_row(ticket_id: int) -> Ticket | None:
    """One ticket as a list row (2 queries), for pushes; None when it is gone."""
    return _list_rows().filter(pk=ticket_id).first()


def ticket_list_page(
    *,
    filters: TicketFilters | None = None,
    sort: str = "recent",
    cursor: str | None = None,
    limit: int | None = None,
    user: User | None = None,
    **legacy: Any,
) -> Page:
    """Every ticket, filtered, in one of ``SORTS`` (most recent conversation by default)."""
    filters = filters or TicketFilters(**legacy)
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

    @property
    def active_agents(self) -> int:
        return sum(1 for member in self.team if member.is_active)


def home_page(*, user: User) -> HomePage:
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
