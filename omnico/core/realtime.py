"""The one place that talks to the channel layer.

Group names live here. ``publish`` sends a bare event (ids only, plus an ``event`` uuid) to a
group only after the surrounding transaction commits, so no browser ever sees a change that was
rolled back; a transaction's events leave in one after-commit call.

Who receives it: not the sockets. Each web process subscribes one channel per group its sockets
are in (``omnico.core.realtime_hub``), so an event is one channel-layer message per web process;
the process renders the frame there once per language its sockets need, with the *renderer*
registered for the event type (``inbox/realtime.py`` registers the agent screen's), and hands it
to its sockets, which coalesce what a slow connection has not taken yet. A process with no
socket in the group gets and renders nothing. A message may also arrive pre-rendered
(``"html": {"en": ..., "tr": ...}``, e.g. toasts whose text is a lazy translation); it is
forwarded as is.

Rendered once for the cluster: every web process has sockets in the ``agents`` group, so each
would render every list row. Events with a renderer sent to a ``RENDERED_AT_PUBLISHER`` group are
rendered where they are published, once, in the languages the web processes' hubs announce in
Redis (``languages_announce``), and travel with ``html``; a process whose sockets' language is
not in it renders the event itself, as it would have. A Celery child (a pool of one database
connection, held by the task's thread) renders in the publishing thread after the commit; other
processes in a render thread, off the request's path.

Sending: in sync code (services, tasks) ``group_send`` runs on one long-lived event loop in a
background thread per process, so the Redis connections are reused instead of one new
connection per publish; events are sent in the order they were committed, and those committed
while the previous send was under way go out together, one channel-layer message per group
(an ingest batch of 20 messages is one message to the ``agents`` group, not 20). Every message
is numbered per sending process and group (``_Sequence``), so a hub notices one the layer
dropped and has its sockets re-fetch. The in-memory layer
(embedded mode and tests without Redis) is in-process and loop-bound, so it is sent to in the
caller's thread.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.utils import translation

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"

#: ``(event, language) -> text``: the frame to send, or None when there is nothing to send
#: (the object is gone). Runs in a worker thread (ORM allowed), once per event and language.
Renderer = Callable[[dict[str, Any], str], str | None]
#: ``(group, payload) -> [(group, event_type, payload), ...]``: more events that go out with
#: one (no database: decided from the payload alone), e.g. a changed ticket's list row.
Fanout = Callable[[str, dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]

#: ``event -> key``: events of one type with the same key render the same thing (the row of one
#: ticket): of several waiting together only the last is rendered, since a renderer reads the
#: object as it is now. None: every event is rendered.
Coalesce = Callable[[dict[str, Any]], Any]
#: ``(earlier, later) -> event``: what the two coalesced events render as (default: ``later``).
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]

#: ``events -> {key: object}``: what several events of one type render, fetched in one go (by
#: their ``Coalesce`` key; a missing key: the object is gone). Renderers read it with ``loaded``.
Load = Callable[[list[dict[str, Any]]], dict[Any, Any]]

_renderers: dict[str, Renderer] = {}
_coalesce: dict[str, tuple[Coalesce, Merge | None]] = {}
_loaders: dict[str, Load] = {}
_fanouts: dict[str, list[Fanout]] = {}
_batch = threading.local()  # the objects the loaders fetched for the batch being rendered


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


def visitor_ticket_group(ticket_id: int) -> str:
    """The web-chat visitor sockets of one ticket (who joined it: the agent's display name)."""
    return f"visitor-ticket.{ticket_id}"


#: Groups every web process has sockets in, so each of them would render the same event: an
#: event with a renderer sent to one of these is rendered once, where it is published, for the
#: languages the web processes' sockets in the group use (``languages_announce``), and travels
#: pre-rendered (``html``); a process whose language is missing renders it itself.
RENDERED_AT_PUBLISHER = frozenset({AGENTS_GROUP})

#: How long a language a hub announced stays wanted, and how often hubs announce theirs.
LANGUAGES_TTL = 120.0
LANGUAGES_EVERY = 30.0
#: How long a publisher trusts the languages it read (a newer one: the hubs render it).
LANGUAGES_CACHE = 5.0

#: Every web-chat visitor socket whose ticket waits in the pool: told when the pool changes.
#: One group for all accounts, as routing has one pool for every channel.
VISITOR_QUEUE_GROUP = "visitor-queue"


def register(
    event_type: str,
    *,
    key: Coalesce | None = None,
    merge: Merge | None = None,
    load: Load | None = None,
) -> Callable[[Renderer], Renderer]:
    """Decorator: ``fn(event, language) -> str | None`` renders ``event_type``; ``key`` and
    ``merge`` say which events waiting together it renders once (see ``Coalesce``); ``load``
    fetches the objects of all the events of a batch at once (see ``Load``; needs ``key``)."""
    if load is not None and key is None:
        raise ValueError("load needs key: the objects it returns are looked up by it")

    def decorate(fn: Renderer) -> Renderer:
        _renderers[event_type] = fn
        if key is not None:
            _coalesce[event_type] = (key, merge)
        if load is not None:
            _loaders[event_type] = load
        return fn

    return decorate


def loaded(event: dict[str, Any], fetch: Callable[[], Any]) -> Any:
    """In a renderer: the object its type's ``load`` fetched for ``event`` with the rest of the
    batch (None when it is gone), or ``fetch()`` when nothing was loaded for it."""
    objects = getattr(_batch, "objects", None)
    kind = event.get("type", "")
    if not objects or kind not in objects:
        return fetch()
    return objects[kind].get(_coalesce[kind][0](event))


def coalesce(items: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """``(group, event)`` pairs in the order they came, less those a later event to the same
    group makes redundant; a merged event takes the place of the later one."""
    if len(items) < 2:
        return items
    kept: dict[Any, tuple[str, dict[str, Any]]] = {}
    for n, (group, event) in enumerate(items):
        kind = event.get("type", "")
        rule = _coalesce.get(kind)
        if rule is None:
            kept[n] = (group, event)
            continue
        key_of, merge = rule
        key = (group, kind, key_of(event))
        earlier = kept.pop(key, None)
        if earlier is not None and merge is not None:
            merged = merge(earlier[1], event)
            if "html" in merged and _without_html(merged) != _without_html(event):
                # rendered (at the publisher) for the later event alone, not for the merge
                merged = _without_html(merged)
            event = merged
        kept[key] = (group, event)
    return list(kept.values())


def _without_html(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "html"}


def fanout(event_type: str) -> Callable[[Fanout], Fanout]:
    """Decorator: ``fn(group, payload)`` names the events published along with ``event_type``
    (several apps may add theirs to one type)."""

    def decorate(fn: Fanout) -> Fanout:
        found = _fanouts.setdefault(event_type, [])
        if fn not in found:
            found.append(fn)
        return fn

    return decorate


# --- publishing (sync code, any process) ----------------------------------------------------


def publish(group: str, event_type: str, **payload: Any) -> None:
    """Send ``{"type": event_type, "event": <uuid>, **payload}`` to ``group`` after commit."""
    outgoing = [(group, event_type, payload)]
    for extra in _fanouts.get(event_type, ()):
        outgoing += extra(group, payload)
    messages = [
        (target, {"type": kind, "event": uuid.uuid4().hex, **data})
        for target, kind, data in outgoing
    ]
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        # The publishes of one transaction (an ingest batch: one row per message) are sent by
        # one after-commit call, so they are rendered together where that is done at the
        # publisher. Joined only with a call that a rollback would drop along with this one
        # (registered under the same savepoints).
        savepoints = set(connection.savepoint_ids)
        for registered, hook, _robust in reversed(connection.run_on_commit[-50:]):
            if isinstance(hook, _Committed) and registered == savepoints:
                hook.messages += messages
                return
    transaction.on_commit(_Committed(messages))


class _Committed:
    """What a transaction published, sent once it commits."""

    def __init__(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        self.messages = messages

    def __call__(self) -> None:
        _send(self.messages)


def _send(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        for group, message in messages:
            try:
                async_to_sync(layer.group_send)(group, _sequence().stamp(group, message))
            except Exception:  # a broken layer must not break the request that committed
                logger.exception("realtime push to %s failed", group)
        return
    sender = _Sender.get()
    if _one_connection():
        # A Celery child's pool holds one connection, which this (the task's) thread has: a
        # render thread would wait for the task to end. Render here, after the commit.
        sender.render_here(messages)
    sender.submit(messages)


def _one_connection() -> bool:
    """A render thread would wait for, or open, a database connection of its own: this
    process's pool holds a single connection (``omnico.celery``'s children), or it has no pool
    (a render thread would connect for each batch). The publishing thread, which has one,
    renders instead."""
    from django.db import connection

    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    return not pool or (isinstance(pool, dict) and pool.get("max_size") == 1)


#: Events to one group that leave a process together travel as one channel-layer message of
#: this type (``{"type": BATCH, "events": [...]}``); the receiving hub unpacks it.
BATCH = "realtime.batch"
BATCH_MAX = 200


def _batched(messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """``messages`` as one message per group, each group's events in their order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for group, message in messages:
        groups.setdefault(group, []).append(message)
    return [
        (group, events[0] if len(events) == 1 else {"type": BATCH, "events": events})
        for group, events in groups.items()
    ]


class _Sequence:
    """Numbers what this process sends to each group, so a receiving hub can tell when a message
    between two it got went missing (the layer dropped it: over capacity, expired) and have its
    sockets re-fetch instead of silently showing less. Every message leaves as a ``BATCH``
    carrying ``source`` (this process) and ``seq`` (1, 2, 3... per group). The counters of the
    groups least recently sent to are forgotten past ``keep``; a group's count then starts over
    at 1, which a hub takes as a new start, not a gap."""

    keep = 10_000

    def __init__(self) -> None:
        self.source = uuid.uuid4().hex[:16]
        self.counters: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.lock = threading.Lock()

    def stamp(self, group: str, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            seq = self.counters.pop(group, 0) + 1
            self.counters[group] = seq
            if len(self.counters) > self.keep:
                self.counters.popitem(last=False)
        events = message["events"] if message.get("type") == BATCH else [message]
        return {"type": BATCH, "events": events, "source": self.source, "seq": seq}


_sequences: dict[int, _Sequence] = {}


def _sequence() -> _Sequence:
    """This process's numbering (a forked child gets its own)."""
    pid = os.getpid()
    sequence = _sequences.get(pid)
    if sequence is None:
        sequence = _sequences.setdefault(pid, _Sequence())
    return sequence


class _Sender:
    """One event loop in a daemon thread per process; sends queued messages in order."""

    _instance: _Sender | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.wakeup: asyncio.Event | None = None
        self.ready = threading.Event()
        self.unsent = 0  # queued and not yet sent, guarded by ``self.sent``
        self.sent = threading.Condition()
        #: channel layer key -> (when read, the languages the web processes announced)
        self.languages: dict[str, tuple[float, list[str]]] = {}
        self.rendered = 0  # frames rendered here for the web processes
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
        wakeup = self.wakeup
        assert wakeup is not None  # made by the thread before __init__ returned
        self.loop.call_soon_threadsafe(wakeup.set)

    async def _drain_forever(self) -> None:
        wakeup = self.wakeup
        assert wakeup is not None  # made in _run before this starts
        while True:
            await wakeup.wait()
            wakeup.clear()
            while self.queue:
                # What was committed meanwhile goes out together: one message per group.
                taken = [self.queue.popleft() for _ in range(min(len(self.queue), BATCH_MAX))]
                await self._render(taken)
                for group, message in _batched(taken):
                    try:
                        layer = get_channel_layer()  # settings may swap it (tests)
                        assert layer is not None  # _send returns early without one
                        await layer.group_send(group, _sequence().stamp(group, message))
                    except Exception:  # a dead Redis must not stop later pushes
                        logger.exception("realtime push to %s failed", group)
                with self.sent:
                    self.unsent -= len(taken)
                    if not self.unsent:
                        self.sent.notify_all()

    def render_here(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """``_render`` in the calling (sync) thread, with its database connection."""
        todo = self._to_render(messages)
        if not todo:
            return
        try:
            layer = get_channel_layer()
            languages = asyncio.run_coroutine_threadsafe(self._languages(layer), self.loop).result(
                timeout=2
            )
            if languages:
                self._attach(todo, render_now(dict.fromkeys(languages, todo)))
        except Exception:
            logger.exception("realtime: rendering %s events at the publisher failed", len(todo))

    @staticmethod
    def _to_render(messages: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [
            message
            for group, message in messages
            if group in RENDERED_AT_PUBLISHER
            and message.get("type") in _renderers
            and not message.get("html")
        ]

    def _attach(
        self, todo: list[dict[str, Any]], rendered: dict[str, list[str | None | NotRendered]]
    ) -> None:
        self.rendered += len(todo) * len(rendered)
        for n, message in enumerate(todo):
            html = {
                language: frames[n]
                for language, frames in rendered.items()
                if isinstance(frames[n], str)
            }
            if html:
                message["html"] = html

    async def _render(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Render, once here, the events every web process would render for itself (those
        with a renderer sent to a ``RENDERED_AT_PUBLISHER`` group), in the languages the web
        processes announced: they travel as ``html``. On any failure they travel bare and each
        web process renders them as before."""
        todo = self._to_render(messages)
        if not todo or _one_connection():  # rendered by the publishing thread (``_send``)
            return
        try:
            layer = get_channel_layer()
            languages = await self._languages(layer)
            if not languages:
                return
            rendered = await render_languages(dict.fromkeys(languages, todo))
        except Exception:
            logger.exception("realtime: rendering %s events at the publisher failed", len(todo))
            return
        self._attach(todo, rendered)

    async def _languages(self, layer: Any) -> list[str]:
        """The languages the web processes' sockets use (read again every few seconds)."""
        key = languages_key(layer)
        cached = self.languages.get(key)
        now = time.monotonic()
        if cached is None or now - cached[0] > LANGUAGES_CACHE:
            cached = self.languages[key] = (now, await languages_wanted(layer))
        return cached[1]

    def flush(self, timeout: float) -> bool:
        with self.sent:
            return self.sent.wait_for(lambda: not self.unsent, timeout)


def languages_key(layer: Any) -> str:
    return f"{layer.prefix}:omnico-languages"


async def languages_announce(layer: Any, languages: Iterable[str]) -> None:
    """A web process has sockets in ``languages`` in a ``RENDERED_AT_PUBLISHER`` group: for
    ``LANGUAGES_TTL`` seconds, publishers render those groups' events in them too (Redis
    layers only: the in-memory one has one process, its hub renders)."""
    wanted = sorted(set(languages))
    if not wanted or not hasattr(layer, "connection"):
        return
    until = time.time() + LANGUAGES_TTL
    connection = layer.connection(0)
    await connection.zadd(languages_key(layer), dict.fromkeys(wanted, until))


async def languages_wanted(layer: Any) -> list[str]:
    """The languages announced and not expired (``languages_announce``)."""
    if not hasattr(layer, "connection"):
        return []
    connection = layer.connection(0)
    key = languages_key(layer)
    now = time.time()
    await connection.zremrangebyscore(key, "-inf", now)
    found = await connection.zrangebyscore(key, now, "+inf")
    return sorted(m.decode() if isinstance(m, bytes) else m for m in found)


def flush(timeout: float = 2.0) -> bool:
    """Wait until this process's queued pushes are sent (tests, shutdown); True when they are."""
    sender = _Sender._instance
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.flush(timeout)


atexit.register(flush)


# --- rendering (where the sockets are) -----------------------------------------------------

#: Renders run on their own threads, not on the thread Django's sync views share, so a burst of
#: pushes never queues behind page requests (or they behind it). Per process (re-made after a
#: fork); two threads overlap one render's database round trip with another's work.
_executor: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None


def _render_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="omnico-render")
        _executor = (os.getpid(), pool)
    return _executor[1]


async def render_languages(
    wanted: dict[str, list[dict[str, Any]]],
) -> dict[str, list[str | None | NotRendered]]:
    """For each language, the frame of each of its events (see ``render_now``), in one hop to
    a render thread (none when every event came pre-rendered). Called by the process's hub
    (``omnico.core.realtime_hub``) once per batch, whatever the number of sockets."""
    if not any(
        _needs_render(event, language) for language, events in wanted.items() for event in events
    ):
        return render_now(wanted)
    return await database_sync_to_async(
        render_now, thread_sensitive=False, executor=_render_executor()
    )(wanted)


def render_now(
    wanted: dict[str, list[dict[str, Any]]],
) -> dict[str, list[str | None | NotRendered]]:
    """For each language, the frame of each of its events: text, None when there is nothing
    to send (the object is gone), or a ``NotRendered`` when no renderer knows the event or
    rendering failed (the page should re-fetch instead). The objects of each event type with
    a ``load`` are fetched once for all the events and languages. Sync (ORM): a render thread.
    """
    frames: dict[str, list[Any]] = {}
    todo: list[tuple[str, int]] = []
    for language, events in wanted.items():
        out: list[Any] = [None] * len(events)
        frames[language] = out
        for n, event in enumerate(events):
            html = event.get("html")
            if _needs_render(event, language):
                todo.append((language, n))
            elif isinstance(html, dict) and html:  # pre-rendered
                out[n] = html.get(language) or next(iter(html.values()))
            else:
                out[n] = NotRendered(event.get("type"))
    if not todo:
        return frames
    _batch.objects = _load([wanted[language][n] for language, n in todo])
    try:
        for language, n in todo:
            event = wanted[language][n]
            try:
                with translation.override(language):
                    frames[language][n] = _renderers[event["type"]](event, language)
            except Exception as exc:  # a broken template must not lose the event
                logger.exception("rendering realtime event %s failed", event.get("type"))
                frames[language][n] = NotRendered(event.get("type"))
                del exc
    finally:
        _batch.objects = None
    return frames


def _needs_render(event: dict[str, Any], language: str) -> bool:
    """A renderer knows ``event`` and it did not come rendered in ``language`` (an event
    with no renderer, e.g. a toast, comes rendered in every language it may be shown in)."""
    if event.get("type", "") not in _renderers:
        return False
    html = event.get("html")
    return not (isinstance(html, dict) and language in html)


def _load(events: list[dict[str, Any]]) -> dict[str, dict[Any, Any]]:
    """What the loaders fetch for ``events``, by type; a type whose load fails is left out
    (its renderers fetch one by one)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event.get("type") in _loaders:
            by_type.setdefault(event["type"], []).append(event)
    objects = {}
    for kind, some in by_type.items():
        try:
            objects[kind] = _loaders[kind](some)
        except Exception:
            logger.exception("loading realtime events %s failed", kind)
    return objects


async def render_many(
    events: list[dict[str, Any]], language: str
) -> list[str | None | NotRendered]:
    """The frame of each of ``events`` in ``language`` (see ``render_languages``)."""
    return (await render_languages({language: events}))[language]


async def render(message: dict[str, Any], language: str) -> str | None:
    """The frame for one event (see ``render_many``); raises ``NotRendered``."""
    (frame,) = await render_many([message], language)
    if isinstance(frame, NotRendered):
        raise frame
    return frame
