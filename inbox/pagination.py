"""Keyset pagination for every list of the agent screens (inbox, tickets list, conversation).

Why keysets and not OFFSET: a page is found by the position of the last row shown, through an
index, so page 100 costs what page 1 costs and a row that arrives meanwhile never shifts the
next page (no row repeated or skipped). A position travels as a cursor, ``<value>.<value>…``
with one value per column of the order (a time as microseconds since 1970, ``n`` for NULL); the
live inbox also uses it as a row's ``data-sort`` key to place a pushed row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db.models import F, Model, Q, QuerySet

RowT = TypeVar("RowT", bound=Model)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Column:
    """One ORDER BY column of a keyset: descending ones may hold NULL (sorted last). A field
    named ``*_at`` is a time."""

    field: str
    descending: bool
    nullable: bool = False


@dataclass(frozen=True)
class Page(Generic[RowT]):
    items: list[RowT]
    next_cursor: str | None


def _micros(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _encode_value(value: Any) -> str:
    if value is None:
        return "n"
    if isinstance(value, datetime):
        return str(_micros(value))
    return str(int(value))


def cursor_encode(row: Model, columns: Sequence[Column]) -> str:
    """The row's position in the order ``columns``."""
    return ".".join(_encode_value(getattr(row, col.field)) for col in columns)


def _decode_value(column: Column, raw: str) -> Any:
    if raw == "n":
        if not column.nullable:
            raise ValueError(raw)
        return None
    number = int(raw)
    if column.field.endswith("_at"):
        return _EPOCH + timedelta(microseconds=number)
    return number


def cursor_decode(raw: str | None, columns: Sequence[Column]) -> list[Any] | None:
    """The column values a cursor stands for, or None for a missing or malformed cursor (a
    hand-edited URL shows the first page rather than an error)."""
    parts = (raw or "").split(".")
    if not raw or len(parts) != len(columns):
        return None
    try:
        return [_decode_value(col, part) for col, part in zip(columns, parts, strict=True)]
    except (ValueError, OverflowError):
        return None


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


def _after(columns: Sequence[Column], values: list[Any]) -> Q:
    """The keyset condition: lexicographically after ``values`` (no OFFSET, index friendly)."""
    condition = Q(pk__in=[])
    for i, column in enumerate(columns):
        step = _beyond(column, values[i])
        for previous, value in zip(columns[:i], values[:i], strict=True):
            step &= _equal(previous, value)
        condition |= step
    return condition


def _order(column: Column):
    if column.descending:
        return F(column.field).desc(nulls_last=True) if column.nullable else F(column.field).desc()
    return F(column.field).asc()


def keyset_page(
    queryset: QuerySet[RowT], *, columns: Sequence[Column], cursor: str | None, limit: int
) -> Page[RowT]:
    """The ``limit`` rows after ``cursor`` in the order ``columns`` (which must end with the
    primary key, so the order is total), and the cursor of the next page if there is one.
    One query: a row more than the page is read to know whether another page follows."""
    queryset = queryset.order_by(*(_order(col) for col in columns))
    values = cursor_decode(cursor, columns)
    if values is not None:
        queryset = queryset.filter(_after(columns, values))
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursor_encode(rows[-1], columns) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)
