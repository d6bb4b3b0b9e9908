"""The homepage's Statistics card: the agent's own figures of today, from the snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.histogram import hist_from
from reports.models import HourlyAgentStat, HourlyTicketStat, StatsHour
from reports.services import hour_floor, local_day_bounds

pytestmark = pytest.mark.django_db


def _today_hours() -> tuple[datetime, datetime]:
    start, _end = local_day_bounds(timezone.localdate())
    return start, hour_floor(timezone.now())


def test_the_card_shows_my_figures_of_today_and_when_they_were_updated(agent_client, agent):
    first, current = _today_hours()
    other = first - timedelta(hours=1)  # yesterday (local): not counted
    for hour, assigned in ((first, 3), (current, 2), (other, 50)):
        HourlyTicketStat.objects.create(
            hour=hour,
            agent=agent,
            channel="telegram",
            assigned=assigned,
            resolved=1,
            messages_out=4,
            first_response_count=1,
            first_response_hist=hist_from([120]),
        )
    if first != current:
        HourlyAgentStat.objects.create(hour=first, agent=agent, active_seconds=1800)
    HourlyAgentStat.objects.create(
        hour=current,
        agent=agent,
        active_seconds=1800 if first != current else 3600,
        passive_seconds=600,
        slot_seconds=5400,
        capacity_seconds=5 * 3600,
    )
    updated = datetime(2026, 1, 1, 7, 42, tzinfo=UTC)
    StatsHour.objects.create(hour=current, computed_at=updated)
    content = agent_client.get(reverse("home")).content.decode()
    assigned = 5 if first != current else 2 + 3  # the first hour and the current one
    assert f'Tickets taken</th><td class="num">{assigned}</td>' in content
    assert 'Replies sent</th><td class="num">8</td>' in content
    assert 'First response (median)</th><td class="num">2 min</td>' in content
    assert 'Time active</th><td class="num">1 h 00 min</td>' in content
    assert 'Time on break</th><td class="num">10 min</td>' in content
    assert 'Utilisation</th><td class="num">30%</td>' in content
    local = timezone.localtime(updated).strftime("%H:%M")
    assert f"updated {local}" in content


def test_the_card_speaks_turkish_and_says_when_nothing_is_computed_yet(agent_client, agent):
    content = agent_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Bugününüz" in content and "henüz hesaplanmadı" in content
    assert 'Doluluk</th><td class="num">–</td>' in content
