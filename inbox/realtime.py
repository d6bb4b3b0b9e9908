"""What the agent screen's websocket pushes: fragments rendered where the sockets are.

Services publish bare events (ids only) through ``omnico.core.realtime.publish``. The renderers
registered here run in the web process that holds the sockets, when the event arrives there,
once per event and language per process whatever the number of agents connected to it (the
process's hub, ``omnico.core.realtime_hub``); the consumers (``inbox/consumers.py``) queue the
text. Nothing per-agent goes into a pushed fragment: the list row is the same for everyone
("mine" is decided in the browser from the row's ``data-assignee``).

What each event becomes (the browser side is ``static/js/live.js``):

- ``inbox.ticket`` (agents) → a list-row envelope: the row partial plus its facets (assignee,
  status, channel, department, sort key) so each browser decides whether the row belongs in the
  tab it is showing, and where, or asks the server for the list when it cannot tell.
- ``ticket.message`` (ticket watchers) → the message partial: appended to the conversation, or
  replacing ``#message-<id>`` (delivery-state changes). A fresh reply also publishes the row
  (``tickets.services.message_add_outbound``).
- ``ticket.changed`` (ticket watchers) → a "refresh the panel" trigger: the panel holds the
  agent's own forms, so each watcher (a handful per ticket) re-fetches it with its own request;
  every ``ticket.changed`` also publishes the ticket's row to all agents (the fan-out below).
- ``ticket.assigned`` (one agent) → a toast.
- ``ticket.unanswered`` (one agent) → a toast: the ticket went back to the pool because its
  customer waited too long for a reply (``tickets.assignment``).
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from inbox.selectors import SORTS, cursor_encode, inbox_row, inbox_rows_by_id
from inbox.ticket_selectors import message_for_render
from omnico.core import realtime
from tickets.models import ACTIVE_STATUSES, SLOT_STATUSES, Ticket

ROW_TEMPLATE = "inbox/list/row.html"
MESSAGE_TEMPLATE = "inbox/ticket/message.html"
TOAST_TEMPLATE = "inbox/fragments/toast.html"
LIVE_TEMPLATE = "inbox/fragments/live.html"


def render_in(language: str, context: dict[str, Any]) -> str:
    """The live envelope in one language (template lookups are cached by the loader)."""
    with translation.override(language):
        return render_to_string(LIVE_TEMPLATE, context)


def _row_context(ticket: Ticket, *, created: bool) -> dict[str, Any]:
    return {
        "kind": "row",
        "ticket": ticket,
        "row_template": ROW_TEMPLATE,
        "sorts": {name: cursor_encode(ticket, name) for name in SORTS},
        "list_sort": "recent",  # the row's own data-sort; live.js re-keys it per list
        "is_active": ticket.status in ACTIVE_STATUSES,
        "is_slot": ticket.status in SLOT_STATUSES,
        "is_offline": ticket.is_offline,
        "created": created,
    }


def _either_created(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    return {**later, "created": bool(earlier.get("created") or later.get("created"))}


def _load_rows(events: list[dict[str, Any]]) -> dict[int, Ticket]:
    return inbox_rows_by_id([event["ticket_id"] for event in events])


# A row, a message, a panel show the object as it is when rendered: of several events about one
# that wait together, the last is rendered (a new ticket's row keeps its "new" mark). The rows
# of a batch are fetched together.
@realtime.register(
    "inbox.ticket",
    key=lambda event: event["ticket_id"],
    merge=_either_created,
    load=_load_rows,
)
def render_inbox_ticket(event: dict[str, Any], language: str) -> str | None:
    ticket = realtime.loaded(event, lambda: inbox_row(event["ticket_id"]))
    if ticket is None:  # deleted since
        return None
    return render_in(language, _row_context(ticket, created=bool(event.get("created"))))


@realtime.register("ticket.message", key=lambda event: event["message_id"])
def render_ticket_message(event: dict[str, Any], language: str) -> str | None:
    message = message_for_render(event["message_id"])
    if message is None:
        return None
    return render_in(
        language,
        {
            "kind": "message",
            "message": message,
            "ticket_id": message.ticket_id,
            "ticket": message.ticket,
            "message_template": MESSAGE_TEMPLATE,
        },
    )


@realtime.register("ticket.changed", key=lambda event: event["ticket_id"])
def render_ticket_changed(event: dict[str, Any], language: str) -> str | None:
    return render_in(language, {"kind": "refresh", "ticket_id": event["ticket_id"]})


@realtime.fanout("ticket.changed")
def ticket_changed_row(group: str, payload: dict[str, Any]) -> list:
    """A changed ticket's row changes for every agent too."""
    return [(realtime.AGENTS_GROUP, "inbox.ticket", {"ticket_id": payload["ticket_id"]})]


# An assignment's toast names the ticket's customer: the tickets of a batch's assignments are
# fetched together like rows (the pool draining into free slots assigns many at once).
@realtime.register("ticket.assigned", key=lambda event: event["ticket_id"], load=_load_rows)
def render_ticket_assigned(event: dict[str, Any], language: str) -> str | None:
    ticket = realtime.loaded(event, lambda: inbox_row(event["ticket_id"]))
    if ticket is None:
        return None
    with translation.override(language):
        text = _("Ticket #%(id)s from %(customer)s was assigned to you.") % {
            "id": ticket.pk,
            "customer": ticket.customer.name,
        }
        return render_to_string(
            LIVE_TEMPLATE,
            {"kind": "toast", "level": "info", "text": text, "toast_template": TOAST_TEMPLATE},
        )


@realtime.register("ticket.unanswered", key=lambda event: event["ticket_id"])
def render_ticket_unanswered(event: dict[str, Any], language: str) -> str | None:
    with translation.override(language):
        text = _(
            "Ticket #%(id)s went back to the pool: its customer had no reply for %(minutes)s "
            "minutes."
        ) % {"id": event["ticket_id"], "minutes": event.get("minutes", "?")}
        return render_to_string(
            LIVE_TEMPLATE,
            {"kind": "toast", "level": "warning", "text": text, "toast_template": TOAST_TEMPLATE},
        )
