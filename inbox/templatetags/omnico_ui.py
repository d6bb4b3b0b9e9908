"""Small template helpers of the agent screens.

The inbox renders 25 rows and the conversation 30 messages per request, so what each row or
message shows more than once is a tag here rather than an ``{% include %}``: one Python call
instead of a sub-template, and choice labels looked up in a per-language table built once per
process instead of a translation call per badge.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, get_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from configuration.models import ChannelKind
from tickets.models import Message, Priority, TicketStatus

register = template.Library()

#: The choice sets whose labels the screens show, by the name templates use.
CHOICES = {
    "status": TicketStatus,
    "priority": Priority,
    "source": ChannelKind,
    "delivery": Message.Delivery,
}

_labels_by_language: dict[str | None, dict[str, dict[str, str]]] = {}
_icons: dict[str, SafeString] = {}
_CHANNELS = frozenset(ChannelKind.values)
#: Date format characters that need more than the local wall-clock minute (seconds, time zone).
_FINER_THAN_MINUTE = frozenset("sucvUreIOTZ")


def choice_labels() -> dict[str, dict[str, str]]:
    """``{"status": {"open": "Open", ...}, ...}`` in the active language (built once each)."""
    language = translation.get_language()
    labels = _labels_by_language.get(language)
    if labels is None:
        labels = {
            name: {value: str(label) for value, label in choices.choices}
            for name, choices in CHOICES.items()
        }
        _labels_by_language[language] = labels
    return labels


@register.filter
def label_of(value: str, choices: str) -> str:
    """The translated label of a choice value: ``{{ ticket.status|label_of:"status" }}``."""
    return choice_labels()[choices].get(value, value or "")


def _icon(kind: str) -> SafeString:
    icon = None if settings.DEBUG else _icons.get(kind)
    if icon is None:
        icon = _icons[kind] = mark_safe(get_template(f"inbox/icons/{kind}.svg").render({}))  # noqa: S308 - our own SVG files
    return icon


@register.simple_tag
def channel_icon(kind: str) -> SafeString | str:
    """The channel's logo, an inline SVG from ``templates/inbox/icons/<kind>.svg``."""
    if kind not in _CHANNELS:
        return ""
    return _icon(kind)


@register.simple_tag
def channel_badge(kind: str, hidden_label: bool = True) -> SafeString:
    """The channel's logo with its name as a tooltip (and for screen readers)."""
    if kind not in _CHANNELS:
        return format_html('<span class="channel-icon"></span>')
    label = choice_labels()["source"].get(kind, kind)
    if hidden_label:
        return format_html(
            '<span class="channel-icon" title="{}">{}'
            '<span class="visually-hidden">{}</span></span>',
            label,
            _icon(kind),
            label,
        )
    return format_html('<span class="channel-icon" title="{}">{}</span>', label, _icon(kind))


@register.simple_tag
def ticket_badges(ticket) -> SafeString:
    """The status and priority badges of a ticket."""
    labels = choice_labels()
    return format_html(
        '<span class="badge badge-status-{}">{}</span>\n'
        '<span class="badge badge-priority-{}">{}</span>',
        ticket.status,
        labels["status"].get(ticket.status, ticket.status),
        ticket.priority,
        labels["priority"].get(ticket.priority, ticket.priority),
    )


@register.simple_tag
def when(value: datetime | None) -> SafeString:
    """``<time>``: relative ("5 minutes ago"), the exact local time on hover; "—" if none."""
    if not value:
        return format_html('<span class="muted">{}</span>', "—")
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', local.isoformat(), exact_time(local), ago(value)
    )


def exact_time(local: datetime) -> str:
    """``DATETIME_FORMAT`` of a local time. Formatting a date costs more than the rest of a
    ``when``, and a page shows many times of the same few minutes: when the format shows
    nothing finer than the wall-clock minute, the text is remembered per language and minute."""
    fmt = get_format("DATETIME_FORMAT")
    if not _FINER_THAN_MINUTE.isdisjoint(fmt):
        return date_format(local, "DATETIME_FORMAT")
    minute = local.replace(second=0, microsecond=0, tzinfo=None)
    return _minute_text(translation.get_language(), fmt, minute)


@lru_cache(maxsize=8192)
def _minute_text(language: str | None, fmt: str, minute: datetime) -> str:
    return date_format(minute, fmt)


_URL_PLACEHOLDER = 987654321
_ticket_url_patterns: dict[str, str] = {}


@register.filter
def ticket_url(ticket_id: int) -> str:
    """``{% url 'ticket-detail' id %}`` for the rows of a list, without a URL reverse per row."""
    prefix = get_script_prefix()
    pattern = _ticket_url_patterns.get(prefix)
    if pattern is None:
        pattern = reverse("ticket-detail", args=[_URL_PLACEHOLDER])
        _ticket_url_patterns[prefix] = pattern
    return pattern.replace(str(_URL_PLACEHOLDER), str(int(ticket_id)))


@register.simple_tag
def select_options(field) -> SafeString:
    """The ``<option>``s of a bound choice field, the current value selected: the same HTML as
    the widget's, without a sub-template per option (the filter bars render them per page)."""
    current = field.value()
    current = "" if current is None else str(current)
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, mark_safe(" selected") if str(value) == current else "", label)
            for value, label in field.field.choices
        ),
    )


@register.filter
def safe_href(url: str) -> str:
    """The address if it is an http(s) address with a host, or a path on this site; otherwise
    nothing. Browsers read ``/\\host``, ``\\\\host`` and paths with tabs or newlines in them as
    another site, and ``javascript:`` as a script: Django's own redirect check
    (``url_has_allowed_host_and_scheme``) decides what is site-relative, and an address with
    control characters is refused outright."""
    url = (url or "").strip()
    if not url or any(ord(char) < 32 or ord(char) == 127 for char in url):
        return ""
    if url.startswith(("/", "\\")):
        return url if url_has_allowed_host_and_scheme(url, allowed_hosts=None) else ""
    parts = urlsplit(url)
    if parts.scheme.lower() in {"http", "https"} and parts.netloc:
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


@register.filter
def total_minutes(value) -> int:
    """A timedelta in whole minutes, rounded up (the sign-in lockout page)."""
    seconds = value.total_seconds() if hasattr(value, "total_seconds") else 0
    return max(1, -(-int(seconds) // 60)) if seconds else 0
