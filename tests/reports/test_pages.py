"""The report tabs: what staff and agents see, filters and periods in the query string, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from configuration.models import BreakReason
from tests.factories import make_user
from tests.reports.snapshots import agent_hour, break_hour, computed, ticket_hour

TABS = ["overview", "agents", "channels", "activities", "breaks", "ratings"]
MARCH = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def url(tab: str) -> str:
    return reverse("reports") if tab == "overview" else reverse("reports-tab", args=[tab])


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def team(db):
    ayse = make_user("ayse", first_name="Ayşe", last_name="Kaya")
    mehmet = make_user("mehmet", first_name="Mehmet", last_name="Demir")
    lunch = BreakReason.objects.create(name="Lunch", max_minutes=30)
    for agent, created, first, util in ((ayse, 3, [60, 120, 180], 1800), (mehmet, 7, [900], 3600)):
        ticket_hour(
            at(2, 9),
            agent=agent,
            channel="telegram",
            created=created,
            assigned=created,
            first_responses=first,
            ratings=[5],
        )
        agent_hour(
            at(2, 9), agent=agent, active_seconds=3600, slot_seconds=util, capacity_seconds=3600
        )
        break_hour(
            at(2, 10), agent=agent, reason=lunch, reason_text="Lunch", seconds=util // 2, started=1
        )
    computed(at(2, 9))
    return ayse, mehmet


def test_reports_need_login(client, db):
    for tab in TABS:
        response = client.get(url(tab))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("tab", TABS)
def test_staff_see_every_agent_on_each_tab(client, team, tab):
    client.force_login(make_user("boss", staff=True))
    content = client.get(url(tab), MARCH).content.decode()
    assert "<h1>Reports</h1>" in content
    if tab in ("agents", "breaks"):
        assert "Ayşe Kaya" in content and "Mehmet Demir" in content


@pytest.mark.parametrize("tab", TABS)
def test_an_agent_sees_only_their_own_figures_even_when_asking_for_another(client, team, tab):
    ayse, mehmet = team
    client.force_login(ayse)
    response = client.get(url(tab), {**MARCH, "agent": mehmet.pk})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Mehmet" not in content
    assert "You see your own figures." in content
    if tab == "overview":
        cards = {str(card.title): card.value for card in response.context["page"].cards}
        assert cards["Tickets created"] == 3  # Ayşe's 3, not the team's 10 nor Mehmet's 7


def test_overview_shows_totals_medians_and_the_last_refresh(client, team):
    client.force_login(make_user("boss", staff=True))
    response = client.get(url("overview"), MARCH)
    cards = {str(card.title): card.value for card in response.context["page"].cards}
    assert cards["Tickets created"] == 10
    assert cards["First response, median"] == 120  # the 2nd of 60, 120, 180, 900 (nearest rank)
    assert cards["Utilisation"] == 75.0
    content = response.content.decode()
    assert "2 min 00 s" in content
    assert "Figures last refreshed" in content
    assert 'data-chart="chart-volume-day"' in content
    assert '<script id="chart-volume-day" type="application/json">' in content


def test_filters_and_the_period_come_from_the_query_string(client, team):
    ayse, mehmet = team
    client.force_login(make_user("boss", staff=True))

    def created(**query):
        page = client.get(url("overview"), {**MARCH, **query}).context["page"]
        return {str(c.title): c.value for c in page.cards}["Tickets created"]

    assert created(agent=mehmet.pk) == 7
    assert created(channel="telegram") == 10
    assert created(channel="email") == 0
    assert created(start="2026-03-03") == 0
    assert created(range="today") == 0  # 2 March is long gone


def test_an_empty_period_says_so_in_plain_words(client, db):
    client.force_login(make_user("boss", staff=True))
    content = client.get(url("overview")).content.decode()
    assert "No figures for this period and these filters." in content
    assert "The hourly figures have not been computed yet." in content


def test_a_custom_period_without_its_dates_falls_back_and_says_why(client, db):
    client.force_login(make_user("boss", staff=True))
    response = client.get(url("overview"), {"range": "custom"})
    assert "Give both dates of the period." in response.content.decode()
    assert response.context["period"].endswith(timezone.localdate().isoformat())


def test_turkish_labels(client, team):
    client.force_login(make_user("boss", staff=True))
    client.cookies["django_language"] = "tr"
    content = client.get(url("breaks"), MARCH, HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Mola nedenine göre" in content


def _count(client, tab, query) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url(tab), query).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("tab", TABS)
def test_each_tab_runs_the_same_queries_for_a_day_and_for_a_year(client, team, tab):
    client.force_login(make_user("boss", staff=True))
    ayse, _mehmet = team
    start = at(2, 0)
    for i in range(0, 24 * 300, 7):
        ticket_hour(start + timedelta(hours=i), agent=ayse, created=1, first_responses=[i % 500])
    one_day = _count(client, tab, {**MARCH, "end": "2026-03-02", "start": "2026-03-02"})
    year = _count(client, tab, {"range": "custom", "start": "2026-03-01", "end": "2027-02-28"})
    assert one_day == year <= 16


@pytest.mark.parametrize("tab", TABS)
def test_an_agent_page_runs_no_more_queries_than_a_staff_one(client, team, tab):
    client.force_login(make_user("boss", staff=True))
    staff = _count(client, tab, MARCH)
    client.force_login(team[0])
    assert _count(client, tab, MARCH) <= staff
