"""The hourly snapshots against hand-computed data (reports/services.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.forms.models import model_to_dict

from configuration.models import ActivityCategory, BreakReason
from reports.histogram import hist_percentile
from reports.models import (
    HourlyActivityStat,
    HourlyAgentStat,
    HourlyBreakStat,
    HourlyTicketStat,
    StatsHour,
)
from reports.services import (
    local_day_bounds,
    stats_backfill,
    stats_hour_compute,
    stats_refresh,
)
from tests.factories import make_account, make_ticket, make_user
from tickets.models import Activity, BreakLog, Message, PresenceLog, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

H = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


def at(minutes: int, hour: datetime = H) -> datetime:
    return hour + timedelta(minutes=minutes)


def _ticket(account, created: datetime, **fields) -> Ticket:
    ticket = make_ticket(account=account)
    Ticket.objects.filter(pk=ticket.pk).update(
        created_at=created, pool_entered_at=created, **fields
    )
    # the factory's own message and history are "now": far from the hours under test
    ticket.refresh_from_db()
    return ticket


def _event(ticket, kind, when, actor=None, **data) -> None:
    event = TicketEvent.objects.create(ticket=ticket, kind=kind, actor=actor, data=data)
    TicketEvent.objects.filter(pk=event.pk).update(created_at=when)


def _message(ticket, when, direction, author=None, automatic=False) -> None:
    Message.objects.create(
        ticket=ticket,
        channel_account=ticket.channel_account,
        direction=direction,
        author=author,
        sent_at=when,
        is_automatic=automatic,
    )


def _rows(model, **filters) -> list[dict]:
    return [
        {k: v for k, v in model_to_dict(row).items() if k != "id"}
        for row in model.objects.filter(**filters).order_by("pk")
    ]


@pytest.fixture
def hour_of_work():
    """One agent's 09:00-10:00 UTC, figures computed by hand in the tests below."""
    alice = make_user("alice", capacity=2)
    account = make_account()
    lunch = BreakReason.objects.create(name="Lunch", max_minutes=30)
    t1 = _ticket(account, at(5), rating=4, rated_at=at(45), assignee=alice)
    _event(t1, TicketEvent.Kind.ASSIGNEE, at(10), old=None, new=alice.pk)  # pool wait 300 s
    _message(t1, at(5), Message.Direction.INBOUND)
    _message(t1, at(6), Message.Direction.OUTBOUND, automatic=True)  # auto-reply: not counted
    _message(t1, at(20), Message.Direction.OUTBOUND, author=alice)  # first response 900 s
    _message(t1, at(30), Message.Direction.OUTBOUND, author=alice)
    _message(t1, at(31), Message.Direction.NOTE, author=alice)  # a note: not a reply
    _event(t1, TicketEvent.Kind.STATUS, at(40), actor=alice, old="open", new="resolved")
    _event(t1, TicketEvent.Kind.STATUS, at(50), old="resolved", new="open")  # reopened
    category = ActivityCategory.objects.create(name="Question")
    Activity.objects.create(
        ticket=t1,
        call_reason="Where is my order",
        category=category,
        agent=alice,
        status=Activity.Status.DONE,
        call_seconds=120,
        done_at=at(35),
    )
    _ticket(account, at(15), is_offline=True)  # nobody's, offline
    # Presence: active 08:30-09:20, lunch 09:20-09:30, active 09:30-09:45, away since.
    for state, a, b, reason in (
        ("active", at(-30), at(20), None),
        ("passive", at(20), at(30), lunch),
        ("active", at(30), at(45), None),
        ("away", at(45), None, None),
    ):
        PresenceLog.objects.create(
            agent=alice, state=state, reason=reason, started_at=a, ended_at=b
        )
    BreakLog.objects.create(
        agent=alice, reason=lunch, reason_text="Lunch", started_at=at(20), ended_at=at(30)
    )
    return alice, account, lunch, category, t1


