"""What a visitor's socket is sent: the agent's replies, a line when an agent joins, and its
place in the pool while it waits.

Registered with ``omnico.core.realtime`` and rendered once per web process and language by its
hub, like the agent screen's fragments. Frames are JSON: ``{"kind", "html"?, "id"?}``; the
HTML comes from the same auto-escaped template as the page's history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from channels_adapters.webchat.selectors import (
    Entry,
    QueueStatus,
    agent_display_name,
    entry_files,
    visitor_queue,
)
from configuration.models import ChannelKind
from omnico.core import realtime
from tickets import selectors as ticket_selectors
from tickets.feedback import ticket_can_be_rated
from tickets.models import SLOT_STATUSES, Message, Ticket, TicketEvent
from tickets.selectors import PoolPace

ENTRY_TEMPLATE = "support/fragments/entry.html"


def _entry_html(entry: Entry, language: str) -> str:
    with translation.override(language):
        return render_to_string(ENTRY_TEMPLATE, {"entry": entry})


@realtime.register("visitor.message", key=lambda event: event["message_id"])
def render_reply(event: dict[str, Any], language: str) -> str | None:
    """The reply's line. A reply with no files carries its text and time in the event
    (``adapter.reply_frame_data``): drawn from that, with no query; else read once here."""
    if isinstance(event.get("body"), str) and isinstance(event.get("sent_at"), str):
        entry = Entry(
            kind="out",
            at=datetime.fromisoformat(event["sent_at"]),
            text=event["body"],
            message_id=event["message_id"],
        )
        return _reply_frame(entry, language)
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
    return _reply_frame(entry, language)


def _reply_frame(entry: Entry, language: str) -> str:
    return json.dumps(
        {"kind": "message", "id": entry.message_id, "html": _entry_html(entry, language)}
    )


@realtime.register("visitor.joined", key=lambda event: event["ticket_id"])
def render_joined(event: dict[str, Any], language: str) -> str | None:
    ticket = Ticket.objects.filter(pk=event["ticket_id"]).select_related("assignee").first()
    return None if ticket is None else _joined_frame(ticket, language)


def _joined_frame(ticket: Ticket, language: str) -> str | None:
    """The line "<agent> joined the chat." for the ticket's agent now (None: no agent)."""
    if ticket.assignee is None:
        return None
    with translation.override(language):
        from django.utils.translation import gettext as _

        text = _("%(name)s joined the chat.") % {"name": agent_display_name(ticket.assignee)}
    entry = Entry(kind="system", at=ticket.updated_at, text=text)
    # "joined": the page drops its queue panel with this line; "agent": whose line it is (the
    # socket shows one line per agent taking the chat, however it learnt of it).
    return json.dumps(
        {
            "kind": "system",
            "joined": True,
            "agent": ticket.assignee_id,
            "html": _entry_html(entry, language),
        }
    )


@dataclass(frozen=True)
class CatchUp:
    """What a socket that has just followed the visitor's new ticket may have missed before it
    was in the ticket's groups (``VisitorConsumer._follow``)."""

    joined: str | None = None  # the "joined" line of the ticket's agent, if it has one
    agent_id: int | None = None
    queue: QueueStatus | None = None  # its place while it waits in the pool
    over: bool = False  # already resolved or ended: the page re-fetches it all


def visitor_catch_up(*, ticket_id: int, language: str) -> CatchUp | None:
    """The ticket as it is now, told as the frames the socket would have been sent: one query,
    two more while it waits in the pool. None when the ticket is gone."""
    ticket = Ticket.objects.filter(pk=ticket_id).select_related("assignee").first()
    if ticket is None:
        return None
    if ticket_can_be_rated(ticket):
        return CatchUp(over=True)
    if ticket.assignee_id is not None:
        return CatchUp(joined=_joined_frame(ticket, language), agent_id=ticket.assignee_id)
    if ticket.status in SLOT_STATUSES:
        return CatchUp(queue=visitor_queue(ticket_id=ticket.pk))
    return CatchUp()


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


