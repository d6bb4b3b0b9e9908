"""The agent screen's websocket: one per page, at ``/ws/agent/``.

Signed-in, active users only (the session cookie; the origin is checked in ``omnico.asgi``).
Every socket is in the ``agents`` group (inbox list) and its own ``agent.<id>`` group (toasts,
assignments); the page says which ticket it shows with ``{"action": "watch", "ticket": id}``
and then also gets that ticket's ``ticket.<id>`` group (its conversation and panel).

The socket joins those groups through this process's realtime hub
(``omnico.core.realtime_hub``), not the channel layer: the hub holds one subscription per group
for all the process's sockets, renders each event (``inbox/realtime.py``) once per language
among them and calls ``deliver`` on each, which puts the frame in the socket's outbox under
what it replaces (the row of ticket 12, message 7). The outbox sends as fast as the browser
takes frames; for a slow one, a newer frame replaces the pending one in its place, so it gets
the latest state and never a backlog. Nothing is rendered per socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string

from omnico.core import realtime, realtime_hub
from omnico.core.language import scope_language
from tickets.models import Ticket
from tickets.presence import presence_screen_seen

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
LIVE_TEMPLATE = "inbox/fragments/live.html"


@database_sync_to_async
def _ticket_exists(ticket_id: int) -> bool:
    return Ticket.objects.filter(pk=ticket_id).exists()


@database_sync_to_async
def _screen_seen(user_id: int) -> None:
    presence_screen_seen(user_id=user_id)


async def _beat(user_id: int) -> None:
    """This agent has a screen open (``tickets.presence``): not away, or back from away."""
    try:
        await _screen_seen(user_id)
    except Exception:  # a database hiccup must not end the socket: the next beat retries
        logger.warning("presence heartbeat failed for agent %s", user_id, exc_info=True)


async def _heartbeat(user_id: int) -> None:
    """While the socket is open, every ``OMNICO_SCREEN_HEARTBEAT_SECONDS``."""
    while True:
        await asyncio.sleep(settings.OMNICO_SCREEN_HEARTBEAT_SECONDS)
        await _beat(user_id)


class AgentConsumer(realtime_hub.DirectDispatch, AsyncWebsocketConsumer):
    """One agent page's socket; a member of this process's realtime hub, not of the layer."""

    # No channel of its own: the process's hub receives the groups' events once and delivers
    # them here (``deliver``), so nothing is sent to the layer per socket.
    channel_layer_alias = None  # type: ignore[assignment]

    user_id: int | None = None
    language: str = settings.LANGUAGE_CODE
    watching: int | None = None
    session: str = ""
    groups_joined: list[str]
    hub: realtime_hub.Hub | None = None
    outbox: realtime_hub.Outbox | None = None
    heartbeat: asyncio.Task | None = None

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        # Accept, then close with our own code: a refused handshake reaches the browser as a
        # bare 1006, and live.js must know not to retry an ended session.
        await self.accept()
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.session = realtime.session_tag(getattr(self.scope.get("session"), "session_key", ""))
        self.language = scope_language(cast(dict[str, Any], self.scope))
        # live.js reads every envelope of a message: frames waiting together go out as one.
        self.outbox = realtime_hub.Outbox(
            send=self._send_text, close=self._close_with, overflow=self._overflow_frame, join=True
        )
        self.hub = realtime_hub.Hub.get(get_channel_layer())
        for group in (realtime.AGENTS_GROUP, realtime.agent_group(user.pk)):
            await self._join(group)
        # Once subscribed, "hello" goes out first, before any push that came in meanwhile.
        self.outbox.put(("hello",), _envelope(kind="hello", user_id=user.pk), first=True)
        self.outbox.start()
        await _beat(user.pk)
        self.heartbeat = asyncio.create_task(_heartbeat(user.pk))

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            self.heartbeat = None
        for group in list(getattr(self, "groups_joined", [])):
            await self._leave(group)
        if self.outbox is not None:
            self.outbox.stop()

    async def _join(self, group: str) -> None:
        assert self.hub is not None  # set by connect
        await self.hub.join(group, self)
        self.groups_joined.append(group)

    async def _leave(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.remove(group)
        assert self.hub is not None  # set by connect
        await self.hub.leave(group, self)

    # --- from the browser ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None:
            return
        try:
            data = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        action = data.get("action")
        if action == "watch":
            await self._watch(data.get("ticket"))
        elif action == "unwatch":
            await self._unwatch()
            self._queue(("watching",), kind="watching", ticket_id=None)

    async def _watch(self, raw: Any) -> None:
        try:
            ticket_id = int(raw)
        except (TypeError, ValueError):
            self._queue(("watching",), kind="refused", ticket_id="", reason="invalid")
            return
        if ticket_id == self.watching:
            self._queue(("watching",), kind="watching", ticket_id=ticket_id)
            return
        await self._unwatch()
        # Every signed-in agent may see every ticket (inbox.selectors.ticket_get); it must exist.
        if ticket_id <= 0 or not await _ticket_exists(ticket_id):
            self._queue(("watching",), kind="refused", ticket_id=ticket_id, reason="not-found")
            return
        await self._join(realtime.ticket_group(ticket_id))
        self.watching = ticket_id
        self._queue(("watching",), kind="watching", ticket_id=ticket_id)

    async def _unwatch(self) -> None:
        if self.watching is not None:
            await self._leave(realtime.ticket_group(self.watching))
            self.watching = None

    # --- to the browser -----------------------------------------------------------------------

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close_with(self, code: int) -> None:
        await self.close(code=code)

    def _overflow_frame(self) -> str:
        """What replaces a backlog too long to keep: the page re-fetches everything."""
        return _envelope(kind="resync", ticket_id=None) + (
            _envelope(kind="resync", ticket_id=self.watching) if self.watching else ""
        )

    def _queue(self, key: tuple, **context: Any) -> None:
        """A small control frame (no database, no text), rendered here."""
        assert self.outbox is not None  # set by connect
        self.outbox.put(key, _envelope(**context))

    def deliver(self, event: dict[str, Any], frame: Any) -> None:
        """The hub's delivery of one event (rendered once for the process, ``frame``): queued
        in the outbox under what it replaces. One handler per event type; none waits."""
        handler = getattr(self, "on_" + get_handler_name(event), None)
        if handler is not None and self.outbox is not None:
            handler(event, frame)

    def _forward(self, key: tuple, frame: Any, *, fallback: dict[str, Any] | None) -> None:
        if frame is realtime_hub.FAILED:  # no renderer, or it failed: the page re-fetches
            if fallback is not None:
                self._queue(("resync", fallback.get("ticket_id")), **fallback)
        elif frame:  # None: the object is gone, nothing to show
            assert self.outbox is not None  # set by connect
            self.outbox.put(key, frame)

    def on_inbox_ticket(self, event: dict[str, Any], frame: Any) -> None:
        # A "new ticket" row is not folded into a later update of the same row: the page
        # announces new tickets (omnico:ticket created).
        key = ("row", event["ticket_id"], bool(event.get("created")))
        self._forward(key, frame, fallback={"kind": "resync", "ticket_id": None})

    def on_ticket_message(self, event: dict[str, Any], frame: Any) -> None:
        key = ("message", event["message_id"])
        fallback = {"kind": "resync", "ticket_id": event["ticket_id"]}
        self._forward(key, frame, fallback=fallback)

    def on_ticket_changed(self, event: dict[str, Any], frame: Any) -> None:
        key = ("refresh", event["ticket_id"])
        self._forward(key, frame, fallback={"kind": "refresh", "ticket_id": event["ticket_id"]})

    def on_ticket_assigned(self, event: dict[str, Any], frame: Any) -> None:
        self._forward(("toast", event.get("event")), frame, fallback=None)

    def on_ticket_unanswered(self, event: dict[str, Any], frame: Any) -> None:
        self._forward(("toast", event.get("event")), frame, fallback=None)

    def on_toast(self, event: dict[str, Any], frame: Any) -> None:
        self._forward(("toast", event.get("event") or id(event)), frame, fallback=None)

    def on_realtime_lost(self, event: dict[str, Any], frame: Any) -> None:
        """The channel layer dropped events of a group this socket is in: the page re-fetches
        what that group shows (the open ticket, or the list)."""
        group = event.get("group")
        if self.watching is not None and group == realtime.ticket_group(self.watching):
            self._queue(("resync", self.watching), kind="resync", ticket_id=self.watching)
        else:
            self._queue(("resync", None), kind="resync", ticket_id=None)

    def on_session_ended(self, event: dict[str, Any], frame: Any) -> None:
        """Logged out (this session) or deactivated (every session): the socket ends too."""
        if event.get("session") in ("", self.session):
            assert self.outbox is not None  # set by connect
            self.outbox.close_now(CLOSE_UNAUTHENTICATED)

    def on_presence_changed(self, event: dict[str, Any], frame: Any) -> None:
        detail = json.dumps(_plain(event))
        key = ("event", "presence", event.get("user_id"))
        self._queue(key, kind="event", name="omnico:presence", detail=detail)

    def on_team_changed(self, event: dict[str, Any], frame: Any) -> None:
        detail = json.dumps(_plain(event))
        key = ("event", "team", event.get("user_id"))
        self._queue(key, kind="event", name="omnico:team", detail=detail)


def _envelope(**context: Any) -> str:
    return render_to_string(LIVE_TEMPLATE, context)


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "type" and isinstance(v, str | int | bool)}
