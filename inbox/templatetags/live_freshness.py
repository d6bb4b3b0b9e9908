"""``{% live_render_stamp %}``: the server's clock as a fragment is rendered, for the check that
``static/js/live.js`` makes when its socket joins (``inbox/list_freshness.py``)."""

from __future__ import annotations

from django import template

from inbox import list_freshness

register = template.Library()


@register.simple_tag
def live_render_stamp() -> str:
    return list_freshness.render_stamp()
