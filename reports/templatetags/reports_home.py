"""``{% home_my_day %}``: the homepage's own-figures block, rendered from the snapshots.

A template tag, so the homepage (``inbox``, which imports no ``reports`` code: the import
contracts) shows it without a second request.
"""

from __future__ import annotations

from typing import Any

from django import template

from reports.homecard import home_my_day as my_day

register = template.Library()


@register.inclusion_tag("reports/fragments/home_my_day.html", takes_context=True)
def home_my_day(context: template.Context) -> dict[str, Any]:
    return {"day": my_day(user=context["request"].user)}


@register.filter
def duration_hm(seconds: int | None) -> str:
    """Seconds as "2 h 05 min" / "7 min" / "45 s" (numbers only; units are the same in TR)."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
