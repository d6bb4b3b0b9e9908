"""Reads over the hourly snapshot tables (``reports.models``) for a period and filters.

A period is a range of local dates in ``TIME_ZONE``; it becomes the UTC hours from the first day's
local midnight to the midnight after the last day, so a day that daylight saving shortens or
lengthens holds 23 or 25 hourly rows. Figures are sums of rows; medians and p90 come from the
histograms summed in SQL (``_hists``), never from hourly medians; each day's sums are cached
under a version that changes when one of its hours is recomputed (``_day_hists``).
Every function runs a fixed number of queries (its docstring says how many).

Ticket figures (``HourlyTicketStat``, ``HourlyActivityStat``) honour every filter; agent figures
(presence, utilisation, breaks) are cut by agent only, so only the agent filter applies to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from configuration.models import ChannelKind
from reports.histogram import hist_merge, hist_percentile
from reports.models import (
    HourlyActivityStat,
    HourlyAgentStat,
    HourlyBreakStat,
    HourlyTicketStat,
    StatsHour,
)

TICKET_SUMS = (
    "created",
    "assigned",
    "resolved",
    "reopened",
    "messages_in",
    "messages_out",
    "offline_messages",
    "first_response_count",
    "first_response_seconds",
    "resolution_count",
    "resolution_seconds",
    "pool_wait_count",
    "pool_wait_seconds",
    "rating_count",
    "rating_sum",
)
HISTS = ("first_response_hist", "resolution_hist", "pool_wait_hist", "rating_hist")


# --- period and filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """Local dates ``first``..``last`` (inclusive) in ``tz``; ``start``/``end`` in UTC."""

    first: date
    last: date
    tz: tzinfo

    @property
    def start(self) -> datetime:
        return local_midnight(day=self.first, tz=self.tz)

    @property
    def end(self) -> datetime:
        return local_midnight(day=self.last + timedelta(days=1), tz=self.tz)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def local_midnight(*, day: date, tz: tzinfo) -> datetime:
    """The UTC instant a local day begins (a zone that skips midnight begins at 01:00)."""
    local = datetime.combine(day, time.min).replace(tzinfo=tz)
    as_utc = local.astimezone(UTC)
    # A skipped midnight round-trips to another wall time: the day begins at the first real one.
    if as_utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        as_utc = datetime.combine(day, time(1)).replace(tzinfo=tz).astimezone(UTC)
    return as_utc


def period_make(*, first: date, last: date, tz: tzinfo | None = None) -> ReportPeriod:
    if last < first:
        first, last = last, first
    return ReportPeriod(first=first, last=last, tz=tz or timezone.get_current_timezone())


@dataclass(frozen=True)
class ReportFilters:
    agent_id: int | None = None
    channel: str = ""
    department_id: int | None = None
    group_type_id: int | None = None
    subject_id: int | None = None

    def q(self, *, agent: str = "agent_id", channel: str = "channel") -> Q:
        """The filters as a condition on rows whose agent and channel columns are named
        ``agent`` and ``channel`` (the snapshots' names by default; a ticket's are
        ``assignee_id`` and ``source``)."""
        q = Q()
        if self.agent_id is not None:
            q &= Q(**{agent: self.agent_id})
        if self.channel:
            q &= Q(**{channel: self.channel})
        if self.department_id is not None:
            q &= Q(department_id=self.department_id)
        if self.group_type_id is not None:
            q &= Q(group_type_id=self.group_type_id)
        if self.subject_id is not None:
            q &= Q(subject_id=self.subject_id)
        return q


def _ticket_rows(
    model: type[HourlyTicketStat] | type[HourlyActivityStat],
    *,
    period: ReportPeriod,
    filters: ReportFilters,
) -> QuerySet[Any]:
    return model.objects.filter(filters.q(), hour__gte=period.start, hour__lt=period.end).order_by()


def _agent_rows(
    model: type[HourlyAgentStat] | type[HourlyBreakStat],
    *,
    period: ReportPeriod,
    filters: ReportFilters,
) -> QuerySet[Any]:
    qs = model.objects.filter(hour__gte=period.start, hour__lt=period.end).order_by()
    if filters.agent_id is not None:
        qs = qs.filter(agent_id=filters.agent_id)
    return qs


# --- histograms summed in SQL ------------------------------------------------------------------


def _hists(
    qs: QuerySet[Any], *, groups: list[str]
) -> dict[tuple[Any, ...], dict[str, dict[str, int]]]:
    """{group values: {hist field: summed histogram}} in one query.

    ``groups`` are annotations of ``qs``. The JSON of every row is expanded and summed by the
    database (PostgreSQL ``jsonb_each_text``, SQLite ``json_each``).
    """
    for name in groups:
        if name not in qs.query.annotations:
            raise ValueError(f"{name} must be an annotation of qs")
    inner_sql, params = qs.values(*groups, *HISTS).query.sql_with_params()
    expand = "jsonb_each_text" if connection.vendor == "postgresql" else "json_each"
    cols = "".join(f"s.{name}, " for name in groups)
    branches = [
        f"SELECT {cols}'{hist}' AS h, j.key AS k, SUM(CAST(j.value AS BIGINT)) AS n "  # noqa: S608
        f"FROM s, {expand}(s.{hist}) AS j GROUP BY {cols}j.key"
        for hist in HISTS
    ]
    # The inner query's columns renamed; values() selects in the order given (Django 5.2).
    names = ", ".join([*groups, *HISTS])
    sql = f"WITH s({names}) AS ({inner_sql}) " + " UNION ALL ".join(branches)  # noqa: S608
    out: dict[tuple[Any, ...], dict[str, dict[str, int]]] = {}
    width = len(groups)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            key, (h, k, n) = tuple(row[:width]), row[width:]
            out.setdefault(key, {}).setdefault(h, {})[str(k)] = int(n)
    return out


HIST_CACHE_SECONDS = 7 * 86400


def _day_versions(period: ReportPeriod) -> dict[date, str]:
    """Per local day of the period, a token that changes whenever one of its hours is
    (re)computed: the latest ``computed_at`` and the number of computed hours (1 query)."""
    rows = (
        StatsHour.objects.filter(hour__gte=period.start, hour__lt=period.end)
        .order_by()
        .annotate(d=TruncDate("hour", tzinfo=period.tz))
        .values("d")
        .annotate(v=Max("computed_at"), n=Count("id"))
    )
    return {_as_date(row["d"]): f"{row['v'].isoformat()}/{row['n']}" for row in rows}


def _day_hists(
    *, period: ReportPeriod, filters: ReportFilters, group: str | None
) -> dict[date, dict[Any, dict[str, dict[str, int]]]]:
    """Per local day: {group value (None without ``group``): {hist field: summed histogram}}.

    Summing the JSON of a month of rows costs the database far more than a page may take, and a
    day's sums change only when one of its hours is recomputed: each day's sums are cached under
    that day's version (``_day_versions``), and the database sums only the days not cached yet
    (usually today), in one query that runs even when it has nothing to read, so a page runs the
    same queries whatever its range and whatever is cached (2 queries).
    """
    versions = _day_versions(period)
    scope = (
        f"{period.tz}:{group}:{filters.agent_id}:{filters.channel}:{filters.department_id}:"
        f"{filters.group_type_id}:{filters.subject_id}"
    )

    def key(day: date) -> str:
        return f"reports:hists:1:{day.isoformat()}:{versions[day]}:{scope}"

    cached = cache.get_many([key(day) for day in period.days if day in versions])
    out: dict[date, dict[Any, dict[str, dict[str, int]]]] = {}
    missing: list[date] = []
    for day in period.days:
        hit = cached.get(key(day)) if day in versions else None
        if hit is None:
            missing.append(day)
        else:
            out[day] = hit
    if missing:
        span = period_make(first=missing[0], last=missing[-1], tz=period.tz)
        start, end = span.start, span.end
    else:
        start = end = period.start  # nothing to read: an empty range, the same one query
    qs = (
        _ticket_rows(HourlyTicketStat, period=period, filters=filters)
        .filter(hour__gte=start, hour__lt=end)
        .annotate(d=TruncDate("hour", tzinfo=period.tz))
    )
    if group:
        qs = qs.annotate(g=F(group))
    fresh: dict[date, dict[Any, dict[str, dict[str, int]]]] = {}
    for values, hists in _hists(qs, groups=["d", "g"] if group else ["d"]).items():
        fresh.setdefault(_as_date(values[0]), {})[values[1] if group else None] = hists
    store = {}
    for day in missing:
        out[day] = fresh.get(day, {})
        if day in versions:
            store[key(day)] = out[day]
    if store:
        cache.set_many(store, HIST_CACHE_SECONDS)
    return out


def _merged(
    days: Mapping[date, Mapping[Any, Mapping[str, Mapping[str, int]]]],
) -> dict[Any, dict[str, dict[str, int]]]:
    """The per-day histograms summed over the days, per group."""
    parts: dict[Any, dict[str, list[Mapping[str, int]]]] = {}
    for groups in days.values():
        for g, hists in groups.items():
            for name, hist in hists.items():
                parts.setdefault(g, {}).setdefault(name, []).append(hist)
    return {
        g: {name: hist_merge(hists) for name, hists in by_name.items()}
        for g, by_name in parts.items()
    }


@dataclass
class Durations:
    """Median and p90 (seconds) of a summed histogram, and the count behind them."""

    count: int = 0
    median: int | None = None
    p90: int | None = None

    @classmethod
    def of(cls, hist: Mapping[str, int]) -> Durations:
        return cls(
            count=sum(hist.values()),
            median=hist_percentile(hist, 0.5),
            p90=hist_percentile(hist, 0.9),
        )


@dataclass
class Ratings:
    count: int = 0
    total: int = 0
    distribution: dict[int, int] = field(default_factory=dict)

    @property
    def average(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None

    @classmethod
    def of(cls, hist: Mapping[str, int]) -> Ratings:
        dist = {star: int(hist.get(str(star), 0)) for star in range(1, 6)}
        return cls(
            count=sum(dist.values()),
            total=sum(star * n for star, n in dist.items()),
            distribution=dist,
        )


@dataclass
class TicketFigures:
    """Summed ticket figures of a group (the whole period, a day, an agent, a channel)."""

    sums: dict[str, int] = field(default_factory=dict)
    first_response: Durations = field(default_factory=Durations)
    resolution: Durations = field(default_factory=Durations)
    pool_wait: Durations = field(default_factory=Durations)
    pool_wait_max: int = 0
    ratings: Ratings = field(default_factory=Ratings)

    def __getattr__(self, name: str) -> int:
        if name in TICKET_SUMS:
            return self.sums.get(name, 0)
        raise AttributeError(name)

    @property
    def is_empty(self) -> bool:
        return not any(self.sums.values())


def _figures(sums: Mapping[str, Any], hists: Mapping[str, Mapping[str, int]]) -> TicketFigures:
    return TicketFigures(
        sums={name: int(sums.get(name) or 0) for name in TICKET_SUMS},
        first_response=Durations.of(hists.get("first_response_hist", {})),
        resolution=Durations.of(hists.get("resolution_hist", {})),
        pool_wait=Durations.of(hists.get("pool_wait_hist", {})),
        pool_wait_max=int(sums.get("pool_wait_max") or 0),
        ratings=Ratings.of(hists.get("rating_hist", {})),
    )


def _sum_kwargs() -> dict[str, Any]:
    kwargs: dict[str, Any] = {name: Sum(name) for name in TICKET_SUMS}
    kwargs["pool_wait_max"] = Max("pool_wait_max")
    return kwargs


# --- ticket figures ----------------------------------------------------------------------------


def ticket_totals(*, period: ReportPeriod, filters: ReportFilters) -> TicketFigures:
    """The period's ticket figures with medians and p90 (3 queries)."""
    qs = _ticket_rows(HourlyTicketStat, period=period, filters=filters)
    sums = qs.aggregate(**_sum_kwargs())
    hists = _merged(_day_hists(period=period, filters=filters, group=None))
    return _figures(sums, hists.get(None, {}))


