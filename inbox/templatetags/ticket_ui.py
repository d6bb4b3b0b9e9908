"""Template helpers of the ticket screen: e-mail HTML, attachments, call timers."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import nh3
from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from tickets.models import Activity, Attachment

register = template.Library()

#: What an e-mail body may keep on the agent screen: text structure and links. No images
#: (a remote image is a tracking pixel), no styles, no forms, no scripts.
EMAIL_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
EMAIL_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
EMAIL_URL_SCHEMES = {"http", "https", "mailto"}

#: Images the attachment view serves inline (SVG can carry script: it downloads instead).
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@register.filter
def email_html(html: str) -> SafeString:
    """An e-mail body sanitised again at render with a strict allow-list (already at ingest)."""
    cleaned = nh3.clean(
        html or "",
        tags=EMAIL_TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=EMAIL_ATTRIBUTES,
        url_schemes=EMAIL_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return mark_safe(cleaned)  # noqa: S308 - nh3 output with the allow-list above


@register.filter
def shows_inline(attachment: Attachment) -> bool:
    return bool(attachment.file) and attachment.content_type in INLINE_IMAGE_TYPES


@register.filter
def call_running(activity: Activity) -> bool:
    return activity.call_started_at is not None and activity.call_ended_at is None


@register.filter
def call_elapsed(activity: Activity) -> int:
    """Seconds on the phone so far, the running call included."""
    seconds = activity.call_seconds
    if call_running(activity):
        started = cast(datetime, activity.call_started_at)  # a running call has started
        seconds += max(0, int((timezone.now() - started).total_seconds()))
    return seconds


@register.filter
def duration(seconds: int) -> str:
    """``m:ss`` (or ``h:mm:ss``)."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d:%(m)02d:%(s)02d") % {"h": hours, "m": minutes, "s": secs}
    return _("%(m)d:%(s)02d") % {"m": minutes, "s": secs}
