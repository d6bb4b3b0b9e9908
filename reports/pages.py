"""What each report tab shows: its figures as tables (the numbers beside every chart, and what the
exports write) and its charts, built from ``reports.selectors`` in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from reports import selectors as sel
from reports.day_sums import DayParts
from reports.formatting import figure
from reports.selectors import ReportFilters, ReportPeriod

# The agents and ratings tabs read the same per-day sums (one cache entry per day for both).
PER_AGENT = DayParts(group="agent_id", agents=True)

# Column kinds: how a cell is shown on the page (exports write the raw number).
TEXT, INT, SECONDS, PERCENT, DECIMAL = "text", "int", "seconds", "percent", "decimal"

# Okabe-Ito: told apart with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass(frozen=True)
class Column:
    title: str | Promise
    kind: str = INT


@dataclass
class Table:
    slug: str
    title: str | Promise
    columns: list[Column]
    rows: list[list[Any]]
    empty: str | Promise = _("Nothing in this period.")

    @property
    def is_empty(self) -> bool:
        return not self.rows

    @property
    def cells(self) -> list[list[tuple[str, bool]]]:
        """The rows as shown: (text, is a number) per cell."""
        kinds = [column.kind for column in self.columns]
        return [
            [(figure(value, kind), kind != TEXT) for value, kind in zip(row, kinds, strict=True)]
            for row in self.rows
        ]


@dataclass
class Chart:
    slug: str
    title: str | Promise
    kind: str  # "bar" | "line"
    labels: list[str]
    series: list[tuple[str | Promise, list[float | None]]]
    table: str  # the slug of the table that holds its numbers
    unit: str | Promise = ""

    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "labels": self.labels,
            "unit": str(self.unit),
            "datasets": [
                {"label": str(label), "data": values, "color": PALETTE[i % len(PALETTE)]}
                for i, (label, values) in enumerate(self.series)
            ],
        }


@dataclass
class Card:
    title: str | Promise
    value: Any
    kind: str = INT


@dataclass
class Page:
    cards: list[Card] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str | Promise = ""

    @property
    def is_empty(self) -> bool:
        return all(t.is_empty for t in self.tables)

    @property
    def sections(self) -> list[tuple[Table, list[Chart]]]:
        """Each table with the charts drawn from it (shown above their numbers)."""
        return [(t, [c for c in self.charts if c.table == t.slug]) for t in self.tables]

    def table(self, slug: str) -> Table | None:
        return next((t for t in self.tables if t.slug == slug), None)


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _overview(period: ReportPeriod, filters: ReportFilters) -> Page:
    """2 queries (the per-day sums, ``sel.report_days``)."""
    sums = sel.report_days(period=period, filters=filters, parts=DayParts(hours=True, agents=True))
    totals = sums.totals()
    days = sums.by_day()
    hours = sums.by_hour()
    util = sums.utilisation()
    cards = [
        Card(_("Tickets created"), totals.created),
        Card(_("Resolved"), totals.resolved),
        Card(_("Reopened"), totals.reopened),
        Card(_("Messages in"), totals.messages_in),
        Card(_("Replies"), totals.messages_out),
        Card(_("Offline messages"), totals.offline_messages),
        Card(_("First response, median"), totals.first_response.median, SECONDS),
        Card(_("First response, p90"), totals.first_response.p90, SECONDS),
        Card(_("Resolution, median"), totals.resolution.median, SECONDS),
        Card(_("Pool wait, median"), totals.pool_wait.median, SECONDS),
        Card(
            _("Pool wait, longest"),
            totals.pool_wait_max if totals.pool_wait.count else None,
            SECONDS,
        ),
        Card(_("Utilisation"), util, PERCENT),
        Card(_("Average rating"), totals.ratings.average, DECIMAL),
    ]
    by_day = Table(
        "by-day",
        _("Per day"),
        [
            Column(_("Day"), TEXT),
            Column(_("Created")),
            Column(_("Resolved")),
            Column(_("Messages in")),
            Column(_("Replies")),
            Column(_("First response, median"), SECONDS),
            Column(_("First response, p90"), SECONDS),
        ],
        [
            [
                d.label,
                d.figures.created,
                d.figures.resolved,
                d.figures.messages_in,
                d.figures.messages_out,
                d.figures.first_response.median,
                d.figures.first_response.p90,
            ]
            for d in days
        ]
        if not totals.is_empty
        else [],
    )
    by_hour = Table(
        "by-hour",
        _("Per hour of the day"),
        [
            Column(_("Hour"), TEXT),
            Column(_("Created")),
            Column(_("Messages in")),
            Column(_("Replies")),
        ],
        [[f"{h.hour:02d}:00", h.created, h.messages_in, h.messages_out] for h in hours]
        if not totals.is_empty
        else [],
    )
    labels = [d.label for d in days]
    charts = [
        Chart(
            "volume-day",
            _("Volume per day"),
            "bar",
            labels,
            [
                (_("Created"), [d.figures.created for d in days]),
                (_("Resolved"), [d.figures.resolved for d in days]),
            ],
            "by-day",
        ),
        Chart(
            "first-response",
            _("First response trend"),
            "line",
            labels,
            [
                (_("Median"), [_minutes(d.figures.first_response.median) for d in days]),
                (_("p90"), [_minutes(d.figures.first_response.p90) for d in days]),
            ],
            "by-day",
            _("minutes"),
        ),
        Chart(
            "volume-hour",
            _("Volume per hour of the day"),
            "bar",
            [f"{h.hour:02d}" for h in hours],
            [
                (_("Created"), [h.created for h in hours]),
                (_("Messages in"), [h.messages_in for h in hours]),
            ],
            "by-hour",
        ),
    ]
    if totals.is_empty:
        charts = []
    return Page(cards=cards, charts=charts, tables=[by_day, by_hour])


def _agents(period: ReportPeriod, filters: ReportFilters) -> Page:
    """3 queries."""
    sums = sel.report_days(period=period, filters=filters, parts=PER_AGENT)
    tickets = sums.by_agent()
    times = sums.agent_time()
    work = Table(
        "tickets",
        _("Tickets per agent"),
        [
            Column(_("Agent"), TEXT),
            Column(_("Assigned")),
            Column(_("Resolved")),
            Column(_("Reopened")),
            Column(_("Replies")),
            Column(_("First response, median"), SECONDS),
            Column(_("First response, p90"), SECONDS),
            Column(_("Resolution, median"), SECONDS),
            Column(_("Ratings")),
            Column(_("Average rating"), DECIMAL),
        ],
        [
            [
                g.label or _("No agent"),
                g.figures.assigned,
                g.figures.resolved,
                g.figures.reopened,
                g.figures.messages_out,
                g.figures.first_response.median,
                g.figures.first_response.p90,
                g.figures.resolution.median,
                g.figures.ratings.count,
                g.figures.ratings.average,
            ]
            for g in tickets
        ],
    )
    time_table = Table(
        "time",
        _("Time and utilisation per agent"),
        [
            Column(_("Agent"), TEXT),
            Column(_("Active"), SECONDS),
            Column(_("On a break"), SECONDS),
            Column(_("Away"), SECONDS),
            Column(_("Utilisation"), PERCENT),
        ],
        [
            [a.label, a.active_seconds, a.passive_seconds, a.away_seconds, a.utilisation]
            for a in times
        ],
    )
    charts = []
    if times:
        charts.append(
            Chart(
                "utilisation",
                _("Utilisation per agent"),
                "bar",
                [a.label for a in times],
                [(_("Utilisation"), [a.utilisation for a in times])],
                "time",
                "%",
            )
        )
    return Page(charts=charts, tables=[work, time_table])


def _channels(period: ReportPeriod, filters: ReportFilters) -> Page:
    """2 queries."""
    groups = sel.ticket_by_channel(period=period, filters=filters)
    table = Table(
        "channels",
        _("Per channel"),
        [
            Column(_("Channel"), TEXT),
            Column(_("Created")),
            Column(_("Resolved")),
            Column(_("Messages in")),
            Column(_("Replies")),
            Column(_("Offline messages")),
            Column(_("First response, median"), SECONDS),
            Column(_("First response, p90"), SECONDS),
            Column(_("Pool wait, median"), SECONDS),
            Column(_("Pool wait, longest"), SECONDS),
            Column(_("Average rating"), DECIMAL),
        ],
        [
            [
                g.label,
                g.figures.created,
                g.figures.resolved,
                g.figures.messages_in,
                g.figures.messages_out,
                g.figures.offline_messages,
                g.figures.first_response.median,
                g.figures.first_response.p90,
                g.figures.pool_wait.median,
                g.figures.pool_wait_max if g.figures.pool_wait.count else None,
                g.figures.ratings.average,
            ]
            for g in groups
        ],
    )
    charts = []
    if groups:
        charts.append(
            Chart(
                "channel-volume",
                _("Tickets per channel"),
                "bar",
                [g.label for g in groups],
                [(_("Created"), [g.figures.created for g in groups])],
                "channels",
            )
        )
    return Page(charts=charts, tables=[table])


def _activities(period: ReportPeriod, filters: ReportFilters) -> Page:
    """3 queries."""
    rows = sel.activities_by_category(period=period, filters=filters)
    table = Table(
        "activities",
        _("Activities by category"),
        [
            Column(_("Category"), TEXT),
            Column(_("Subcategory"), TEXT),
            Column(_("Activities")),
            Column(_("Call time"), SECONDS),
            Column(_("Average call"), SECONDS),
        ],
        [
            [
                a.category or _("None"),
                a.subcategory or "",
                a.count,
                a.call_seconds,
                a.average_call_seconds,
            ]
            for a in rows
        ],
    )
    per_category: dict[str, list[int]] = {}
    for a in rows:
        totals = per_category.setdefault(str(a.category or _("None")), [0, 0])
        totals[0] += a.count
        totals[1] += a.call_seconds
    charts = []
    if rows:
        charts.append(
            Chart(
                "activity-categories",
                _("Activities and call time by category"),
                "bar",
                list(per_category),
                [
                    (_("Activities"), [v[0] for v in per_category.values()]),
                    (_("Call time (minutes)"), [_minutes(v[1]) for v in per_category.values()]),
                ],
                "activities",
            )
        )
    return Page(charts=charts, tables=[table])


def _breaks(period: ReportPeriod, filters: ReportFilters) -> Page:
    """2 queries."""
    reasons = sel.breaks_by_reason(period=period, filters=filters)
    agents = sel.breaks_by_agent(period=period, filters=filters)
    columns = [Column(_("Break time"), SECONDS), Column(_("Breaks")), Column(_("Over the limit"))]
    by_reason = Table(
        "reasons",
        _("Breaks by reason"),
        [Column(_("Reason"), TEXT), *columns],
        [[b.label or _("No reason"), b.seconds, b.started, b.over_limit] for b in reasons],
    )
    by_agent = Table(
        "agents",
        _("Breaks by agent"),
        [Column(_("Agent"), TEXT), *columns],
        [[b.label, b.seconds, b.started, b.over_limit] for b in agents],
    )
    charts = []
    if reasons:
        charts.append(
            Chart(
                "break-reasons",
                _("Break time by reason"),
                "bar",
                [str(b.label or _("No reason")) for b in reasons],
                [(_("Break time"), [_minutes(b.seconds) for b in reasons])],
                "reasons",
                _("minutes"),
            )
        )
    return Page(
        charts=charts,
        tables=[by_reason, by_agent],
        note=_(
            "Breaks are counted per agent: the channel, department, group type and subject "
            "filters do not apply."
        ),
    )


def _ratings(period: ReportPeriod, filters: ReportFilters) -> Page:
    """3 queries."""
    sums = sel.report_days(period=period, filters=filters, parts=PER_AGENT)
    totals = sums.totals()
    agents = sums.by_agent()
    ratings = totals.ratings
    cards = [Card(_("Ratings"), ratings.count), Card(_("Average rating"), ratings.average, DECIMAL)]
    dist = Table(
        "distribution",
        _("Ratings by stars"),
        [Column(_("Stars"), TEXT), Column(_("Ratings")), Column(_("Share"), PERCENT)],
        [
            [str(star), n, round(100 * n / ratings.count, 1) if ratings.count else None]
            for star, n in sorted(ratings.distribution.items(), reverse=True)
        ]
        if ratings.count
        else [],
    )
    rated = [g for g in agents if g.figures.ratings.count]
    by_agent = Table(
        "agents",
        _("Ratings per agent"),
        [Column(_("Agent"), TEXT), Column(_("Ratings")), Column(_("Average rating"), DECIMAL)],
        [
            [g.label or _("No agent"), g.figures.ratings.count, g.figures.ratings.average]
            for g in rated
        ],
    )
    charts = []
    if ratings.count:
        charts.append(
            Chart(
                "rating-distribution",
                _("Ratings by stars"),
                "bar",
                [str(star) for star in sorted(ratings.distribution, reverse=True)],
                [
                    (
                        _("Ratings"),
                        [n for _star, n in sorted(ratings.distribution.items(), reverse=True)],
                    )
                ],
                "distribution",
            )
        )
    return Page(cards=cards, charts=charts, tables=[dist, by_agent])


TABS: dict[str, tuple[str | Promise, Callable[[ReportPeriod, ReportFilters], Page]]] = {
    "overview": (_("Overview"), _overview),
    "agents": (_("Agents"), _agents),
    "channels": (_("Channels"), _channels),
    "activities": (_("Activities"), _activities),
    "breaks": (_("Breaks"), _breaks),
    "ratings": (_("Ratings"), _ratings),
}


def report_page_build(*, tab: str, period: ReportPeriod, filters: ReportFilters) -> Page:
    return TABS[tab][1](period, filters)