@dataclass
class Grouped:
    key: Any
    label: str
    figures: TicketFigures


def _agent_label(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or username or ""


def ticket_by_agent(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per agent (None: no agent), busiest first (3 queries)."""
    qs = _ticket_rows(HourlyTicketStat, period=period, filters=filters)
    rows = qs.values(
        "agent_id", "agent__first_name", "agent__last_name", "agent__username"
    ).annotate(**_sum_kwargs())
    hists = _merged(_day_hists(period=period, filters=filters, group="agent_id"))
    out = [
        Grouped(
            key=row["agent_id"],
            label=_agent_label(
                row["agent__first_name"], row["agent__last_name"], row["agent__username"]
            ),
            figures=_figures(row, hists.get(row["agent_id"], {})),
        )
        for row in rows
    ]
    return sorted(out, key=lambda g: (g.key is None, -g.figures.assigned, g.label))


def ticket_by_channel(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per channel kind, busiest first (3 queries)."""
    labels = dict(ChannelKind.choices)
    qs = _ticket_rows(HourlyTicketStat, period=period, filters=filters)
    rows = qs.values("channel").annotate(**_sum_kwargs())
    hists = _merged(_day_hists(period=period, filters=filters, group="channel"))
    out = [
        Grouped(
            key=row["channel"],
            label=str(labels.get(row["channel"], row["channel"] or "-")),
            figures=_figures(row, hists.get(row["channel"], {})),
        )
        for row in rows
    ]
    return sorted(out, key=lambda g: (-g.figures.created, g.label))


def ticket_by_day(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per local day, every day of the period listed (3 queries)."""
    qs = _ticket_rows(HourlyTicketStat, period=period, filters=filters).annotate(
        g=TruncDate("hour", tzinfo=period.tz)
    )
    rows = {row["g"]: row for row in qs.values("g").annotate(**_sum_kwargs())}
    hists = {
        day: groups.get(None, {})
        for day, groups in _day_hists(period=period, filters=filters, group=None).items()
    }
    return [
        Grouped(
            key=day, label=day.isoformat(), figures=_figures(rows.get(day, {}), hists.get(day, {}))
        )
        for day in period.days
    ]


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class HourVolume:
    hour: int
    created: int
    messages_in: int
    messages_out: int


def ticket_by_hour_of_day(*, period: ReportPeriod, filters: ReportFilters) -> list[HourVolume]:
    """Volume per local hour of the day (0-23) over the period (1 query)."""
    qs = _ticket_rows(HourlyTicketStat, period=period, filters=filters).annotate(
        h=ExtractHour("hour", tzinfo=period.tz)
    )
    rows = {
        row["h"]: row
        for row in qs.values("h").annotate(
            c=Sum("created"), i=Sum("messages_in"), o=Sum("messages_out")
        )
    }
    return [
        HourVolume(
            hour=h,
            created=int(rows.get(h, {}).get("c") or 0),
            messages_in=int(rows.get(h, {}).get("i") or 0),
            messages_out=int(rows.get(h, {}).get("o") or 0),
        )
        for h in range(24)
    ]


# --- agents: presence and utilisation ----------------------------------------------------------


@dataclass(frozen=True)
class AgentTime:
    agent_id: int
    label: str
    active_seconds: int
    passive_seconds: int
    away_seconds: int
    slot_seconds: int
    capacity_seconds: int

    @property
    def utilisation(self) -> float | None:
        """Slots used over capacity while active, in percent (None: never active)."""
        if not self.capacity_seconds:
            return None
        return round(100 * self.slot_seconds / self.capacity_seconds, 1)


def agent_time(*, period: ReportPeriod, filters: ReportFilters) -> list[AgentTime]:
    """Time per state and utilisation per agent, by name (1 query)."""
    rows = (
        _agent_rows(HourlyAgentStat, period=period, filters=filters)
        .values("agent_id", "agent__first_name", "agent__last_name", "agent__username")
        .annotate(
            a=Sum("active_seconds"),
            p=Sum("passive_seconds"),
            w=Sum("away_seconds"),
            s=Sum("slot_seconds"),
            c=Sum("capacity_seconds"),
        )
    )
    out = [
        AgentTime(
            agent_id=row["agent_id"],
            label=_agent_label(
                row["agent__first_name"], row["agent__last_name"], row["agent__username"]
            ),
            active_seconds=int(row["a"] or 0),
            passive_seconds=int(row["p"] or 0),
            away_seconds=int(row["w"] or 0),
            slot_seconds=int(row["s"] or 0),
            capacity_seconds=int(row["c"] or 0),
        )
        for row in rows
    ]
    return sorted(out, key=lambda a: a.label)


def utilisation_total(rows: Iterable[AgentTime]) -> float | None:
    slots = capacity = 0
    for row in rows:
        slots += row.slot_seconds
        capacity += row.capacity_seconds
    return round(100 * slots / capacity, 1) if capacity else None


# --- breaks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakFigures:
    key: Any
    label: str
    seconds: int
    started: int
    over_limit: int


def breaks_by_reason(*, period: ReportPeriod, filters: ReportFilters) -> list[BreakFigures]:
    """Break time, breaks begun and breaks over their limit per reason, longest first (1 query)."""
    rows = (
        _agent_rows(HourlyBreakStat, period=period, filters=filters)
        .values("reason_id", "reason_text")
        .annotate(s=Sum("seconds"), n=Sum("started"), o=Sum("over_limit"))
    )
    merged: dict[Any, BreakFigures] = {}
    for row in rows:
        key = row["reason_id"] if row["reason_id"] is not None else row["reason_text"]
        old = merged.get(key)
        merged[key] = BreakFigures(
            key=key,
            label=(old.label if old and old.label else row["reason_text"]) or "",
            seconds=int(row["s"] or 0) + (old.seconds if old else 0),
            started=int(row["n"] or 0) + (old.started if old else 0),
            over_limit=int(row["o"] or 0) + (old.over_limit if old else 0),
        )
    return sorted(merged.values(), key=lambda b: (-b.seconds, b.label))


def breaks_by_agent(*, period: ReportPeriod, filters: ReportFilters) -> list[BreakFigures]:
    """Break time, breaks begun and over their limit per agent, longest first (1 query)."""
    rows = (
        _agent_rows(HourlyBreakStat, period=period, filters=filters)
        .values("agent_id", "agent__first_name", "agent__last_name", "agent__username")
        .annotate(s=Sum("seconds"), n=Sum("started"), o=Sum("over_limit"))
    )
    out = [
        BreakFigures(
            key=row["agent_id"],
            label=_agent_label(
                row["agent__first_name"], row["agent__last_name"], row["agent__username"]
            ),
            seconds=int(row["s"] or 0),
            started=int(row["n"] or 0),
            over_limit=int(row["o"] or 0),
        )
        for row in rows
    ]
    return sorted(out, key=lambda b: (-b.seconds, b.label))


# --- activities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityFigures:
    category: str
    subcategory: str
    count: int
    call_seconds: int

    @property
    def average_call_seconds(self) -> int | None:
        return round(self.call_seconds / self.count) if self.count else None


def activities_by_category(
    *, period: ReportPeriod, filters: ReportFilters
) -> list[ActivityFigures]:
    """Activities done and their call time per category and subcategory (1 query)."""
    rows = (
        _ticket_rows(HourlyActivityStat, period=period, filters=filters)
        .values("category__name", "subcategory__name")
        .annotate(n=Sum("count"), s=Sum("call_seconds"))
    )
    out = [
        ActivityFigures(
            category=row["category__name"] or "",
            subcategory=row["subcategory__name"] or "",
            count=int(row["n"] or 0),
            call_seconds=int(row["s"] or 0),
        )
        for row in rows
    ]
    return sorted(out, key=lambda a: (-a.count, a.category, a.subcategory))


# --- freshness ---------------------------------------------------------------------------------


def stats_last_refreshed() -> datetime | None:
    """When the hourly job last computed an hour (1 query)."""
    at: datetime | None = StatsHour.objects.order_by().aggregate(at=Max("computed_at"))["at"]
    return at
