"""Small template helpers of the agent screens."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django import template
from django.template.loader import get_template
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from configuration.models import ChannelKind

register = template.Library()


@register.simple_tag
def channel_icon(kind: str) -> SafeString | str:
    """The channel's logo, an inline SVG from ``templates/inbox/icons/<kind>.svg``."""
    if kind not in ChannelKind.values:
        return ""
    return get_template(f"inbox/icons/{kind}.svg").render({})


@register.filter
def safe_href(url: str) -> str:
    """The address if it is http(s) or site-relative; otherwise nothing (no ``javascript:``)."""
    url = (url or "").strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    if urlsplit(url).scheme.lower() in {"http", "https"}:
        return url
    return ""


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None/"" drops one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def ago(when: datetime | None) -> str:
    """Relative time: "just now" under a minute, else "5 minutes ago"."""
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return _("just now")
    return _("%(since)s ago") % {"since": timesince(when, depth=1)}


@register.filter
def sort_key(ticket, sort: str = "recent") -> str:
    """The ticket's position in a list order (``inbox.selectors.SORTS``), as its cursor."""
    from inbox.selectors import SORTS, cursor_encode

    return cursor_encode(ticket, sort if sort in SORTS else "recent")


@register.simple_tag(takes_context=True)
def list_sort_key(context, ticket) -> str:
    """The ticket's position in the order of the list being rendered (``list_sort``)."""
    return sort_key(ticket, context.get("list_sort") or "recent")
