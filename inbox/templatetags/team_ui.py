"""Template filters of the supervisor's team screen (``inbox/team/board.html``)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def team_duration(value: timedelta | None) -> str:
    """A time spent, in whole minutes: "45 min", "1 h 05 min"."""
    minutes = int(value.total_seconds() // 60) if value else 0
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}
