"""Is the support page open? Business hours, holidays and (optionally) an active agent.

A read, kept apart from ``selectors.py`` (the conversation reads) because the offline side is
its own subdomain. Times are compared in the configured ``TIME_ZONE``. Hours are
``opens_at <= now < closes_at`` on their weekday (the database refuses a closing time at or
before the opening time: hours past midnight are a second row on the next weekday), except
that a closing time of 23:59 runs until midnight. No business hours configured at all means
always open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.utils import timezone

from configuration.models import BusinessHours, Holiday, SupportPage
from tickets.models import AgentPresence

#: A closing time at this minute means "until midnight".
END_OF_DAY = time(23, 59)


@dataclass(frozen=True)
class Availability:
    """``reason`` says why the page is offline: "hours", "holiday" or "no_agent"; "" when open.
    ``holiday``: the holiday's name, when that is the reason."""

    is_open: bool
    reason: str = ""
    holiday: str = ""


OPEN = Availability(is_open=True)


def _within_hours(local: datetime) -> bool | None:
    """True/False by the weekday's business hours; None when no hours are configured."""
    rows = list(BusinessHours.objects.values_list("weekday", "opens_at", "closes_at"))
    if not rows:
        return None
    now = local.time().replace(tzinfo=None)
    for weekday, opens_at, closes_at in rows:
        if weekday != local.weekday():
            continue
        if opens_at <= now and (now < closes_at or closes_at >= END_OF_DAY):
            return True
    return False


def any_agent_active() -> bool:
    """Whether an agent takes tickets now (active, with a capacity)."""
    return AgentPresence.objects.filter(
        is_active=True, user__is_active=True, user__operator_profile__isnull=False
    ).exists()


def support_availability(*, page: SupportPage, now: datetime | None = None) -> Availability:
    """Whether ``page`` takes live chats at ``now`` (default: now), and if not, why.

    A holiday comes first, then the weekday's hours, then (when the page says so) whether any
    agent is active. At most three small queries."""
    local = timezone.localtime(now or timezone.now())
    holiday = Holiday.objects.filter(date=local.date()).values_list("name", flat=True).first()
    if holiday is not None:
        return Availability(is_open=False, reason="holiday", holiday=holiday)
    if _within_hours(local) is False:
        return Availability(is_open=False, reason="hours")
    if page.offline_when_no_agent and not any_agent_active():
        return Availability(is_open=False, reason="no_agent")
    return OPEN
