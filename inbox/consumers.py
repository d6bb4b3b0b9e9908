"""The agent screen's websocket: one per page, at ``/ws/agent/``.

Signed-in, active users only (the session cookie; the origin is checked in ``omnico.asgi``).
Every socket is in the ``agents`` group (inbox list) and its own ``agent.<id>`` group (toasts,
assignments); the page says which ticket it shows with ``{"action": "watch", "ticket": id}``
and then also gets that ticket's ``ticket.<id>`` group (its conversation and panel).

Events arrive bare (ids only); a handler asks ``omnico.core.realtime.render`` for the frame in its
agent's language, which renders it (``inbox/realtime.py``) once per event and language for
all the sockets of this process, and forwards the text: nothing is rendered per socket.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from omnico.core import realtime
from tickets.models import Ticket

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
LIVE_TEMPLATE = "inbox/fragments/live.html"


def scope_language(scope: dict[str, Any]) -> str:
    """The language the agent's pages are in: the language cookie, else Accept-Language."""
    candidates = []
    cookie = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME)
    if cookie:
        candidates.append(cookie)
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            accept = value.decode("latin-1")
            candidates += [code for code, _q in parse_accept_lang_header(accept)]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


@database_sync_to_async
def _ticket_exists(ticket_id: int) -> bool:
    return Ticket.objects.filter(pk=ticket_id).exists()


class AgentConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None
    language: str = settings.LANGUAGE_CODE
    watching: int | None = None
    session: str = ""
    groups_joined: list[str]

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first closes stale database connections, through
        ``sync_to_async`` on the process's one sync thread, for every message of every socket:
        at 50 sockets and 50 pushes a second that queue alone delayed frames by seconds. This
        consumer reaches the database only through ``database_sync_to_async``, which closes
        them around each call itself, so the handler is called directly."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

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
        for group in (realtime.AGENTS_GROUP, realtime.agent_group(user.pk)):
            await self._join(group)
        await self._send_envelope(kind="hello", user_id=user.pk)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = []

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def _leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        if group in self.groups_joined:
            self.groups_joined.remove(group)

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
            await self._send_envelope(kind="watching", ticket_id=None)

    async def _watch(self, raw: Any) -> None:
        try:
            ticket_id = int(raw)
        except (TypeError, ValueError):
            await self._send_envelope(kind="refused", ticket_id="", reason="invalid")
            return
        if ticket_id == self.watching:
            await self._send_envelope(kind="watching", ticket_id=ticket_id)
            return
        await self._unwatch()
        # Every signed-in agent may see every ticket (inbox.selectors.ticket_get); it must exist.
        if ticket_id <= 0 or not await _ticket_exists(ticket_id):
            await self._send_envelope(kind="refused", ticket_id=ticket_id, reason="not-found")
            return
        await self._join(realtime.ticket_group(ticket_id))
        self.watching = ticket_id
        await self._send_envelope(kind="watching", ticket_id=ticket_id)

    async def _unwatch(self) -> None:
        if self.watching is not None:
            await self._leave(realtime.ticket_group(self.watching))
            self.watching = None

    # --- to the browser: one handler per event type -------------------------------------------

    async def _send_envelope(self, **context: Any) -> None:
        """Small control frames (no database): rendered here, in the agent's language."""
        await self.send(text_data=render_to_string(LIVE_TEMPLATE, context))

    async def _forward(self, event: dict[str, Any], *, fallback: dict[str, Any] | None) -> None:
        try:
            text = await realtime.render(event, self.language)
        except realtime.NotRendered:  # no renderer, or it failed: the page re-fetches
            if fallback is not None:
                await self._send_envelope(**fallback)
            return
        if text:  # None: the object is gone, nothing to show
            await self.send(text_data=text)

    async def inbox_ticket(self, event: dict[str, Any]) -> None:
        await self._forward(event, fallback={"kind": "resync", "ticket_id": None})

    async def ticket_message(self, event: dict[str, Any]) -> None:
        await self._forward(event, fallback={"kind": "resync", "ticket_id": event["ticket_id"]})

    async def ticket_changed(self, event: dict[str, Any]) -> None:
        await self._forward(event, fallback={"kind": "refresh", "ticket_id": event["ticket_id"]})

    async def ticket_assigned(self, event: dict[str, Any]) -> None:
        await self._forward(event, fallback=None)

    async def toast(self, event: dict[str, Any]) -> None:
        await self._forward(event, fallback=None)

    async def session_ended(self, event: dict[str, Any]) -> None:
        """Logged out (this session) or deactivated (every session): the socket ends too."""
        if event.get("session") in ("", self.session):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def presence_changed(self, event: dict[str, Any]) -> None:
        await self._send_envelope(
            kind="event", name="omnico:presence", detail=json.dumps(_plain(event))
        )

    async def team_changed(self, event: dict[str, Any]) -> None:
        await self._send_envelope(
            kind="event", name="omnico:team", detail=json.dumps(_plain(event))
        )


def _plain(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "type" and isinstance(v, str | int | bool)}
