"""Thin Celery tasks for the statistics snapshots."""

from __future__ import annotations

from celery import shared_task

from omnico.core.db import retry_on_lost_connection
from reports import services


@shared_task(name="reports.stats_refresh")
@retry_on_lost_connection
def stats_refresh() -> int:
    """Finished hours not yet computed and the current hour (``CELERY_BEAT_SCHEDULE``
    "stats-refresh"); returns how many hours were computed."""
    return len(services.stats_refresh())
