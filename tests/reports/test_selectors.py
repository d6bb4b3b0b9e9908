"""Report figures read from hand-made hourly snapshot rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

from configuration.models import BreakReason, Department
from reports.selectors import (
    ReportFilters,
    activities_by_category,
    agent_time,
    breaks_by_reason,
    period_make,
    ticket_by_agent,
    ticket_by_channel,
    ticket_by_day,
    ticket_by_hour_of_day,
    ticket_totals,
    utilisation_total,
)
from tests.factories import make_user
from tests.reports.snapshots import activity_hour, agent_hour, break_hour, ticket_hour

MARCH_2 = period_make(first=date(2026, 3, 2), last=date(2026, 3, 2))  # Istanbul, UTC+3


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_medians_and_p90_come_from_the_histograms_of_every_hour_summed(db):
    agent = make_user("ayse")
    ticket_hour(at(2, 6), agent=agent, created=3, first_responses=[60, 120, 180])
    ticket_hour(
        at(2, 9), agent=agent, created=7, first_responses=[240, 300, 360, 420, 480, 540, 600]
    )
    totals = ticket_totals(period=MARCH_2, filters=ReportFilters())
    assert totals.created == 10
    assert (totals.first_response.count, totals.first_response.median) == (10, 300)
    assert totals.first_response.p90 == 540  # not the mean of the hours' own medians (120, 420)


def test_the_period_is_the_local_day_in_the_configured_time_zone(db):
    ticket_hour(at(1, 20), created=1)  # 23:00 on 1 March in Istanbul: the day before
    ticket_hour(at(1, 21), created=2)  # 00:00 on 2 March
    ticket_hour(at(2, 20), created=4)  # 23:00 on 2 March
    ticket_hour(at(2, 21), created=8)  # 00:00 on 3 March: the day after
    assert ticket_totals(period=MARCH_2, filters=ReportFilters()).created == 6


def test_a_daylight_saving_day_holds_its_23_hours_and_no_other(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # 29 March 2026: clocks go from 02:00 to 03:00
    day = period_make(first=date(2026, 3, 29), last=date(2026, 3, 29))
    assert (day.start, day.end) == (at(28, 23), at(29, 22))
    ticket_hour(at(28, 22), created=1)  # 23:00 on the 28th (CET)
    ticket_hour(at(28, 23), created=2)  # 00:00 on the 29th
    ticket_hour(at(29, 1), created=4)  # 03:00 CEST: the hour after the jump
    ticket_hour(at(29, 21), created=8)  # 23:00 CEST
    ticket_hour(at(29, 22), created=16)  # 00:00 on the 30th
    two_days = period_make(first=date(2026, 3, 29), last=date(2026, 3, 30))
    by_day = ticket_by_day(period=two_days, filters=ReportFilters())
    assert [(g.key, g.figures.created) for g in by_day] == [
        (date(2026, 3, 29), 14),
        (date(2026, 3, 30), 16),
    ]
    hours = {h.hour: h.created for h in ticket_by_hour_of_day(period=day, filters=ReportFilters())}
    assert (hours[0], hours[2], hours[3], hours[23]) == (2, 0, 4, 8)


def test_filters_combine_on_every_dimension(db):
    ayse, mehmet = make_user("ayse"), make_user("mehmet")
    sales = Department.objects.create(name="Sales")
    ticket_hour(at(2, 9), agent=ayse, channel="telegram", department=sales, created=1)
    ticket_hour(at(2, 9), agent=ayse, channel="email", department=sales, created=2)
    ticket_hour(at(2, 9), agent=mehmet, channel="telegram", created=4)

    def created(**kw):
        return ticket_totals(period=MARCH_2, filters=ReportFilters(**kw)).created

    assert created() == 7
    assert created(agent_id=ayse.pk) == 3
    assert created(channel="telegram") == 5
    assert created(agent_id=ayse.pk, channel="telegram", department_id=sales.pk) == 1
    assert created(department_id=sales.pk, channel="whatsapp") == 0


def test_per_agent_and_per_channel_figures_keep_their_own_medians(db):
    ayse, mehmet = make_user("ayse", first_name="Ayşe"), make_user("mehmet")
    ticket_hour(at(2, 8), agent=ayse, channel="telegram", assigned=2, first_responses=[30, 90])
    ticket_hour(at(2, 9), agent=ayse, channel="email", assigned=1, first_responses=[600])
    ticket_hour(at(2, 9), agent=mehmet, channel="telegram", assigned=1, first_responses=[10])
    ticket_hour(at(2, 9), channel="telegram", created=5)  # no agent: the pool
    agents = {g.key: g for g in ticket_by_agent(period=MARCH_2, filters=ReportFilters())}
    assert agents[ayse.pk].label == "Ayşe" and agents[ayse.pk].figures.assigned == 3
    assert agents[ayse.pk].figures.first_response.median == 90
    assert agents[mehmet.pk].figures.first_response.median == 10
    assert agents[None].figures.created == 5
    channels = {g.key: g for g in ticket_by_channel(period=MARCH_2, filters=ReportFilters())}
    assert channels["telegram"].figures.first_response.median == 30
    assert channels["email"].figures.first_response.median == 600


def test_pool_wait_ratings_and_resolution_add_up(db):
    ticket_hour(at(2, 8), pool_waits=[10, 50], ratings=[5, 4], resolutions=[3600])
    ticket_hour(at(2, 9), pool_waits=[400], ratings=[1], resolutions=[60, 120])
    totals = ticket_totals(period=MARCH_2, filters=ReportFilters())
    assert (totals.pool_wait.median, totals.pool_wait_max) == (50, 400)
    assert totals.ratings.count == 3 and totals.ratings.average == 3.33
    assert totals.ratings.distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert totals.resolution.median == 120


def test_utilisation_is_slots_used_over_capacity_summed_over_hours(db):
    ayse = make_user("ayse")
    agent_hour(at(2, 8), agent=ayse, active_seconds=3600, slot_seconds=3600, capacity_seconds=7200)
    agent_hour(
        at(2, 9),
        agent=ayse,
        active_seconds=1800,
        passive_seconds=1800,
        slot_seconds=3600,
        capacity_seconds=3600,
    )
    rows = agent_time(period=MARCH_2, filters=ReportFilters())
    assert [(r.active_seconds, r.passive_seconds, r.utilisation) for r in rows] == [
        (5400, 1800, 66.7)
    ]
    assert utilisation_total(rows) == 66.7


def test_breaks_by_reason_add_hours_and_count_those_over_the_limit(db):
    ayse, mehmet = make_user("ayse"), make_user("mehmet")
    lunch = BreakReason.objects.create(name="Lunch", max_minutes=30)
    break_hour(at(1, 20), agent=ayse, reason=lunch, reason_text="Lunch", seconds=1200, started=1)
    break_hour(at(1, 21), agent=ayse, reason=lunch, reason_text="Lunch", seconds=1500)  # midnight
    break_hour(
        at(2, 9),
        agent=mehmet,
        reason=lunch,
        reason_text="Lunch",
        seconds=2400,
        started=1,
        over_limit=1,
    )
    rows = breaks_by_reason(period=MARCH_2, filters=ReportFilters())
    assert [(r.label, r.seconds, r.started, r.over_limit) for r in rows] == [("Lunch", 3900, 1, 1)]
    mine = breaks_by_reason(period=MARCH_2, filters=ReportFilters(agent_id=ayse.pk))
    assert [(r.seconds, r.started) for r in mine] == [(1500, 0)]


def test_activities_by_category_and_subcategory_with_call_time(db):
    from configuration.models import ActivityCategory

    question = ActivityCategory.objects.create(name="Question")
    billing = ActivityCategory.objects.create(name="Billing", parent=question)
    activity_hour(at(2, 8), category=question, subcategory=billing, count=2, call_seconds=300)
    activity_hour(at(2, 9), category=question, subcategory=billing, count=1, call_seconds=150)
    rows = activities_by_category(period=MARCH_2, filters=ReportFilters())
    assert [
        (r.category, r.subcategory, r.count, r.call_seconds, r.average_call_seconds) for r in rows
    ] == [("Question", "Billing", 3, 450, 150)]


def test_a_recomputed_hour_shows_its_new_figures_at_once(db):
    from django.core.cache import cache

    from reports.models import HourlyTicketStat, StatsHour
    from tests.reports.snapshots import computed

    cache.clear()
    row = ticket_hour(at(2, 9), first_responses=[60])
    computed(at(2, 9))
    assert ticket_totals(period=MARCH_2, filters=ReportFilters()).first_response.median == 60
    # The job replaces the hour's rows and its StatsHour in one transaction.
    HourlyTicketStat.objects.filter(pk=row.pk).delete()
    ticket_hour(at(2, 9), first_responses=[300])
    StatsHour.objects.filter(hour=at(2, 9)).update(computed_at=at(2, 11))
    assert ticket_totals(period=MARCH_2, filters=ReportFilters()).first_response.median == 300


def test_a_computed_day_is_summed_once_and_then_read_from_the_cache(db, django_assert_num_queries):
    from django.core.cache import cache

    from reports.models import HourlyTicketStat
    from tests.reports.snapshots import computed

    cache.clear()
    ticket_hour(at(2, 9), first_responses=[60, 90])
    computed(at(2, 9))
    assert ticket_totals(period=MARCH_2, filters=ReportFilters()).first_response.count == 2
    HourlyTicketStat.objects.update(first_response_hist={})  # behind the job's back
    with django_assert_num_queries(2):  # the same queries, the per-day one reading nothing
        totals = ticket_totals(period=MARCH_2, filters=ReportFilters())
    assert totals.first_response.median == 60
