"""Showing report figures: durations in words, percentages, empty cells as a dash."""

from __future__ import annotations

from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _


def duration(seconds: Any) -> str:
    """3725 -> "1 h 02 min", 200 -> "3 min 20 s", 45 -> "45 s"; None -> "–"."""
    if seconds is None or seconds == "":
        return "–"
    s = int(seconds)
    if s >= 86400:
        return _("%(d)s d %(h)s h") % {"d": s // 86400, "h": s % 86400 // 3600}
    if s >= 3600:
        return _("%(h)s h %(m)02d min") % {"h": s // 3600, "m": s % 3600 // 60}
    if s >= 60:
        return _("%(m)s min %(s)02d s") % {"m": s // 60, "s": s % 60}
    return _("%(s)s s") % {"s": s}


def figure(value: Any, kind: str) -> str:
    """A table cell or card value as shown on the page, by its column kind."""
    if value is None or value == "":
        return "–"
    if kind == "seconds":
        return duration(value)
    if kind == "percent":
        return f"{number_format(value, 1)} %"
    if kind == "decimal":
        return number_format(value, 2)
    if kind == "int":
        return number_format(value, 0, force_grouping=True)
    return str(value)
