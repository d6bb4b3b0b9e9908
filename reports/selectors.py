"""Reads over the hourly snapshot tables (``reports.models``) for a period and filters.

A period is a range of local dates in ``TIME_ZONE``; it becomes the UTC hours from the first day's
local midnight to the midnight after the last day, so a day that daylight saving shortens or
lengthens holds 23 or 25 hourly rows. Figures are sums of rows; medians and p90 come from the
histograms summed in SQL, never from hourly medians. Ticket figures and presence are summed per
local day once and cached under a version that changes when one of the day's hours is recomputed
(``reports.day_sums``); a page derives its totals, days, groups and hours of the day from them.
Every function runs a fixed number of queries (its docstring says how many).

Ticket figures (``HourlyTicketStat``, ``HourlyActivityStat``) honour every filter; agent figures
(presence, utilisation, breaks) are cut by agent only, so only the agent filter applies to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from configuration.models import ActivityCategory, ChannelKind
from reports.day_sums import (
    TICKET_MAX,
    TICKET_SUMS,
    DayParts,
    PeriodSums,
    TicketSums,
    period_sums_read,
)
from reports.histogram import hist_merge, hist_percentile
from reports.models import HourlyBreakStat, StatsHour

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


def _agent_rows(
    model: type[HourlyBreakStat],
    *,
    period: ReportPeriod,
    filters: ReportFilters,
) -> QuerySet[Any]:
    qs = model.objects.filter(hour__gte=period.start, hour__lt=period.end).order_by()
    if filters.agent_id is not None:
        qs = qs.filter(agent_id=filters.agent_id)
    return qs


# --- per-day sums, cached (reports.day_sums) -------------------------------------------------


def _fold(parts: Iterable[TicketSums]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Summed columns (the max for ``pool_wait_max``) and merged histograms of several parts."""
    sums: dict[str, int] = {}
    hists: dict[str, list[Mapping[str, int]]] = {}
    for part in parts:
        for name, n in part.sums.items():
            sums[name] = max(sums.get(name, 0), n) if name == TICKET_MAX else sums.get(name, 0) + n
        for name, hist in part.hists.items():
            hists.setdefault(name, []).append(hist)
    return sums, {name: hist_merge(merged) for name, merged in hists.items()}


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


@dataclass
class Grouped:
    key: Any
    label: str
    figures: TicketFigures


@dataclass(frozen=True)
class HourVolume:
    hour: int
    created: int
    messages_in: int
    messages_out: int


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