def test_an_hours_ticket_figures_are_those_counted_by_hand(hour_of_work):
    alice, account, *_ = hour_of_work
    stats_hour_compute(hour=H, now=LATER)
    mine = HourlyTicketStat.objects.get(hour=H, agent=alice)
    assert (mine.channel, mine.department_id, mine.subject_id) == (account.kind, None, None)
    assert (mine.created, mine.assigned, mine.resolved, mine.reopened) == (1, 1, 1, 1)
    assert (mine.messages_in, mine.messages_out, mine.offline_messages) == (1, 2, 0)
    assert (mine.first_response_count, mine.first_response_seconds) == (1, 900)
    assert hist_percentile(mine.first_response_hist, 0.5) == 900
    assert (mine.resolution_count, mine.resolution_seconds) == (1, 35 * 60)
    assert (mine.pool_wait_count, mine.pool_wait_seconds, mine.pool_wait_max) == (1, 300, 300)
    assert (mine.rating_count, mine.rating_sum, mine.rating_hist) == (1, 4, {"4": 1})
    nobodys = HourlyTicketStat.objects.get(hour=H, agent=None)
    assert (nobodys.created, nobodys.offline_messages, nobodys.messages_in) == (1, 1, 0)
    assert HourlyTicketStat.objects.count() == 2
    assert StatsHour.objects.get(hour=H).computed_at == LATER


def test_activities_done_in_the_hour_count_with_their_call_time(hour_of_work):
    alice, _account, _lunch, category, _t1 = hour_of_work
    stats_hour_compute(hour=H, now=LATER)
    row = HourlyActivityStat.objects.get(hour=H)
    assert (row.agent_id, row.category_id, row.count, row.call_seconds) == (
        alice.pk,
        category.pk,
        1,
        120,
    )


def test_time_active_on_break_and_away_and_the_slots_used(hour_of_work):
    alice, _account, lunch, *_ = hour_of_work
    stats_hour_compute(hour=H, now=LATER)
    row = HourlyAgentStat.objects.get(hour=H, agent=alice)
    # active 09:00-09:20 and 09:30-09:45; lunch 10 min; away from 09:45 (still open: ends now)
    assert (row.active_seconds, row.passive_seconds, row.away_seconds) == (2100, 600, 900)
    assert row.capacity_seconds == 2 * 2100
    # the ticket held a slot 09:10-09:40 and again from its reopening at 09:50
    assert row.slot_seconds == 30 * 60 + 10 * 60
    brk = HourlyBreakStat.objects.get(hour=H, agent=alice)
    assert (brk.reason_id, brk.seconds, brk.started, brk.over_limit) == (lunch.pk, 600, 1, 0)


def test_recomputing_an_hour_gives_the_same_rows(hour_of_work):
    stats_hour_compute(hour=H, now=LATER)
    tables = (HourlyTicketStat, HourlyActivityStat, HourlyAgentStat, HourlyBreakStat)
    first = [_rows(model) for model in tables]
    stats_hour_compute(hour=H, now=LATER)
    assert [_rows(model) for model in tables] == first
    assert StatsHour.objects.count() == 1


def test_slots_count_no_more_than_the_capacity_at_once():
    bob = make_user("bob", capacity=1)
    account = make_account()
    for minute in (0, 30):
        ticket = _ticket(account, at(minute), assignee=bob)
        _event(ticket, TicketEvent.Kind.ASSIGNEE, at(minute), old=None, new=bob.pk)
    PresenceLog.objects.create(agent=bob, state="active", started_at=at(0), ended_at=at(60))
    stats_hour_compute(hour=H, now=LATER)
    row = HourlyAgentStat.objects.get(hour=H, agent=bob)
    assert (row.slot_seconds, row.capacity_seconds) == (3600, 3600)


def test_a_break_over_midnight_lands_in_both_local_days(settings):
    settings.TIME_ZONE = "Europe/Istanbul"  # UTC+3: local midnight is 21:00 UTC
    carol = make_user("carol")
    coffee = BreakReason.objects.create(name="Coffee", max_minutes=30)
    started = datetime(2026, 3, 9, 20, 40, tzinfo=UTC)  # 23:40 local
    BreakLog.objects.create(
        agent=carol,
        reason=coffee,
        reason_text="Coffee",
        started_at=started,
        ended_at=started + timedelta(minutes=50),
    )
    list(stats_backfill(first=date(2026, 3, 9), last=date(2026, 3, 10), now=LATER))
    rows = {
        row.hour: (row.seconds, row.started, row.over_limit)
        for row in HourlyBreakStat.objects.filter(agent=carol)
    }
    assert rows == {
        datetime(2026, 3, 9, 20, tzinfo=UTC): (1200, 1, 1),  # 50 min against 30 allowed
        datetime(2026, 3, 9, 21, tzinfo=UTC): (1800, 0, 0),
    }
    day1, day2 = local_day_bounds(date(2026, 3, 9)), local_day_bounds(date(2026, 3, 10))
    assert day1[1] == day2[0] == datetime(2026, 3, 9, 21, tzinfo=UTC)


