"""The homepage's Statistics card: the signed-in agent's own figures for today, from snapshots.

Today is the local day (``TIME_ZONE``); its finished hours and the current one are read from the
hourly snapshots, the current hour as the periodic job (``reports.stats_refresh``, every
``OMNICO_STATS_REFRESH_SECONDS``) last wrote it, so the card costs three small queries and never
scans the ticket tables; "updated HH:MM" says when that was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Max, Sum
from django.utils import timezone

from reports.histogram import hist_merge, hist_percentile
from reports.models import HourlyAgentStat, HourlyTicketStat, StatsHour
from reports.services import local_day_bounds

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class MyDay:
    assigned: int
    resolved: int
    messages_out: int
    first_response_median: int | None  # seconds
    active_seconds: int
    passive_seconds: int
    away_seconds: int
    utilisation: int | None  # percent
    updated: datetime | None


def home_my_day(*, user: AbstractBaseUser | AnonymousUser, now: datetime | None = None) -> MyDay:
    """``user``'s figures for the local day of ``now``: three queries."""
    now = now or timezone.now()
    start, end = local_day_bounds(timezone.localdate(now))
    rows = list(
        HourlyTicketStat.objects.filter(agent_id=user.pk, hour__gte=start, hour__lt=end)
        .order_by()
        .values_list("assigned", "resolved", "messages_out", "first_response_hist")
    )
    agent = HourlyAgentStat.objects.filter(
        agent_id=user.pk, hour__gte=start, hour__lt=end
    ).aggregate(
        active=Sum("active_seconds"),
        passive=Sum("passive_seconds"),
        away=Sum("away_seconds"),
        slots=Sum("slot_seconds"),
        capacity=Sum("capacity_seconds"),
    )
    updated = StatsHour.objects.filter(hour__lt=end).aggregate(at=Max("computed_at"))["at"]
    capacity = agent["capacity"] or 0
    return MyDay(
        assigned=sum(row[0] for row in rows),
        resolved=sum(row[1] for row in rows),
        messages_out=sum(row[2] for row in rows),
        first_response_median=hist_percentile(hist_merge(row[3] for row in rows), 0.5),
        active_seconds=agent["active"] or 0,
        passive_seconds=agent["passive"] or 0,
        away_seconds=agent["away"] or 0,
        utilisation=round(100 * (agent["slots"] or 0) / capacity) if capacity else None,
        updated=updated,
    )