def _agent_label(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or username or ""


def _agent_names(ids: Iterable[int]) -> dict[int, str]:
    """Agents' names by id (1 query, also when there is no id: the count stays fixed)."""
    wanted = sorted(ids) or [0]
    rows = get_user_model().objects.filter(pk__in=wanted).order_by()
    return {
        pk: _agent_label(first, last, username)
        for pk, first, last, username in rows.values_list(
            "pk", "first_name", "last_name", "username"
        )
    }


@dataclass
class ReportDays:
    """A period's sums (``reports.day_sums``) and the figures a page draws from them, with no
    further query but the agents' names (read once, on first use)."""

    period: ReportPeriod
    sums: PeriodSums
    _names: dict[int, str] | None = None

    def names(self) -> dict[int, str]:
        if self._names is None:
            ids = {g for g in self.sums.groups if isinstance(g, int)} | set(self.sums.agents)
            self._names = _agent_names(ids)
        return self._names

    def totals(self) -> TicketFigures:
        """The period's ticket figures, whatever the grouping the days were summed by."""
        return _figures(*_fold(self.sums.groups.values()))

    def by_day(self) -> list[Grouped]:
        """Ticket figures per local day, every day of the period listed (summed without a
        group)."""
        empty = TicketSums(sums={}, hists={})
        return [
            Grouped(
                key=day,
                label=day.isoformat(),
                figures=_figures(*_fold([self.sums.days.get(day, empty)])),
            )
            for day in self.period.days
        ]

    def _by_group(self) -> dict[Any, TicketFigures]:
        return {g: _figures(*_fold([part])) for g, part in self.sums.groups.items()}

    def by_agent(self) -> list[Grouped]:
        """Ticket figures per agent (None: no agent), busiest first (summed by "agent_id")."""
        names = self.names()
        out = [
            Grouped(key=g, label=names.get(g, "") if g is not None else "", figures=figures)
            for g, figures in self._by_group().items()
        ]
        return sorted(out, key=lambda g: (g.key is None, -g.figures.assigned, g.label))

    def by_channel(self) -> list[Grouped]:
        """Ticket figures per channel kind, busiest first (summed by "channel")."""
        labels = dict(ChannelKind.choices)
        out = [
            Grouped(key=g, label=str(labels.get(g, g or "-")), figures=figures)
            for g, figures in self._by_group().items()
        ]
        return sorted(out, key=lambda g: (-g.figures.created, g.label))

    def by_hour(self) -> list[HourVolume]:
        """Volume per local hour of the day (0-23) over the period (summed with ``hours``)."""
        totals = self.sums.hours
        return [
            HourVolume(
                hour=h,
                created=totals.get(h, {}).get("created", 0),
                messages_in=totals.get(h, {}).get("messages_in", 0),
                messages_out=totals.get(h, {}).get("messages_out", 0),
            )
            for h in range(24)
        ]

    def utilisation(self) -> float | None:
        """Every agent's slots used over their capacity, in percent (no query for names)."""
        slots = sum(t.get("slot_seconds", 0) for t in self.sums.agents.values())
        capacity = sum(t.get("capacity_seconds", 0) for t in self.sums.agents.values())
        return round(100 * slots / capacity, 1) if capacity else None

    def agent_time(self) -> list[AgentTime]:
        """Time per state and utilisation per agent, by name (summed with ``agents``)."""
        names = self.names()
        out = [
            AgentTime(
                agent_id=agent_id,
                label=names.get(agent_id, ""),
                active_seconds=t.get("active_seconds", 0),
                passive_seconds=t.get("passive_seconds", 0),
                away_seconds=t.get("away_seconds", 0),
                slot_seconds=t.get("slot_seconds", 0),
                capacity_seconds=t.get("capacity_seconds", 0),
            )
            for agent_id, t in self.sums.agents.items()
        ]
        return sorted(out, key=lambda a: a.label)


def report_days(*, period: ReportPeriod, filters: ReportFilters, parts: DayParts) -> ReportDays:
    """The period's per-day sums of ``parts`` (2 queries; the agents' names, when a figure per
    agent is read, 1 more)."""
    return ReportDays(
        period=period, sums=period_sums_read(period=period, filters=filters, parts=parts)
    )


# --- ticket figures ----------------------------------------------------------------------------


def ticket_totals(*, period: ReportPeriod, filters: ReportFilters) -> TicketFigures:
    """The period's ticket figures with medians and p90 (2 queries)."""
    return report_days(period=period, filters=filters, parts=DayParts()).totals()


def ticket_by_agent(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per agent (None: no agent), busiest first (3 queries)."""
    parts = DayParts(group="agent_id")
    return report_days(period=period, filters=filters, parts=parts).by_agent()


def ticket_by_channel(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per channel kind, busiest first (2 queries)."""
    parts = DayParts(group="channel")
    return report_days(period=period, filters=filters, parts=parts).by_channel()


def ticket_by_day(*, period: ReportPeriod, filters: ReportFilters) -> list[Grouped]:
    """Ticket figures per local day, every day of the period listed (2 queries)."""
    return report_days(period=period, filters=filters, parts=DayParts()).by_day()


def ticket_by_hour_of_day(*, period: ReportPeriod, filters: ReportFilters) -> list[HourVolume]:
    """Volume per local hour of the day (0-23) over the period (2 queries)."""
    parts = DayParts(tickets=False, hours=True)
    return report_days(period=period, filters=filters, parts=parts).by_hour()


# --- agents: presence and utilisation ----------------------------------------------------------


def agent_time(*, period: ReportPeriod, filters: ReportFilters) -> list[AgentTime]:
    """Time per state and utilisation per agent, by name (3 queries)."""
    parts = DayParts(tickets=False, agents=True)
    return report_days(period=period, filters=filters, parts=parts).agent_time()


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


def activities_of(sums: PeriodSums) -> list[ActivityFigures]:
    """Activities done and their call time per category and subcategory name, from a period's
    sums (summed with ``activities``; 1 query for the categories' names)."""
    ids = {i for pair in sums.activities for i in pair if i is not None}
    names = dict(
        ActivityCategory.objects.filter(pk__in=sorted(ids) or [0])
        .order_by()
        .values_list("pk", "name")
    )
    merged: dict[tuple[str, str], list[int]] = {}
    for (category, subcategory), figures in sums.activities.items():
        key = (
            names.get(category, "") if category else "",
            names.get(subcategory, "") if subcategory else "",
        )
        into = merged.setdefault(key, [0, 0])
        into[0] += figures.get("count", 0)
        into[1] += figures.get("call_seconds", 0)
    out = [
        ActivityFigures(category=category, subcategory=subcategory, count=n, call_seconds=s)
        for (category, subcategory), (n, s) in merged.items()
    ]
    return sorted(out, key=lambda a: (-a.count, a.category, a.subcategory))


def activities_by_category(
    *, period: ReportPeriod, filters: ReportFilters
) -> list[ActivityFigures]:
    """Activities done and their call time per category and subcategory (3 queries)."""
    parts = DayParts(tickets=False, activities=True)
    return activities_of(report_days(period=period, filters=filters, parts=parts).sums)


# --- freshness ---------------------------------------------------------------------------------


def stats_last_refreshed() -> datetime | None:
    """When the hourly job last computed an hour (1 query)."""
    at: datetime | None = StatsHour.objects.order_by().aggregate(at=Max("computed_at"))["at"]
    return at
