"""Hand-made snapshot rows for the report pages' tests (the hourly job is tested on its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from reports.histogram import hist_from
from reports.models import (
    HourlyActivityStat,
    HourlyAgentStat,
    HourlyBreakStat,
    HourlyTicketStat,
    StatsHour,
)


def ticket_hour(
    hour: datetime,
    *,
    first_responses: list[int] = (),  # type: ignore[assignment]
    resolutions: list[int] = (),  # type: ignore[assignment]
    pool_waits: list[int] = (),  # type: ignore[assignment]
    ratings: list[int] = (),  # type: ignore[assignment]
    **fields: Any,
) -> HourlyTicketStat:
    """One row; the durations given become its histogram, count, sum (and max for pool waits)."""
    rating_hist: dict[str, int] = {}
    for stars in ratings:
        rating_hist[str(stars)] = rating_hist.get(str(stars), 0) + 1
    return HourlyTicketStat.objects.create(
        hour=hour,
        first_response_count=len(first_responses),
        first_response_seconds=sum(first_responses),
        first_response_hist=hist_from(first_responses),
        resolution_count=len(resolutions),
        resolution_seconds=sum(resolutions),
        resolution_hist=hist_from(resolutions),
        pool_wait_count=len(pool_waits),
        pool_wait_seconds=sum(pool_waits),
        pool_wait_max=max(pool_waits, default=0),
        pool_wait_hist=hist_from(pool_waits),
        rating_count=len(ratings),
        rating_sum=sum(ratings),
        rating_hist=rating_hist,
        **fields,
    )


def agent_hour(hour: datetime, *, agent, **fields: Any) -> HourlyAgentStat:
    return HourlyAgentStat.objects.create(hour=hour, agent=agent, **fields)


def break_hour(hour: datetime, *, agent, **fields: Any) -> HourlyBreakStat:
    return HourlyBreakStat.objects.create(hour=hour, agent=agent, **fields)


def activity_hour(hour: datetime, **fields: Any) -> HourlyActivityStat:
    return HourlyActivityStat.objects.create(hour=hour, **fields)


def computed(hour: datetime, at: datetime | None = None) -> StatsHour:
    return StatsHour.objects.create(hour=hour, computed_at=at or timezone.now())
