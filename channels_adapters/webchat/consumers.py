"""The visitor's websocket at ``/ws/visitor/<account name>/``.

The visitor is the one in the signed cookie (``webchat.visitor``), never one named in a
message; the origin is checked in ``omnico.asgi``. The socket is in the visitor's group (the
agents' replies, ``adapter.send``) and in its ticket's visitor group (who joined), both through
this process's realtime hub, like the agent screen. From the browser it takes one thing:
``{"action": "ack", "message": <id>}``, a reply shown (delivered), accepted only for the
visitor's own replies.

While the visitor's ticket waits in the pool the socket is also in the one pool group
(``realtime.VISITOR_QUEUE_GROUP``): each change of the pool is one snapshot per web process
(``webchat.realtime.QueueFrame``), from which every socket takes its own place and sends it
when it moved (``{"kind": "queue", "position", "text", "wait"}``; ``position`` null: no
longer waiting).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import Http404

from channels_adapters.webchat import selectors, services
from channels_adapters.webchat.realtime import CatchUp, QueueFrame, visitor_catch_up
from channels_adapters.webchat.visitor import visitor_from_cookies
from omnico.core import realtime, realtime_hub
from omnico.core.language import scope_language
from tickets.models import SLOT_STATUSES

logger = logging.getLogger(__name__)

CLOSE_NO_VISITOR = 4401
CLOSE_NO_PAGE = 4404
HELLO = json.dumps({"kind": "hello"})
RESYNC = json.dumps({"kind": "resync"})
QUEUE_DONE = json.dumps({"kind": "queue", "position": None})
UNKNOWN = object()


@database_sync_to_async
def _page_and_ticket(name: str, visitor_id: str) -> tuple[Any, int | None, bool] | None:
    """The page's account, the visitor's ticket, and whether that may wait in the pool."""
    try:
        page = selectors.support_page_get(name=name)
    except Http404:
        return None
    ticket = selectors.visitor_ticket(account_id=page.channel_account_id, visitor_id=visitor_id)
    if ticket is None:
        return page.channel_account, None, False
    waiting = ticket.assignee_id is None and ticket.status in SLOT_STATUSES
    return page.channel_account, ticket.pk, waiting


@database_sync_to_async
def _ack(account: Any, visitor_id: str, message_id: int, ticket_id: int | None) -> int:
    return services.visitor_reply_delivered(
        account=account, visitor_id=visitor_id, message_id=message_id, ticket_id=ticket_id
    )


@database_sync_to_async
def _catch_up(ticket_id: int, language: str) -> CatchUp | None:
    return visitor_catch_up(ticket_id=ticket_id, language=language)


def _agent_of(frame: str) -> Any:
    """The agent of a "joined" frame (``realtime.render_joined``); None if it names none."""
    try:
        return json.loads(frame).get("agent")
    except (ValueError, AttributeError):
        return None


#: How many replies a socket remembers the ticket of, for their acknowledgements.
SENT_REPLIES_KEPT = 200


class VisitorConsumer(realtime_hub.DirectDispatch, AsyncWebsocketConsumer):
    channel_layer_alias = None  # type: ignore[assignment]  # the hub delivers (see inbox)

    language: str = settings.LANGUAGE_CODE
    visitor_id: str | None = None
    account: Any = None
    ticket_id: int | None = None
    hub: realtime_hub.Hub | None = None
    outbox: realtime_hub.Outbox | None = None
    groups_joined: list[str]
    #: What this socket last told the page of its place in the pool: None when not waiting,
    #: ``UNKNOWN`` when the page read it itself (``views.support_queue``).
    queue_shown: tuple[int, int | None] | object | None = None
    #: reply id -> its ticket, for the replies this socket was sent (the page acks them)
    sent_replies: dict[int, int]
    #: the (ticket, agent) of the last "joined" line this socket sent
    joined_shown: tuple[int, Any] | None = None

    async def connect(self) -> None:
        self.groups_joined = []
        self.sent_replies = {}
        await self.accept()
        visitor_id = visitor_from_cookies(self.scope.get("cookies", {}))
        if visitor_id is None:
            await self.close(code=CLOSE_NO_VISITOR)
            return
        name = self.scope["url_route"]["kwargs"]["name"]
        found = await _page_and_ticket(name, visitor_id)
        if found is None:
            await self.close(code=CLOSE_NO_PAGE)
            return
        self.visitor_id = visitor_id
        self.account, ticket_id, waiting = found
        self.language = scope_language(cast(dict[str, Any], self.scope))
        self.outbox = realtime_hub.Outbox(send=self._send_text, close=self._close_with)
        self.hub = realtime_hub.Hub.get(get_channel_layer())
        await self._join(realtime.visitor_group(visitor_id))
        if ticket_id is not None:
            await self._follow(ticket_id, catch_up=False, waiting=waiting)
        # "hello" first: the page fetches what it missed while it was not connected.
        self.outbox.put(("hello",), HELLO, first=True)
        self.outbox.start()

    async def disconnect(self, code: int) -> None:
        # Popped one at a time, not from a copy: a ``_leave_queue`` running meanwhile (fired by
        # a pool snapshot) may take the queue's group out of the list during an await here.
        joined = getattr(self, "groups_joined", [])
        while joined:
            group = joined.pop()
            assert self.hub is not None  # set by connect before any group is joined
            await self.hub.leave(group, self)
        if self.outbox is not None:
            self.outbox.stop()

    async def _join(self, group: str) -> None:
        assert self.hub is not None  # set by connect
        await self.hub.join(group, self)
        self.groups_joined.append(group)

    async def _follow(self, ticket_id: int, *, catch_up: bool = True, waiting: bool = True) -> None:
        """Be told who joins ``ticket_id`` (the visitor's current ticket). A ticket just opened
        may have been given to an agent in the same transaction, before this socket was in its
        group: once subscribed, the socket reads the ticket and sends what the page missed
        (``_catch_up``), so that line is not lost and the page need not re-fetch its history.
        On connect (``catch_up`` False) the page's own history fetch after "hello" does that."""
        if ticket_id == self.ticket_id:
            return
        if self.ticket_id is not None:
            old = realtime.visitor_ticket_group(self.ticket_id)
            if old in self.groups_joined:
                self.groups_joined.remove(old)
                assert self.hub is not None  # set by connect
                await self.hub.leave(old, self)
        self.ticket_id = ticket_id
        await self._join(realtime.visitor_ticket_group(ticket_id))
        if waiting:
            await self._watch_queue()
        if catch_up:
            await self._catch_up(ticket_id)

    async def _catch_up(self, ticket_id: int) -> None:
        """What happened to the ticket before this socket was in its groups, as the frames it
        would have been sent (one query; two more while it waits in the pool). A chat already
        over, or a ticket that cannot be read, makes the page re-fetch everything instead."""
        if self.outbox is None:
            return
        try:
            found = await _catch_up(ticket_id, self.language)
        except Exception:
            logger.exception("visitor socket: reading ticket %s failed", ticket_id)
            found = None
        if ticket_id != self.ticket_id:  # a newer ticket meanwhile: its own catch-up tells
            return
        if found is None or found.over:
            self.outbox.put(("resync",), RESYNC)
            return
        if found.joined is not None and found.agent_id is not None:
            self._joined(ticket_id, found.agent_id, found.joined, key=None)
        if self.queue_shown is UNKNOWN:  # no snapshot came since the socket joined the pool
            if found.queue is None:
                self.queue_shown = None
                await self._leave_queue()
            else:
                self.queue_shown = (found.queue.position, found.queue.wait_minutes)
                self.outbox.put(("queue",), json.dumps(found.queue.as_frame(self.language)))

    def _joined(self, ticket_id: int, agent_id: Any, frame: str, *, key: Any) -> None:
        """The line of an agent taking the chat, once per agent and ticket: the socket may
        learn of it both from its catch-up read and from the event."""
        if agent_id is not None:
            if (ticket_id, agent_id) == self.joined_shown:
                return
            self.joined_shown = (ticket_id, agent_id)
        assert self.outbox is not None  # checked by the callers
        self.outbox.put(("joined", ticket_id, key), frame)

    async def _watch_queue(self) -> None:
        """Follow the pool's changes (the ticket may wait there). Subscribed before the page
        is told to (re-)read the conversation and its place ("hello", "resync"), so no change
        falls in between; the first snapshot without the ticket ends it. No query here."""
        group = realtime.VISITOR_QUEUE_GROUP
        if group not in self.groups_joined:
            await self._join(group)
        self.queue_shown = UNKNOWN

    async def _leave_queue(self) -> None:
        group = realtime.VISITOR_QUEUE_GROUP
        if group in self.groups_joined and self.queue_shown is None:
            self.groups_joined.remove(group)
            assert self.hub is not None  # set by connect
            await self.hub.leave(group, self)

    def _queue_moved(self, frame: QueueFrame) -> None:
        """A pool snapshot: this socket's own place from it, sent only when it changed; once
        the ticket is out of the pool (an agent took it, it was closed) the panel goes and
        the socket leaves the pool's group."""
        if self.outbox is None or self.queue_shown is None:
            return
        status = frame.status(self.ticket_id)
        if status is None:
            self.outbox.put(("queue",), QUEUE_DONE)
            self.queue_shown = None
            asyncio.ensure_future(self._leave_queue())
            return
        shown = (status.position, status.wait_minutes)
        if shown == self.queue_shown:
            return
        self.queue_shown = shown
        self.outbox.put(("queue",), json.dumps(status.as_frame(self.language)))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.visitor_id is None:
            return
        try:
            data = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(data, dict) or data.get("action") != "ack":
            return
        message_id = data.get("message")
        if isinstance(message_id, int) and not isinstance(message_id, bool) and message_id > 0:
            # The ticket of a reply this socket sent makes the ack one statement.
            ticket_id = self.sent_replies.pop(message_id, None)
            await _ack(self.account, self.visitor_id, message_id, ticket_id)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close_with(self, code: int) -> None:
        await self.close(code=code)

    def deliver(self, event: dict[str, Any], frame: Any) -> None:
        """The hub's delivery (see ``omnico.core.realtime_hub``); never waits."""
        if self.outbox is None or event.get("account_id", self.account.pk) != self.account.pk:
            return
        kind = event.get("type")
        if kind == "visitor.ticket":
            asyncio.ensure_future(self._follow(event["ticket_id"]))
        elif kind == "visitor.message" and isinstance(frame, str) and frame:
            self.outbox.put(("message", event["message_id"]), frame)
            if isinstance(event.get("ticket_id"), int):
                self.sent_replies[event["message_id"]] = event["ticket_id"]
                if len(self.sent_replies) > SENT_REPLIES_KEPT:
                    del self.sent_replies[next(iter(self.sent_replies))]
        elif kind == "visitor.queue" and isinstance(frame, QueueFrame):
            self._queue_moved(frame)
        elif kind == "visitor.joined" and isinstance(frame, str) and frame:
            self._joined(event["ticket_id"], _agent_of(frame), frame, key=event.get("event"))
        elif kind == "visitor.over" and isinstance(frame, str) and frame:
            self.outbox.put(("over", event["ticket_id"]), frame)
        elif frame is realtime_hub.FAILED and kind in ("visitor.message", realtime_hub.LOST):
            # A reply that could not be drawn, or events the channel layer dropped: the page
            # re-fetches the conversation (and its place in the pool).
            self.outbox.put(("resync",), RESYNC)
