"""Is the support page open: business hours in the configured time zone, holidays, agents."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError

from channels_adapters.webchat.availability import support_availability
from configuration.models import BusinessHours, Holiday
from tests.factories import make_user
from tickets.models import AgentPresence

pytestmark = pytest.mark.django_db

ISTANBUL = ZoneInfo("Europe/Istanbul")
# 2026-12-01 is a Tuesday.
TUESDAY = 1


def at(hour: int, minute: int = 0, day: int = 1, tz=ISTANBUL) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=tz)


def hours(weekday: int, opens: str, closes: str) -> BusinessHours:
    return BusinessHours.objects.create(
        weekday=weekday, opens_at=time.fromisoformat(opens), closes_at=time.fromisoformat(closes)
    )


def test_with_no_business_hours_at_all_the_page_is_always_open(page):
    assert support_availability(page=page, now=at(3)).is_open


def test_open_within_the_weekdays_hours_and_offline_outside_them(page):
    hours(TUESDAY, "09:00", "18:00")
    assert support_availability(page=page, now=at(9)).is_open
    assert support_availability(page=page, now=at(17, 59)).is_open
    closed = support_availability(page=page, now=at(18))
    assert not closed.is_open and closed.reason == "hours"
    assert not support_availability(page=page, now=at(8, 59)).is_open


def test_a_weekday_without_hours_is_closed_when_other_days_have_some(page):
    hours(TUESDAY, "09:00", "18:00")
    assert not support_availability(page=page, now=at(12, day=2)).is_open  # Wednesday


def test_two_rows_on_one_day_leave_the_lunch_break_closed(page):
    hours(TUESDAY, "09:00", "12:00")
    hours(TUESDAY, "13:00", "18:00")
    assert not support_availability(page=page, now=at(12, 30)).is_open
    assert support_availability(page=page, now=at(13, 30)).is_open


def test_hours_are_read_in_the_configured_time_zone_not_utc(page, settings):
    assert settings.TIME_ZONE == "Europe/Istanbul"
    hours(TUESDAY, "09:00", "18:00")
    # 07:00 UTC is 10:00 in Istanbul: open; 16:00 UTC is 19:00 there: closed.
    assert support_availability(page=page, now=at(7, tz=ZoneInfo("UTC"))).is_open
    assert not support_availability(page=page, now=at(16, tz=ZoneInfo("UTC"))).is_open


def test_hours_past_midnight_are_two_rows_and_23_59_means_until_midnight(page):
    hours(TUESDAY, "20:00", "23:59")
    hours(TUESDAY + 1, "00:00", "02:00")
    assert support_availability(page=page, now=at(23, 59)).is_open
    assert support_availability(page=page, now=at(0, 30, day=2)).is_open
    assert not support_availability(page=page, now=at(2, 0, day=2)).is_open


def test_a_closing_time_before_the_opening_time_is_refused(page):
    with pytest.raises(IntegrityError):
        hours(TUESDAY, "22:00", "02:00")


def test_a_holiday_is_offline_all_day_with_its_name(page):
    hours(TUESDAY, "00:00", "23:59")
    Holiday.objects.create(date=date(2026, 12, 1), name="Company day")
    closed = support_availability(page=page, now=at(12))
    assert (closed.is_open, closed.reason, closed.holiday) == (False, "holiday", "Company day")
    assert support_availability(page=page, now=at(12, day=8)).is_open


def test_a_holiday_is_the_day_in_the_configured_time_zone(page):
    Holiday.objects.create(date=date(2026, 12, 2))
    # 22:30 UTC on the 1st is 01:30 on the 2nd in Istanbul.
    assert not support_availability(page=page, now=at(22, 30, tz=ZoneInfo("UTC"))).is_open


def test_no_agent_active_is_offline_only_when_the_page_says_so(page):
    assert support_availability(page=page, now=at(12)).is_open
    page.offline_when_no_agent = True
    page.save()
    closed = support_availability(page=page, now=at(12))
    assert (closed.is_open, closed.reason) == (False, "no_agent")
    agent = make_user("ayla")
    AgentPresence.objects.update_or_create(user=agent, defaults={"is_active": True})
    assert support_availability(page=page, now=at(12)).is_open
