"""The per-day sums behind the report tabs (``reports.day_sums``): cached under each day's
version, read again the moment an hour is recomputed or backfilled, one entry per set of filters,
and the same figures as reading the snapshot rows."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from configuration.models import ActivityCategory, Department
from reports.models import HourlyActivityStat, HourlyAgentStat, HourlyTicketStat, StatsHour
from reports.pages import TABS, report_page_build
from reports.selectors import ReportFilters, period_make
from tests.factories import make_user
from tests.reports.snapshots import activity_hour, agent_hour, computed, ticket_hour

MARCH = period_make(first=date(2026, 3, 1), last=date(2026, 3, 31))  # Istanbul, UTC+3
MARCH_QUERY = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def month(db):
    """Three days of March with hand-made rows, each hour computed: two agents, the pool, two
    channels, a department, presence."""
    ayse = make_user("ayse", first_name="Ayşe", last_name="Kaya")
    mehmet = make_user("mehmet", first_name="Mehmet", last_name="Demir")
    sales = Department.objects.create(name="Sales")
    rows = [
        # (day, hour UTC, agent, channel, department, created, first responses, ratings)
        (2, 6, ayse, "telegram", sales, 3, [60, 120, 180], [5]),
        (2, 9, mehmet, "telegram", None, 7, [900], [3, 4]),
        (2, 9, None, "email", None, 2, [], []),
        (10, 12, ayse, "email", sales, 4, [30, 3000], [1]),
        (10, 20, mehmet, "whatsapp", sales, 1, [45], []),  # 23:00 local, still the 10th
        (25, 8, ayse, "telegram", None, 5, [600, 601, 7200], [5, 5]),
    ]
    hours = set()
    for day, hour, agent, channel, department, created, first, ratings in rows:
        ticket_hour(
            at(day, hour),
            agent=agent,
            channel=channel,
            department=department,
            created=created,
            assigned=created if agent else 0,
            resolved=created // 2,
            messages_in=created * 2,
            messages_out=created if agent else 0,
            first_responses=first,
            pool_waits=[] if agent else [40, 400],
            ratings=ratings,
        )
        hours.add(at(day, hour))
    for agent, slots in ((ayse, 1800), (mehmet, 2700)):
        for day in (2, 10):
            agent_hour(
                at(day, 9),
                agent=agent,
                active_seconds=3600,
                passive_seconds=0,
                slot_seconds=slots,
                capacity_seconds=3600,
            )
            hours.add(at(day, 9))
    question = ActivityCategory.objects.create(name="Question")
    billing = ActivityCategory.objects.create(name="Billing", parent=question)
    incident = ActivityCategory.objects.create(name="Incident")
    other_billing = ActivityCategory.objects.create(name="Billing", parent=incident)
    for day, hour, agent, category, sub, channel, count, seconds in (
        (2, 6, ayse, question, billing, "telegram", 2, 300),
        (2, 9, mehmet, question, billing, "email", 1, 150),
        (10, 12, ayse, incident, other_billing, "email", 3, 900),
        (25, 8, ayse, None, None, "telegram", 1, 60),
    ):
        activity_hour(
            at(day, hour),
            agent=agent,
            channel=channel,
            category=category,
            subcategory=sub,
            count=count,
            call_seconds=seconds,
        )
    for hour in hours:
        computed(hour, at(28, 0))
    return ayse, mehmet, sales


def _shown(page) -> tuple:
    """Everything a tab shows: its cards, tables and charts."""
    return (
        [(str(c.title), c.value) for c in page.cards],
        [(t.slug, t.rows) for t in page.tables],
        [c.data() for c in page.charts],
    )


FILTER_SETS = [
    ReportFilters(),
    ReportFilters(channel="telegram"),
    ReportFilters(channel="email"),
]


@pytest.mark.parametrize("tab", list(TABS))
def test_a_cached_month_shows_the_same_figures_as_the_snapshot_rows(month, tab):
    ayse, _mehmet, sales = month
    for filters in [
        *FILTER_SETS,
        ReportFilters(agent_id=ayse.pk),
        ReportFilters(department_id=sales.pk),
    ]:
        cold = _shown(report_page_build(tab=tab, period=MARCH, filters=filters))
        warm = _shown(report_page_build(tab=tab, period=MARCH, filters=filters))
        # Without a computed hour no day has a version: every figure is read from the rows.
        saved = list(StatsHour.objects.values_list("hour", "computed_at"))
        StatsHour.objects.all().delete()
        rows = _shown(report_page_build(tab=tab, period=MARCH, filters=filters))
        StatsHour.objects.bulk_create(StatsHour(hour=h, computed_at=c) for h, c in saved)
        # 10 March not computed: the other days from the cache, that one from its rows.
        StatsHour.objects.filter(hour__gte=at(9, 21), hour__lt=at(10, 21)).delete()
        mixed = _shown(report_page_build(tab=tab, period=MARCH, filters=filters))
        StatsHour.objects.bulk_create(
            StatsHour(hour=h, computed_at=c) for h, c in saved if at(9, 21) <= h < at(10, 21)
        )
        assert cold == warm == rows == mixed, filters


def test_the_month_adds_up_to_the_hand_computed_figures(month):
    """Read from the cache (the second build): the figures of the rows in ``month``."""
    report_page_build(tab="overview", period=MARCH, filters=ReportFilters())
    page = report_page_build(tab="overview", period=MARCH, filters=ReportFilters())  # warm
    cards = {str(c.title): c.value for c in page.cards}
    assert cards["Tickets created"] == 3 + 7 + 2 + 4 + 1 + 5
    # 60 120 180 900 30 3000 45 600 601 7200: the 5th of 10 is 180, the 9th 3000
    assert (cards["First response, median"], cards["First response, p90"]) == (180, 3000)
    assert cards["Pool wait, longest"] == 400
    assert cards["Utilisation"] == round(100 * (2 * 1800 + 2 * 2700) / (4 * 3600), 1)
    assert cards["Average rating"] == round((5 + 3 + 4 + 1 + 5 + 5) / 6, 2)
    by_day = {row[0]: row[1] for row in page.table("by-day").rows}
    assert (by_day["2026-03-02"], by_day["2026-03-10"], by_day["2026-03-25"]) == (12, 5, 5)
    by_hour = {row[0]: row[1] for row in page.table("by-hour").rows}
    assert (by_hour["09:00"], by_hour["12:00"], by_hour["23:00"]) == (3, 7 + 2, 1)
    agents = report_page_build(tab="agents", period=MARCH, filters=ReportFilters())
    assigned = {row[0]: row[1] for row in agents.table("tickets").rows}
    assert assigned == {"Ayşe Kaya": 12, "Mehmet Demir": 8, "No agent": 0}
    activities = report_page_build(tab="activities", period=MARCH, filters=ReportFilters())
    assert activities.table("activities").rows == [
        ["Incident", "Billing", 3, 900, 300],
        ["Question", "Billing", 3, 450, 150],
        ["None", "", 1, 60, 60],
    ]
    ratings = report_page_build(tab="ratings", period=MARCH, filters=ReportFilters())
    assert {row[0]: row[1] for row in ratings.table("agents").rows} == {
        "Ayşe Kaya": 4,
        "Mehmet Demir": 2,
    }


@pytest.mark.parametrize("tab", ["overview", "agents", "channels", "ratings", "activities"])
def test_a_recomputed_hour_shows_at_once(month, tab):
    ayse, _mehmet, _sales = month
    before = _shown(report_page_build(tab=tab, period=MARCH, filters=ReportFilters()))
    # The hourly job re-runs 2 March 09:00: the hour's rows replaced and its StatsHour stamped,
    # in one transaction.
    HourlyTicketStat.objects.filter(hour=at(2, 9)).delete()
    HourlyAgentStat.objects.filter(hour=at(2, 9)).delete()
    ticket_hour(
        at(2, 9),
        agent=ayse,
        channel="webchat",
        created=40,
        assigned=40,
        messages_out=40,
        first_responses=[5] * 40,
        ratings=[2] * 40,
    )
    agent_hour(at(2, 9), agent=ayse, active_seconds=3600, slot_seconds=0, capacity_seconds=3600)
    HourlyActivityStat.objects.filter(hour=at(2, 9)).update(count=7, call_seconds=7000)
    StatsHour.objects.filter(hour=at(2, 9)).update(computed_at=at(28, 5))
    after = _shown(report_page_build(tab=tab, period=MARCH, filters=ReportFilters()))
    StatsHour.objects.all().delete()
    assert after == _shown(report_page_build(tab=tab, period=MARCH, filters=ReportFilters()))
    assert after != before


def test_a_backfilled_hour_shows_at_once(month):
    ayse, _mehmet, _sales = month
    created = {str(c.title): c.value for c in _overview_cards()}["Tickets created"]
    # A missed hour of 10 March filled by the backfill: one more computed hour on that day.
    ticket_hour(at(10, 3), agent=ayse, channel="telegram", created=9)
    computed(at(10, 3), at(28, 0))  # even with the same computed_at as the others
    assert {str(c.title): c.value for c in _overview_cards()}["Tickets created"] == created + 9


def test_today_is_summed_again_when_its_next_hour_is_computed(db, settings):
    from django.utils import timezone

    ayse = make_user("ayse")
    today = timezone.localdate()
    period = period_make(first=today - timedelta(days=29), last=today)
    first = period_make(first=today, last=today).start
    ticket_hour(first, agent=ayse, created=2)
    computed(first)

    def created() -> int:
        page = report_page_build(tab="overview", period=period, filters=ReportFilters())
        return {str(c.title): c.value for c in page.cards}["Tickets created"]

    assert created() == 2
    ticket_hour(first + timedelta(hours=1), agent=ayse, created=3)
    computed(first + timedelta(hours=1))
    assert created() == 5


def _overview_cards():
    return report_page_build(tab="overview", period=MARCH, filters=ReportFilters()).cards


def test_filters_do_not_share_a_cache_entry(month):
    ayse, mehmet, sales = month

    def created(filters: ReportFilters) -> int:
        page = report_page_build(tab="overview", period=MARCH, filters=filters)
        return {str(c.title): c.value for c in page.cards}["Tickets created"]

    expected = [
        (ReportFilters(), 22),
        (ReportFilters(agent_id=ayse.pk), 12),
        (ReportFilters(agent_id=mehmet.pk), 8),
        (ReportFilters(channel="telegram"), 15),
        (ReportFilters(channel="email"), 6),
        (ReportFilters(department_id=sales.pk), 8),
        (ReportFilters(department_id=sales.pk, channel="email"), 4),
    ]
    for _round in range(2):  # the second round reads every set from its own cache entries
        assert [created(filters) for filters, _n in expected] == [n for _f, n in expected]


def _count(client, tab: str) -> int:
    path = reverse("reports") if tab == "overview" else reverse("reports-tab", args=[tab])
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path, MARCH_QUERY).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(("tab", "queries"), [("overview", 9), ("agents", 10), ("ratings", 10)])
def test_a_warm_month_of_the_busy_tabs_runs_few_queries(client, month, tab, queries):
    client.force_login(make_user("boss", staff=True))
    cold = _count(client, tab)
    assert _count(client, tab) == cold == queries


def test_different_parts_do_not_share_a_cache_entry(month):
    from reports.day_sums import DayParts
    from reports.selectors import report_days

    plain = report_days(period=MARCH, filters=ReportFilters(), parts=DayParts())
    with_activities = report_days(
        period=MARCH, filters=ReportFilters(), parts=DayParts(activities=True)
    )
    assert plain.sums.activities == {}
    assert sum(a["count"] for a in with_activities.sums.activities.values()) == 7
    assert with_activities.totals().created == plain.totals().created == 22


def test_the_cache_keys_suit_every_cache_backend(month):
    """A filtered month's keys are short and plain: no backend warns (locmem embedded did, on
    every page, for keys of 300 characters with spaces)."""
    ayse, _mehmet, _sales = month
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        for tab in TABS:
            report_page_build(tab=tab, period=MARCH, filters=ReportFilters(agent_id=ayse.pk))
