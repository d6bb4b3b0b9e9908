"""The periodic statistics job: one schedule for Celery beat and the embedded scheduler."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from omnico.celery import app
from reports import tasks
from reports.models import StatsHour
from reports.services import hour_floor

pytestmark = pytest.mark.django_db


def test_the_refresh_is_scheduled_every_few_minutes_by_name():
    entry = settings.CELERY_BEAT_SCHEDULE["stats-refresh"]
    assert entry["task"] == "reports.stats_refresh" == tasks.stats_refresh.name
    assert entry["schedule"] == settings.OMNICO_STATS_REFRESH_SECONDS == 300
    app.loader.import_default_modules()
    assert "reports.stats_refresh" in app.tasks


def test_the_task_computes_the_current_hour_for_the_homepage():
    assert tasks.stats_refresh() == 1  # no tickets yet: only the current hour
    assert list(StatsHour.objects.values_list("hour", flat=True)) == [hour_floor(timezone.now())]
