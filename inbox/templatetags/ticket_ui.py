"""Template helpers of the ticket screen: e-mail HTML, attachments, call timers, history."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_adapters.email.parser import AUTOMATIC_REASONS
from inbox.mail_html import MailHtml, mail_html
from tickets.attachments import INLINE_IMAGE_TYPES
from tickets.models import Activity, Attachment, Message, Priority, TicketEvent, TicketStatus

register = template.Library()


@register.simple_tag
def mail_body(message: Message, remote_images: bool = False) -> MailHtml:
    """An e-mail's HTML for the agent (``inbox.mail_html``): remote pictures left out."""
    return mail_html(message, remote_images=remote_images)


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
        assert activity.call_started_at is not None  # call_running checked it
        seconds += max(0, int((timezone.now() - activity.call_started_at).total_seconds()))
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


def _name(user) -> str:
    if user is None:
        return _("System")
    return user.get_full_name() or user.get_username()


def _label(choices: type, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "—")


@register.filter
def history_text(event: TicketEvent) -> str:
    """A history line of the side panel: "Ayşe changed priority from Low to High", in the
    active language (rendered, not stored, so each agent reads it in theirs)."""
    data = event.data or {}
    who = _name(event.actor)
    kind = event.kind
    Kind = TicketEvent.Kind
    if kind == Kind.STATUS:
        return _("%(who)s changed status from %(old)s to %(new)s") % {
            "who": who,
            "old": _label(TicketStatus, data.get("old")),
            "new": _label(TicketStatus, data.get("new")),
        }
    if kind == Kind.PRIORITY:
        return _("%(who)s changed priority from %(old)s to %(new)s") % {
            "who": who,
            "old": _label(Priority, data.get("old")),
            "new": _label(Priority, data.get("new")),
        }
    if kind == Kind.ASSIGNEE:
        return _assignee_text(data, who)
    if kind == Kind.DEPARTMENT:
        if not data.get("new"):
            return _("%(who)s removed the department") % {"who": who}
        return _("%(who)s moved the ticket to %(department)s") % {
            "who": who,
            "department": data.get("new_name") or data.get("new"),
        }
    if kind == Kind.TAG_ADDED:
        return _("%(who)s added tag “%(tag)s”") % {"who": who, "tag": data.get("tag", "")}
    if kind == Kind.TAG_REMOVED:
        return _("%(who)s removed tag “%(tag)s”") % {"who": who, "tag": data.get("tag", "")}
    if kind == Kind.ACTIVITY_ADDED:
        return _("%(who)s added activity “%(reason)s”") % {
            "who": who,
            "reason": data.get("call_reason", ""),
        }
    if kind == Kind.ACTIVITY_STARTED:
        return _("%(who)s started a call") % {"who": who}
    if kind == Kind.ACTIVITY_STOPPED:
        return _("%(who)s stopped a call (%(seconds)s s)") % {
            "who": who,
            "seconds": data.get("seconds", 0),
        }
    if kind == Kind.ACTIVITY_DONE:
        return _("%(who)s marked an activity done") % {"who": who}
    if kind == Kind.CREATED:
        return _("Ticket created")
    if kind == Kind.REOPENED:
        return _("%(who)s reopened the ticket") % {"who": who}
    return _("%(who)s: %(change)s") % {"who": who, "change": event.get_kind_display()}


@register.filter
def automatic_reason(message: Message) -> str:
    """Why an automatic message (an e-mail auto-reply, a bounce) was kept out of the way."""
    meta = message.meta if isinstance(message.meta, dict) else {}
    return str(AUTOMATIC_REASONS.get(str(meta.get("automatic", "")), ""))


#: What an overridden routing rule reads as in the history (``tickets.assignment``).
_OVERRIDDEN = {
    "not_active": gettext_lazy("the agent was not active"),
    "no_capacity": gettext_lazy("the agent has no capacity"),
    "at_capacity": gettext_lazy("the agent was at capacity"),
}


def _assignee_text(data: dict[str, Any], who: str) -> str:
    if data.get("reason") == "no_reply":
        return _("Back to the pool: no reply to the customer within %(minutes)s minutes") % {
            "minutes": data.get("minutes", "?")
        }
    if not data.get("new"):
        return _("%(who)s unassigned the ticket") % {"who": who}
    if data.get("taken"):
        return _("%(who)s took the ticket from the pool") % {"who": who}
    text = _("%(who)s assigned the ticket to %(agent)s") % {
        "who": who,
        "agent": data.get("new_name") or data.get("new"),
    }
    if data.get("override"):
        rule = _OVERRIDDEN.get(data["override"], data["override"])
        text += " " + _("(over the routing rules: %(rule)s)") % {"rule": rule}
    return text
