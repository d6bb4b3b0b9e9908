"""What the agent screen's websocket pushes: fragments rendered once per event, after commit.

Services publish bare events (ids only) through ``omnico.realtime.publish``; the renderers
registered here run once in the publishing process, after commit, and turn each event into the
group messages the consumers forward (``inbox/consumers.py``). Every message carries its HTML
in each configured language (``{"en": "...", "tr": "..."}``), so 50 agents cost two renders,
not fifty. Nothing per-agent goes into a pushed fragment: the list row is the same for everyone
("mine" is decided in the browser from the row's ``data-assignee``).

What each event becomes (the browser side is ``static/js/live.js``):

- ``inbox.ticket`` (agents) → a list-row envelope: the row partial plus its facets (assignee,
  status, channel, department, sort key) so each browser decides whether the row belongs in the
  tab it is showing, and where, or asks the server for the list when it cannot tell.
- ``ticket.message`` (ticket watchers) → the message partial: appended to the conversation, or
  replacing ``#message-<id>`` (delivery-state changes). A fresh reply also refreshes the row.
- ``ticket.changed`` (ticket watchers) → a "refresh the panel" trigger: the panel holds the
  agent's own forms, so each watcher (a handful per ticket) re-fetches it with its own request;
  plus the ticket's row pushed to every agent.
- ``ticket.assigned`` (one agent) → a toast. ``toast`` (one agent) → a toast.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string, select_template
from django.utils import translation
from django.utils.translation import gettext as _

from inbox.selectors import SORTS, cursor_encode
from omnico import realtime
from tickets.models import ACTIVE_STATUSES, SLOT_STATUSES, Message, Ticket

ROW_TEMPLATES = ["inbox/list/row.html", "inbox/inbox.html#ticket-row"]
MESSAGE_TEMPLATES = ["inbox/ticket/message.html", "inbox/ticket_detail.html#message"]
TOAST_TEMPLATES = ["includes/toast.html", "inbox/fragments/toast.html"]
LIVE_TEMPLATE = "inbox/fragments/live.html"

Html = dict[str, str]


def languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def render_languages(context: dict[str, Any]) -> Html:
    """The live envelope in every language (template lookups are cached by the loader)."""
    rendered = {}
    for code in languages():
        with translation.override(code):
            rendered[code] = render_to_string(LIVE_TEMPLATE, context)
    return rendered


# --- one-object reads (one query each) ------------------------------------------------------


def _row_ticket(ticket_id: int) -> Ticket | None:
    try:
        from inbox.selectors import inbox_row  # the list engineer's one-row selector
    except ImportError:
        return Ticket.objects.select_related("customer", "assignee").filter(pk=ticket_id).first()
    return inbox_row(ticket_id)


def _message(message_id: int) -> Message | None:
    try:
        from inbox.ticket_selectors import message_for_render
    except ImportError:
        return (
            Message.objects.select_related("author", "ticket")
            .prefetch_related("attachments")
            .filter(pk=message_id)
            .first()
        )
    return message_for_render(message_id)


# --- fragments ------------------------------------------------------------------------------


def row_html(ticket: Ticket, *, created: bool = False) -> Html:
    return render_languages(
        {
            "kind": "row",
            "ticket": ticket,
            "row_template": select_template(ROW_TEMPLATES),
            "sorts": {name: cursor_encode(ticket, name) for name in SORTS},
            "list_sort": "recent",  # the row's own data-sort; live.js re-keys it per list
            "is_active": ticket.status in ACTIVE_STATUSES,
            "is_slot": ticket.status in SLOT_STATUSES,
            "created": created,
        }
    )


def _row_message(ticket_id: int, *, created: bool = False) -> tuple[str, dict] | None:
    ticket = _row_ticket(ticket_id)
    if ticket is None:
        return None
    return (
        realtime.AGENTS_GROUP,
        {
            "type": "inbox.ticket",
            "ticket_id": ticket_id,
            "created": created,
            "html": row_html(ticket, created=created),
        },
    )


@realtime.register("inbox.ticket")
def render_inbox_ticket(group: str, event: dict[str, Any]) -> realtime.Outgoing:
    row = _row_message(event["ticket_id"], created=bool(event.get("created")))
    if row is None:  # deleted before the commit hook ran
        return []
    return [(group, row[1])]


@realtime.register("ticket.message")
def render_ticket_message(group: str, event: dict[str, Any]) -> realtime.Outgoing:
    message = _message(event["message_id"])
    if message is None:
        return []
    html = render_languages(
        {
            "kind": "message",
            "message": message,
            "ticket_id": message.ticket_id,
            "ticket": message.ticket,
            "message_template": select_template(MESSAGE_TEMPLATES),
        }
    )
    outgoing: realtime.Outgoing = [(group, {**event, "html": html})]
    fresh_reply = (
        message.direction == Message.Direction.OUTBOUND
        and message.delivery == Message.Delivery.PENDING
    )
    if fresh_reply:  # the row's preview and unread marker changed
        row = _row_message(message.ticket_id)
        if row is not None:
            outgoing.append(row)
    return outgoing


@realtime.register("ticket.changed")
def render_ticket_changed(group: str, event: dict[str, Any]) -> realtime.Outgoing:
    html = render_languages({"kind": "refresh", "ticket_id": event["ticket_id"]})
    outgoing: realtime.Outgoing = [(group, {**event, "html": html})]
    row = _row_message(event["ticket_id"])
    if row is not None:
        outgoing.append(row)
    return outgoing


def toast_html(*, level: str, text: Any) -> Html:
    """``text`` may be a lazy translation: it is rendered in each language."""
    return render_languages(
        {"kind": "toast", "level": level, "text": text, "toast_template": _toast_template()}
    )


def _toast_template():
    return select_template(TOAST_TEMPLATES)


@realtime.register("ticket.assigned")
def render_ticket_assigned(group: str, event: dict[str, Any]) -> realtime.Outgoing:
    ticket = _row_ticket(event["ticket_id"])
    if ticket is None:
        return []
    rendered = {}
    template = _toast_template()
    for code in languages():
        with translation.override(code):
            text = _("Ticket #%(id)s from %(customer)s was assigned to you.") % {
                "id": ticket.pk,
                "customer": ticket.customer.name,
            }
            rendered[code] = render_to_string(
                LIVE_TEMPLATE,
                {"kind": "toast", "level": "info", "text": text, "toast_template": template},
            )
    return [(group, {**event, "html": rendered})]


@realtime.register("toast")
def render_toast(group: str, event: dict[str, Any]) -> realtime.Outgoing:
    return [
        (
            group,
            {
                "type": "toast",
                "html": toast_html(level=event.get("level", "info"), text=event["text"]),
            },
        )
    ]


def toast(*, user_id: int, level: str, text: Any) -> None:
    """A notice for one agent, in the top-right corner of every page they have open."""
    realtime.publish(realtime.agent_group(user_id), "toast", level=level, text=text)