def test_daylight_saving_days_have_23_and_25_hours(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    call_command("stats_backfill", "--from", "2026-03-29", "--to", "2026-03-29")
    assert StatsHour.objects.count() == 23
    assert StatsHour.objects.order_by("hour").first().hour == datetime(2026, 3, 28, 23, tzinfo=UTC)
    StatsHour.objects.all().delete()
    call_command("stats_backfill", "--from", "2026-10-25", "--to", "2026-10-25")
    assert StatsHour.objects.count() == 25
    hours = list(StatsHour.objects.order_by("hour").values_list("hour", flat=True))
    assert (hours[0], hours[-1]) == (
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 22, tzinfo=UTC),
    )


def test_backfill_writes_each_hour_of_the_days_once_and_again_the_same(hour_of_work, settings):
    settings.TIME_ZONE = "UTC"
    alice = hour_of_work[0]
    call_command("stats_backfill", "--from", "2026-03-10", "--to", "2026-03-10")
    assert StatsHour.objects.count() == 24
    first = _rows(HourlyTicketStat)
    call_command("stats_backfill", "--from", "2026-03-10", "--to", "2026-03-10")
    assert _rows(HourlyTicketStat) == first
    assert HourlyTicketStat.objects.get(hour=H, agent=alice).created == 1
    # 08:30-09:00 active before the hour under test
    assert HourlyAgentStat.objects.get(hour=at(-60), agent=alice).active_seconds == 1800


def test_a_missed_hour_is_filled_at_the_next_run(hour_of_work):
    alice = hour_of_work[0]
    # computed through 07:00 (final: after it ended); the server was down 08:00-10:00
    StatsHour.objects.create(hour=at(-120), computed_at=at(-59))
    now = at(90)  # 10:30
    computed = stats_refresh(now=now)
    assert computed == [at(-60), H, at(60)]  # 08, 09 and the current hour
    assert HourlyTicketStat.objects.get(hour=H, agent=alice).created == 1
    # the next run only refreshes the current hour
    assert stats_refresh(now=now + timedelta(minutes=5)) == [at(60)]


def test_catch_up_is_capped_per_run_and_goes_on_next_run():
    StatsHour.objects.create(hour=at(-600), computed_at=at(-500))  # 23:00 the night before
    now = at(30)
    assert stats_refresh(now=now, catch_up=4) == [at(-540), at(-480), at(-420), at(-360)]
    second = stats_refresh(now=now, catch_up=48)
    assert second[0] == at(-300) and second[-1] == H  # the rest, then the current hour


def test_an_hour_must_be_the_start_of_an_aware_hour():
    with pytest.raises(ValueError):
        stats_hour_compute(hour=at(5))
    with pytest.raises(ValueError):
        stats_hour_compute(hour=datetime(2026, 3, 10, 9))  # noqa: DTZ001


def test_a_break_that_ran_over_after_its_hour_was_computed_is_counted_at_the_next_run():
    dave = make_user("dave")
    smoke = BreakReason.objects.create(name="Smoke", max_minutes=15)
    brk = BreakLog.objects.create(
        agent=dave, reason=smoke, reason_text="Smoke", started_at=at(50)
    )  # 09:50, still going
    StatsHour.objects.create(hour=at(-60), computed_at=at(1))  # 08:00, final
    stats_refresh(now=at(65))  # 10:05: 15 minutes so far, not over
    assert HourlyBreakStat.objects.get(hour=H, agent=dave).over_limit == 0
    BreakLog.objects.filter(pk=brk.pk).update(ended_at=at(72))  # 22 minutes in all
    computed = stats_refresh(now=at(75))
    assert H in computed
    row = HourlyBreakStat.objects.get(hour=H, agent=dave)
    assert (row.seconds, row.started, row.over_limit) == (600, 1, 1)