# --- the pool -------------------------------------------------------------------------------

#: Ticket changes that may move the pool: one arrives, leaves (assigned, closed) or reorders.
POOL_CHANGES = frozenset(
    {
        TicketEvent.Kind.STATUS,
        TicketEvent.Kind.PRIORITY,
        TicketEvent.Kind.ASSIGNEE,
        TicketEvent.Kind.REOPENED,
    }
)
QUEUE_KEY = "pool"


class QueueFrame(str):
    """The frame of a ``visitor.queue`` event: the pool as one snapshot (every waiting web-chat
    ticket's place, and the pace), read once per web process and change whatever the number
    of waiting sockets; each socket picks its own place from it (``VisitorConsumer``)."""

    places: dict[int, tuple[int, int | None]]
    paces: dict[int | None, PoolPace]

    def status(self, ticket_id: int | None) -> QueueStatus | None:
        found = self.places.get(ticket_id) if ticket_id is not None else None
        if found is None:
            return None
        position, department_id = found
        return QueueStatus.at(position, self.paces[department_id])


def queue_snapshot() -> QueueFrame:
    """The pool now: two queries (the pool in routing's order, the recent assignments), each
    waiting ticket placed and paced in its department's queue."""
    frame = QueueFrame(QUEUE_KEY)
    frame.places = ticket_selectors.pool_places(source=ChannelKind.WEBCHAT)
    frame.paces = ticket_selectors.pool_paces(
        department_ids={department_id for _place, department_id in frame.places.values()}
    )
    return frame


def _load_queue(events: list[dict[str, Any]]) -> dict[Any, Any]:
    return {QUEUE_KEY: queue_snapshot()}  # once for every language of the batch


@realtime.register("visitor.queue", key=lambda event: QUEUE_KEY, load=_load_queue)
def render_queue(event: dict[str, Any], language: str) -> str | None:
    """The same snapshot for every language: the socket words its own place."""
    return realtime.loaded(event, queue_snapshot)


def _pool_moved() -> list[tuple[str, str, dict[str, Any]]]:
    return [(realtime.VISITOR_QUEUE_GROUP, "visitor.queue", {})]


@realtime.fanout("ticket.changed")
def queue_fanout_changed(
    group: str, payload: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """A ticket assigned, closed, reopened or reprioritised: the waiting visitors' places."""
    return _pool_moved() if payload.get("change") in POOL_CHANGES else []


@realtime.fanout("inbox.ticket")
def queue_fanout_created(
    group: str, payload: dict[str, Any]
) -> list[tuple[str, str, dict[str, Any]]]:
    """A new ticket entered the pool (an urgent one goes ahead of the waiting visitors)."""
    return _pool_moved() if payload.get("created") else []


@realtime.register("visitor.over", key=lambda event: event["ticket_id"])
def render_over(event: dict[str, Any], language: str) -> str | None:
    """The chat is over (the agent resolved or closed it, or the visitor ended it in another
    tab): the page shows the rating."""
    ticket = Ticket.objects.filter(pk=event["ticket_id"]).first()
    if ticket is None or not ticket_can_be_rated(ticket):
        return None
    with translation.override(language):
        from django.utils.translation import gettext as _

        if ticket.customer_ended_at is not None:
            text = _("You ended the chat.")
        else:
            text = _("The agent closed this chat.")
    entry = Entry(kind="system", at=ticket.updated_at, text=text)
    return json.dumps({"kind": "over", "html": _entry_html(entry, language)})


@realtime.fanout("ticket.changed")
def over_fanout(group: str, payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """A ticket's status or end changed: its web-chat visitor's page may now ask for a rating."""
    if payload.get("change") not in (TicketEvent.Kind.STATUS, "customer_ended"):
        return []
    if "ticket_id" not in payload:
        return []
    ticket_id = payload["ticket_id"]
    return [(realtime.visitor_ticket_group(ticket_id), "visitor.over", {"ticket_id": ticket_id})]
