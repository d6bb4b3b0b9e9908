"""The one place that talks to the channel layer.

Group names live here. ``publish`` sends a bare event (ids only, plus an ``event`` uuid) to a
group only after the surrounding transaction commits, so no browser ever sees a change that was
rolled back, and nothing is rendered where the event happens (a Celery worker, a view).

Fragments are rendered where the sockets are: a consumer asks ``render(message, language)``,
which runs the *renderer* registered for the event type (``inbox/realtime.py`` registers the
agent screen's) at most once per event and language in that process, shared by every socket
of the process (a small memo keyed by the event uuid). A process with no socket in the group
renders nothing. A message may also arrive pre-rendered (``"html": {"en": ..., "tr": ...}``,
e.g. toasts whose text is a lazy translation); it is forwarded as is.

Sending: in sync code (services, tasks) ``group_send`` runs on one long-lived event loop in a
background thread per process, so the Redis connections are reused instead of one new
connection per publish; events are sent in the order they were committed. The in-memory layer
(embedded mode and tests without Redis) is in-process and loop-bound, so it is sent to in the
caller's thread as before.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"

#: ``(event, language) -> text``: the frame to send, or None when there is nothing to send
#: (the object is gone). Runs in a worker thread (ORM allowed), once per event and language.
Renderer = Callable[[dict[str, Any], str], str | None]
#: ``(group, payload) -> [(group, event_type, payload), ...]``: more events that go out with
#: one (no database: decided from the payload alone), e.g. a changed ticket's list row.
Fanout = Callable[[str, dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]

_renderers: dict[str, Renderer] = {}
_fanouts: dict[str, Fanout] = {}


class NotRendered(Exception):
    """No renderer for the event, or it failed: the consumer asks the page to re-fetch."""


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def session_tag(session_key: str | None) -> str:
    """What names a login session in pushes: a hash, never the session key itself."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


def session_end(*, user_id: int, session_key: str | None = None) -> None:
    """Close the agent's sockets after commit: those of one login session (logout), or all of
    them (``session_key`` None: the account was deactivated)."""
    publish(
        agent_group(user_id),
        "session.ended",
        session=session_tag(session_key) if session_key is not None else "",
    )


def visitor_group(session_key: str) -> str:
    return f"visitor.{session_key}"


def register(event_type: str) -> Callable[[Renderer], Renderer]:
    """Decorator: ``fn(event, language) -> str | None`` renders ``event_type``."""

    def decorate(fn: Renderer) -> Renderer:
        _renderers[event_type] = fn
        return fn

    return decorate


def fanout(event_type: str) -> Callable[[Fanout], Fanout]:
    """Decorator: ``fn(group, payload)`` names the events published along with ``event_type``."""

    def decorate(fn: Fanout) -> Fanout:
        _fanouts[event_type] = fn
        return fn

    return decorate


# --- publishing (sync code, any process) ----------------------------------------------------


def publish(group: str, event_type: str, **payload: Any) -> None:
    """Send ``{"type": event_type, "event": <uuid>, **payload}`` to ``group`` after commit."""
    outgoing = [(group, event_type, payload)]
    extra = _fanouts.get(event_type)
    if extra is not None:
        outgoing += extra(group, payload)
    messages = [
        (target, {"type": kind, "event": uuid.uuid4().hex, **data})
        for target, kind, data in outgoing
    ]
    transaction.on_commit(lambda: _send(messages))


def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        for group, message in messages:
            try:
                async_to_sync(layer.group_send)(group, message)
            except Exception:  # a broken layer must not break the request that committed
                logger.exception("realtime push to %s failed", group)
        return
    _Sender.get().submit(messages)


class _Sender:
    """One event loop in a daemon thread per process; sends queued messages in order."""

    _instance: _Sender | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.wakeup: asyncio.Event = None  # type: ignore[assignment]  # made by _run, in its loop
        self.ready = threading.Event()
        self.unsent = 0  # queued and not yet sent, guarded by ``self.sent``
        self.sent = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="omnico-realtime", daemon=True)
        self.thread.start()
        self.ready.wait(5)

    @classmethod
    def get(cls) -> _Sender:
        sender = cls._instance
        if sender is None or sender.pid != os.getpid():  # first use, or a forked child
            with cls._lock:
                sender = cls._instance
                if sender is None or sender.pid != os.getpid():
                    sender = cls._instance = cls()
        return sender

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.wakeup = asyncio.Event()
        self.ready.set()
        self.loop.run_until_complete(self._drain_forever())

    def submit(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        with self.sent:
            self.unsent += len(messages)
        self.queue.extend(messages)  # deque appends are thread-safe
        self.loop.call_soon_threadsafe(self.wakeup.set)

    async def _drain_forever(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                group, message = self.queue.popleft()
                try:
                    layer = get_channel_layer()  # settings may swap it (tests)
                    assert layer is not None
                    await layer.group_send(group, message)
                except Exception:  # a dead Redis must not stop later pushes
                    logger.exception("realtime push to %s failed", group)
                with self.sent:
                    self.unsent -= 1
                    if not self.unsent:
                        self.sent.notify_all()

    def flush(self, timeout: float) -> bool:
        with self.sent:
            return self.sent.wait_for(lambda: not self.unsent, timeout)


def flush(timeout: float = 2.0) -> bool:
    """Wait until this process's queued pushes are sent (tests, shutdown); True when they are."""
    sender = _Sender._instance
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.flush(timeout)


atexit.register(flush)


# --- rendering (where the consumers are) ----------------------------------------------------

#: ``(event uuid, language) -> future text``, shared by the consumers of this process.
_MEMO_SIZE = 2048
_memo: collections.OrderedDict[tuple[str, str], asyncio.Future] = collections.OrderedDict()


async def render(message: dict[str, Any], language: str) -> str | None:
    """The frame for ``message`` in ``language``; None when there is nothing to send.

    Raises ``NotRendered`` when no renderer knows the event or rendering failed.
    """
    html = message.get("html")
    if isinstance(html, dict) and html:
        return html.get(language) or next(iter(html.values()))
    renderer = _renderers.get(message.get("type", ""))
    if renderer is None:
        raise NotRendered(message.get("type"))
    event_id = message.get("event")
    if not event_id:
        return await _render_in_thread(renderer, message, language)
    key = (str(event_id), language)
    future = _memo.get(key)
    if future is None or future.get_loop() is not asyncio.get_running_loop():
        future = asyncio.ensure_future(_render_in_thread(renderer, message, language))
        _memo[key] = future
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return await asyncio.shield(future)


async def _render_in_thread(renderer: Renderer, message: dict[str, Any], language: str):
    from channels.db import database_sync_to_async

    try:
        return await database_sync_to_async(renderer)(message, language)
    except Exception as exc:  # a broken template must not lose the event: re-fetch instead
        logger.exception("rendering realtime event %s failed", message.get("type"))
        raise NotRendered(message.get("type")) from exc
