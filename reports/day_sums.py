"""Per-day sums of the hourly snapshots, read once and cached under each day's version.

A report over a range is a sum of local days. A day's sums change only when one of its hours is
(re)computed (the hourly job, a re-run hour, a backfill), and that changes the day's version
(``day_versions``: the latest ``computed_at`` and the number of computed hours). So each day's
sums, for one set of filters and one set of parts (``DayParts``), are read from the snapshot rows
once and kept in Django's cache (Redis in the full stack, local memory embedded) under that
version. A page reads every day's version (1 query), takes the days cached and sums the rest
(usually today, whose version moves with every computed hour) in one query that runs even when
it has nothing to read, so a page runs the same 2 queries whatever its range and whatever is
cached. A day with no computed hour has no version and is never cached. The cached days are
also folded into the period's figures once per set of day versions, and the fold is cached: a
warm page reads one entry and merges no histogram.

The one query is a ``UNION ALL`` of narrow rows ``(part, day, group, key, value)`` over the
snapshot rows of the missing days (a CTE per table): one branch per summed column, one per
histogram (its JSON expanded by ``jsonb_each_text`` on PostgreSQL, ``json_each`` on SQLite),
one per hour-of-day column, one per presence column and one per activity column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Max, QuerySet
from django.db.models.functions import ExtractHour, TruncDate

from reports.models import HourlyActivityStat, HourlyAgentStat, HourlyTicketStat, StatsHour

if TYPE_CHECKING:
    from reports.selectors import ReportFilters, ReportPeriod

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
TICKET_MAX = "pool_wait_max"
HISTS = ("first_response_hist", "resolution_hist", "pool_wait_hist", "rating_hist")
HOUR_SUMS = ("created", "messages_in", "messages_out")
AGENT_SUMS = (
    "active_seconds",
    "passive_seconds",
    "away_seconds",
    "slot_seconds",
    "capacity_seconds",
)
ACTIVITY_SUMS = ("count", "call_seconds")
GROUPS = ("agent_id", "channel")

DAY_CACHE_SECONDS = 7 * 86400
# A fold that holds today is outdated by the next computed hour, and one is written per hour,
# parts and filters: kept an hour (folding the cached days again takes tens of milliseconds).
FOLD_CACHE_SECONDS = 3600
_CACHE_PREFIX = "reports:days:2"


@dataclass(frozen=True)
class DayParts:
    """What to sum per day: ticket figures (whole, or per ``group``: "agent_id" / "channel"),
    ticket volume per local hour of the day, presence and slots per agent, activities and their
    call time per (category id, subcategory id)."""

    tickets: bool = True
    group: str | None = None
    hours: bool = False
    agents: bool = False
    activities: bool = False

    def __post_init__(self) -> None:
        if self.group is not None and self.group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}")


@dataclass
class TicketSums:
    """Summed ticket columns (``TICKET_SUMS`` and the max) and summed histograms of one group."""

    sums: dict[str, int]
    hists: dict[str, dict[str, int]]


@dataclass
class Day:
    """One local day's sums: ticket figures per group (None without a group), volume per local
    hour ({hour: {column: n}}), presence per agent ({agent id: {column: seconds}})."""

    tickets: dict[Any, TicketSums]
    hours: dict[int, dict[str, int]]
    agents: dict[int, dict[str, int]]
    activities: dict[tuple[int | None, int | None], dict[str, int]] = field(default_factory=dict)


def day_versions(*, start: datetime, end: datetime, tz: tzinfo) -> dict[date, str]:
    """Per local day from ``start`` to ``end``, a token that changes whenever one of its hours
    is (re)computed: the latest ``computed_at`` and the number of computed hours (1 query)."""
    rows = (
        StatsHour.objects.filter(hour__gte=start, hour__lt=end)
        .order_by()
        .annotate(d=TruncDate("hour", tzinfo=tz))
        .values("d")
        .annotate(v=Max("computed_at"), n=Count("id"))
    )
    return {as_date(row["d"]): f"{row['v'].isoformat()}/{row['n']}" for row in rows}


def as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass
class PeriodSums:
    """A period's sums: ticket figures of every day folded per group (``groups``) and of every
    group folded per day (``days``, only without a group), volume per local hour of the day,
    presence per agent."""

    groups: dict[Any, TicketSums]
    days: dict[date, TicketSums]
    hours: dict[int, dict[str, int]]
    agents: dict[int, dict[str, int]]
    activities: dict[tuple[int | None, int | None], dict[str, int]] = field(default_factory=dict)


def _add(into: TicketSums, part: TicketSums) -> None:
    for name, n in part.sums.items():
        into.sums[name] = (
            max(into.sums.get(name, 0), n) if name == TICKET_MAX else (into.sums.get(name, 0) + n)
        )
    for name, hist in part.hists.items():
        total = into.hists.setdefault(name, {})
        for key, count in hist.items():
            total[key] = total.get(key, 0) + count


def _add_counts(into: dict[Any, dict[str, int]], part: Mapping[Any, dict[str, int]]) -> None:
    for key, sums in part.items():
        total = into.setdefault(key, {})
        for name, n in sums.items():
            total[name] = total.get(name, 0) + n


def _fold(days: dict[date, Day], *, by_day: bool) -> PeriodSums:
    out = PeriodSums(groups={}, days={}, hours={}, agents={})
    for day, data in days.items():
        if by_day:
            whole = out.days[day] = TicketSums(sums={}, hists={})
        for g, part in data.tickets.items():
            _add(out.groups.setdefault(g, TicketSums(sums={}, hists={})), part)
            if by_day:
                _add(whole, part)
        _add_counts(out.hours, data.hours)
        _add_counts(out.agents, data.agents)
        _add_counts(out.activities, data.activities)
    return out


def _combine(a: PeriodSums, b: PeriodSums) -> PeriodSums:
    out = PeriodSums(groups={}, days={**a.days, **b.days}, hours={}, agents={})
    for source in (a, b):
        for g, part in source.groups.items():
            _add(out.groups.setdefault(g, TicketSums(sums={}, hists={})), part)
        _add_counts(out.hours, source.hours)
        _add_counts(out.agents, source.agents)
        _add_counts(out.activities, source.activities)
    return out


def period_sums_read(
    *, period: ReportPeriod, filters: ReportFilters, parts: DayParts
) -> PeriodSums:
    """The period's sums (2 queries). Each day with a version (a computed hour) is read from
    the snapshot rows once and cached; the days with a version are also folded once per set of
    versions (the page's warm path: one cache read); the days without one (none computed yet)
    are read every time. Ticket figures honour every filter, presence the agent filter only."""
    tz = period.tz
    versions = day_versions(start=period.start, end=period.end, tz=tz)
    # The database's name: two databases on one Redis (tests, a staging copy) share nothing.
    # Every field of the parts and of the filters (their reprs name them all).
    scope = f"{connection.settings_dict['NAME']}:{tz}:{parts!r}:{filters!r}"

    def key(day: date) -> str:
        # Hashed: short, and only characters every cache backend takes (no warnings embedded).
        named = f"{day.isoformat()}:{versions[day]}:{scope}"
        return f"{_CACHE_PREFIX}:{hashlib.sha256(named.encode()).hexdigest()}"

    by_day = parts.group is None
    versioned = [day for day in period.days if day in versions]
    signature = "|".join(f"{day.isoformat()}={versions[day]}" for day in versioned)
    folded_key = (
        f"{_CACHE_PREFIX}:fold:{hashlib.sha256(f'{scope}|{signature}'.encode()).hexdigest()}"
    )
    folded: PeriodSums | None = cache.get(folded_key) if versioned else None
    known: dict[date, Day] = {}
    if folded is None:
        cached = cache.get_many([key(day) for day in versioned])
        known = {day: cached[key(day)] for day in versioned if key(day) in cached}
    missing = [
        day
        for day in period.days
        if day not in known and not (folded is not None and day in versions)
    ]
    if missing:
        span = replace(period, first=missing[0], last=missing[-1])
        read_start, read_end = span.start, span.end
    else:
        read_start = read_end = period.start  # nothing to read: an empty range, the same query
    fresh = _read(start=read_start, end=read_end, tz=tz, filters=filters, parts=parts)
    live: dict[date, Day] = {}
    store = {}
    for day in missing:
        data = fresh.get(day) or Day(tickets={}, hours={}, agents={})
        if day in versions:
            known[day] = store[key(day)] = data
        else:
            live[day] = data
    if store:
        cache.set_many(store, DAY_CACHE_SECONDS)
    if folded is None:
        folded = _fold(known, by_day=by_day)
        if versioned:
            cache.set(folded_key, folded, FOLD_CACHE_SECONDS)
    if not live:
        return folded
    return _combine(folded, _fold(live, by_day=by_day))


def _inner(qs: QuerySet[Any], names: list[str]) -> tuple[str, list[str], tuple[Any, ...]]:
    sql, params = qs.values(*names).query.sql_with_params()
    return sql, names, tuple(params)


def _read(
    *, start: datetime, end: datetime, tz: tzinfo, filters: ReportFilters, parts: DayParts
) -> dict[date, Day]:
    """The sums of the days from ``start`` to ``end`` (local midnights, UTC) in one query."""
    ctes: list[str] = []
    params: list[Any] = []
    branches: list[str] = []
    expand = "jsonb_each_text" if connection.vendor == "postgresql" else "json_each"
    if parts.tickets or parts.hours:
        qs = (
            HourlyTicketStat.objects.filter(filters.q(), hour__gte=start, hour__lt=end)
            .order_by()
            .annotate(d=TruncDate("hour", tzinfo=tz))
        )
        names = ["d"]
        if parts.group:
            qs = qs.annotate(g=F(parts.group))
            names.append("g")
        if parts.hours:
            qs = qs.annotate(hod=ExtractHour("hour", tzinfo=tz))
            names.append("hod")
        columns = [*TICKET_SUMS, TICKET_MAX, *HISTS] if parts.tickets else list(HOUR_SUMS)
        sql, names, p = _inner(qs, [*names, *columns])
        ctes.append(f"t({', '.join(names)}) AS ({sql})")
        params.extend(p)
        g, by = ("CAST(t.g AS TEXT)", "t.d, t.g") if parts.group else ("NULL", "t.d")
        if parts.tickets:
            branches += [_branch("'s'", g, f"'{n}'", f"SUM(t.{n})", "t", by) for n in TICKET_SUMS]
            branches.append(_branch("'s'", g, f"'{TICKET_MAX}'", f"MAX(t.{TICKET_MAX})", "t", by))
            branches += [
                _branch(
                    f"'{h}'",
                    g,
                    "j.key",
                    "SUM(CAST(j.value AS BIGINT))",
                    f"t, {expand}(t.{h}) AS j",
                    f"{by}, j.key",
                )
                for h in HISTS
            ]
        if parts.hours:
            branches += [
                _branch(f"'o:{n}'", "NULL", "CAST(t.hod AS TEXT)", f"SUM(t.{n})", "t", "t.d, t.hod")
                for n in HOUR_SUMS
            ]
    if parts.agents:
        agent_qs = (
            HourlyAgentStat.objects.filter(hour__gte=start, hour__lt=end)
            .order_by()
            .annotate(d=TruncDate("hour", tzinfo=tz))
        )
        if filters.agent_id is not None:
            agent_qs = agent_qs.filter(agent_id=filters.agent_id)
        sql, names, p = _inner(agent_qs, ["d", "agent_id", *AGENT_SUMS])
        ctes.append(f"a({', '.join(names)}) AS ({sql})")
        params.extend(p)
        branches += [
            _branch(
                f"'a:{n}'",
                "CAST(a.agent_id AS TEXT)",
                "NULL",
                f"SUM(a.{n})",
                "a",
                "a.d, a.agent_id",
            )
            for n in AGENT_SUMS
        ]
    if parts.activities:
        activity_qs = (
            HourlyActivityStat.objects.filter(filters.q(), hour__gte=start, hour__lt=end)
            .order_by()
            .annotate(d=TruncDate("hour", tzinfo=tz))
        )
        sql, names, p = _inner(activity_qs, ["d", "category_id", "subcategory_id", *ACTIVITY_SUMS])
        ctes.append(f"c({', '.join(names)}) AS ({sql})")
        params.extend(p)
        pair = (
            "COALESCE(CAST(c.category_id AS TEXT), '') || ':' || "
            "COALESCE(CAST(c.subcategory_id AS TEXT), '')"
        )
        branches += [
            _branch(
                f"'c:{n}'", "NULL", pair, f"SUM(c.{n})", "c", "c.d, c.category_id, c.subcategory_id"
            )
            for n in ACTIVITY_SUMS
        ]
    sql = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(branches)  # noqa: S608
    out: dict[date, Day] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for part, d, g, k, n in rows:
        day = out.get(as_date(d))
        if day is None:
            day = out[as_date(d)] = Day(tickets={}, hours={}, agents={})
        value = int(n or 0)
        if part.startswith("a:"):
            day.agents.setdefault(int(g), {})[part[2:]] = value
        elif part.startswith("c:"):
            category, subcategory = (int(i) if i else None for i in str(k).split(":"))
            day.activities.setdefault((category, subcategory), {})[part[2:]] = value
        elif part.startswith("o:"):
            day.hours.setdefault(int(float(k)), {})[part[2:]] = value
        else:
            group = _group_value(parts.group, g)
            sums = day.tickets.get(group)
            if sums is None:
                sums = day.tickets[group] = TicketSums(sums={}, hists={})
            if part == "s":
                sums.sums[k] = value
            else:
                sums.hists.setdefault(part, {})[str(k)] = value
    return out


def _branch(part: str, group: str, key: str, value: str, source: str, by: str) -> str:
    """One ``(part, day, group, key, value)`` branch of the union (every piece a constant of
    this module, never user input)."""
    day = source[0]  # the CTE's alias: "t" or "a"
    return (
        f"SELECT {part} AS p, {day}.d AS d, {group} AS g, {key} AS k, {value} AS n "  # noqa: S608
        f"FROM {source} GROUP BY {by}"
    )


def _group_value(group: str | None, raw: Any) -> Any:
    if group is None:
        return None
    if group == "agent_id":
        return None if raw is None else int(raw)
    return raw
