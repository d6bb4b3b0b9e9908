"""What a visitor's socket is sent: the agent's replies and a line when an agent joins.

Registered with ``omnico.core.realtime`` and rendered once per web process and language by its
hub, like the agent screen's fragments. Frames are JSON: ``{"kind", "html"?, "id"?}``; the
HTML comes from the same auto-escaped template as the page's history.
"""

from __future__ import annotations

import json
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from channels_adapters.webchat.selectors import Entry, agent_display_name, entry_files
from omnico.core import realtime
from tickets.models import Message, Ticket, TicketEvent

ENTRY_TEMPLATE = "support/fragments/entry.html"


def _entry_html(entry: Entry, language: str) -> str:
    with translation.override(language):
        return render_to_string(ENTRY_TEMPLATE, {"entry": entry})


@realtime.register("visitor.message", key=lambda event: event["message_id"])
def render_reply(event: dict[str, Any], language: str) -> str | None:
    message = (
        Message.objects.filter(pk=event["message_id"], direction=Message.Direction.OUTBOUND)
        .only("pk", "body", "sent_at")
        .prefetch_related("attachments")
        .first()
    )
    if message is None:
        return None
    entry = Entry(
        kind="out",
        at=message.sent_at,
        text=message.body,
        message_id=message.pk,
        files=entry_files(message),
    )
    return json.dumps({"kind": "message", "id": message.pk, "html": _entry_html(entry, language)})


@realtime.register("visitor.joined", key=lambda event: event["ticket_id"])
def render_joined(event: dict[str, Any], language: str) -> str | None:
    ticket = Ticket.objects.filter(pk=event["ticket_id"]).select_related("assignee").first()
    if ticket is None or ticket.assignee is None:
        return None
    with translation.override(language):
        from django.utils.translation import gettext as _

        text = _("%(name)s joined the chat.") % {"name": agent_display_name(ticket.assignee)}
    entry = Entry(kind="system", at=ticket.updated_at, text=text)
    return json.dumps({"kind": "system", "html": _entry_html(entry, language)})


@realtime.register("visitor.ticket")
def render_ticket(event: dict[str, Any], language: str) -> str | None:
    return None  # the visitor's socket follows the ticket (consumers.py); nothing to show


@realtime.fanout("ticket.changed")
def joined_fanout(group: str, payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """A ticket's new agent is announced to its web-chat visitor (if any is connected)."""
    if payload.get("change") != TicketEvent.Kind.ASSIGNEE or "ticket_id" not in payload:
        return []
    ticket_id = payload["ticket_id"]
    return [(realtime.visitor_ticket_group(ticket_id), "visitor.joined", {"ticket_id": ticket_id})]
