"""Where pushes meet sockets: one channel-layer subscription per web process and group.

A socket never joins a channel-layer group itself. It asks this process's ``Hub`` to ``join``
a group; the first local socket in a group makes the hub subscribe one channel of its own to
it (``group_add``), the last one to leave unsubscribes it (``group_discard``). So a publish
costs the channel layer one message per web *process* that has a socket in the group, not one
per socket, and the process fans it out locally:

1. the group's reader takes events off the layer as they come and queues them for the hub's
   one dispatcher, which keeps the order the process received them in across groups;
2. the dispatcher takes everything that came since its last round (one event when idle, a
   batch under load), drops the events a later one about the same thing makes redundant
   (``omnico.core.realtime.coalesce``: renderers read the object as it is now), and renders
   the rest once per language among the groups' local sockets in one hop to a render
   thread (``omnico.core.realtime.render_languages``: each type's objects fetched once for the
   batch), never per socket, and not at all when no socket is left;
3. it hands each event and its frame to each socket's ``deliver``, which must not wait: the
   socket puts the frame in its ``Outbox``.

An ``Outbox`` holds what one socket has still to send, keyed by what each frame replaces (the
row of ticket 12, message 7): a newer frame with the same key replaces the pending one in its
place, and a writer task sends them in order as fast as the socket takes them (``send`` waits
while the connection's write buffer is full). A slow screen therefore gets the latest state of
each thing, coalesced, never a growing backlog; past ``Outbox.limit`` distinct things pending
it gets one "re-fetch everything" frame instead.

One hub per event loop and channel layer (the web process's loop in production; each test's
own loop in tests); it works the same over channels-redis and the in-memory layer. Redis forgets
a group membership after the layer's ``group_expiry``: the hub renews its subscriptions well
before that.

Over channels-redis the hub reads for all its groups at once (``_RedisFeed``): its channels
share one Redis sorted set of the hub's own, which one task empties a batch at a time (one
round trip for up to ``_RedisFeed.batch`` messages; channels-redis' ``receive`` costs four per
message and a lock dance per waiting group).

Nothing is lost silently. channels-redis drops a message when the receiving channel is over
``capacity`` or the message is older than ``expiry``, and says so only in the sender's log.
Every message ``omnico.core.realtime`` sends is numbered per sending process and group; a gap,
or a backlog at the channel's capacity, makes the hub deliver ``LOST`` for the groups
concerned, and the sockets tell their pages to re-fetch.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from channels.consumer import get_handler_name
from redis.exceptions import ResponseError

from omnico.core import realtime

logger = logging.getLogger(__name__)

#: What ``Member.deliver`` gets when the event has no renderer or rendering it failed.
FAILED = object()

#: The type of the event a member gets when the hub knows it missed events of ``event["group"]``
#: (the channel layer dropped them): what the member shows of that group may be stale.
LOST = "realtime.lost"


class DirectDispatch:
    """Mixin for the hub's websocket consumers (put it before ``AsyncWebsocketConsumer``).

    Channels' own dispatch first closes stale database connections, through ``sync_to_async``
    on the process's one sync thread, for every message: with many sockets that queue alone
    delayed frames by seconds. These consumers reach the database only through
    ``database_sync_to_async``, which closes them around each call itself, so the handler is
    called directly."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class Member(Protocol):
    """A socket as the hub sees it."""

    language: str

    def deliver(self, event: dict[str, Any], frame: Any) -> None:
        """Take ``event`` (with its ``frame`` in ``self.language``: text, None when there is
        nothing to show, or ``FAILED``); must return without waiting."""


class Hub:
    """This process's subscriptions to the channel layer and the local sockets of each group."""

    _hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Hub]] = (
        weakref.WeakKeyDictionary()
    )

    #: channels-redis waits for a message with ``BZPOPMIN`` blocking 5 s, and redis-py (5+)
    #: reads every reply with a 5 s socket timeout: the two race, the read fails with a
    #: TimeoutError, and a message popped at that moment is lost. The hub polls for 2 s.
    poll_seconds = 2

    def __init__(self, layer: Any) -> None:
        if getattr(layer, "brpop_timeout", 0) > self.poll_seconds:
            layer.brpop_timeout = self.poll_seconds
        self.layer = layer
        self.members: dict[str, set[Member]] = {}
        #: group -> the hub's channel subscribed to it and the tasks that read and deliver
        self.readers: dict[str, _Subscription | _FeedSubscription] = {}
        self.lock = asyncio.Lock()  # subscribing and unsubscribing, one at a time
        self.inbox: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.wakeup = asyncio.Event()
        self.dispatcher: asyncio.Task | None = None
        self.renewer: asyncio.Task | None = None
        #: group -> sending process -> the number of the last message it sent there that came
        self.sequences: dict[str, dict[str, int]] = {}
        self.feed = _RedisFeed(self) if _RedisFeed.supports(layer) else None
        #: language -> when this hub last told publishers its sockets use it (Redis only)
        self.announced: dict[str, float] = {}
        self.announcer: asyncio.Task | None = None
        #: what happened, for logs and the benchmark
        self.stats: collections.Counter[str] = collections.Counter()

    @classmethod
    def get(cls, layer: Any) -> Hub:
        """The hub of the running event loop for ``layer``."""
        loop = asyncio.get_running_loop()
        hubs = cls._hubs.setdefault(loop, {})
        hub = hubs.get(id(layer))
        if hub is None or hub.layer is not layer:
            hub = hubs[id(layer)] = cls(layer)
        return hub

    async def join(self, group: str, member: Member) -> None:
        """``member`` gets the group's events from now on (subscribed when this returns)."""
        self.members.setdefault(group, set()).add(member)
        if group not in self.readers:
            try:
                await self._settle(group)
            except BaseException:  # the layer is down: the socket fails, nothing stays behind
                self._forget(group, member)
                raise
        if group in realtime.RENDERED_AT_PUBLISHER and self.feed is not None:
            await self._announce_new(member.language)

    async def _announce_new(self, language: str) -> None:
        """Publishers render the events of ``realtime.RENDERED_AT_PUBLISHER`` groups once for
        every web process, in the languages the processes announce: this socket's language
        from now on (and every ``LANGUAGES_EVERY`` seconds while a socket uses it). Until a
        publisher has read it, this process renders those events itself."""
        loop = asyncio.get_running_loop()
        if loop.time() - self.announced.get(language, -1e9) < realtime.LANGUAGES_EVERY:
            return
        self.announced[language] = loop.time()
        try:
            await realtime.languages_announce(self.layer, [language])
        except Exception:  # Redis gone for a moment: this process renders them itself
            logger.warning("realtime: announcing language %s failed", language, exc_info=True)
            self.announced.pop(language, None)
        if self.announcer is None or self.announcer.done():
            self.announcer = asyncio.ensure_future(self._announce_forever())

    def shared_languages(self) -> set[str]:
        """The languages of this process's sockets in ``RENDERED_AT_PUBLISHER`` groups."""
        return {
            member.language
            for group in realtime.RENDERED_AT_PUBLISHER
            for member in self.members.get(group, ())
        }

    async def _announce_forever(self) -> None:
        while True:
            await asyncio.sleep(realtime.LANGUAGES_EVERY)
            languages = self.shared_languages()
            if not languages:
                self.announced.clear()
                return
            try:
                await realtime.languages_announce(self.layer, languages)
            except Exception:
                logger.warning("realtime: announcing languages failed", exc_info=True)
                continue
            now = asyncio.get_running_loop().time()
            self.announced = dict.fromkeys(languages, now)

    async def leave(self, group: str, member: Member) -> None:
        """``member`` gets nothing more from ``group``; the last one out unsubscribes."""
        self._forget(group, member)
        if group not in self.members:
            await self._settle(group)

    def _forget(self, group: str, member: Member) -> None:
        members = self.members.get(group)
        if members is not None:
            members.discard(member)
            if not members:
                del self.members[group]

    async def _settle(self, group: str) -> None:
        """Subscribe to ``group`` if a local socket is in it, else unsubscribe; one change at a
        time, each deciding from the state when it runs (a join and a leave may race)."""
        async with self.lock:
            wanted = group in self.members
            if wanted and group not in self.readers:
                if self.feed is not None:
                    channel = self.feed.new_channel()
                    await self.layer.group_add(group, channel)
                    self.readers[group] = self.feed.subscribe(group, channel)
                else:
                    channel = await self.layer.new_channel()
                    await self.layer.group_add(group, channel)
                    self.readers[group] = _Subscription(self, group, channel)
                if self.renewer is None or self.renewer.done():
                    self.renewer = asyncio.ensure_future(self._renew())
            elif not wanted and group in self.readers:
                subscription = self.readers.pop(group)
                subscription.stop()
                self.sequences.pop(group, None)
                try:
                    await self.layer.group_discard(group, subscription.channel)
                except Exception:  # the membership expires on its own
                    logger.exception("realtime: leaving %s failed", group)

    def local_count(self, group: str) -> int:
        return len(self.members.get(group, ()))

    def received(self, group: str, event: dict[str, Any]) -> None:
        """A subscription's reader got ``event`` for ``group`` (a batch is unpacked)."""
        self.stats["messages"] += 1
        if event.get("type") == realtime.BATCH:
            self._check_sequence(group, event)
            events = event.get("events") or ()
            self.inbox.extend((group, one) for one in events)
            self.stats["events"] += len(events)
        else:
            self.inbox.append((group, event))
            self.stats["events"] += 1
        self._wake()

    def _wake(self) -> None:
        self.wakeup.set()
        if self.dispatcher is None or self.dispatcher.done():
            self.dispatcher = asyncio.ensure_future(self._dispatch_forever())

    def _check_sequence(self, group: str, message: dict[str, Any]) -> None:
        """A gap in what one process sent to ``group``: the layer dropped messages."""
        source, seq = message.get("source"), message.get("seq")
        if not isinstance(source, str) or not isinstance(seq, int):
            return
        seen = self.sequences.setdefault(group, {})
        last = seen.pop(source, None)
        seen[source] = seq
        if len(seen) > 1000:  # senders come and go (worker restarts): keep the recent ones
            del seen[next(iter(seen))]
        if last is not None and seq > last + 1:
            self.lost([group], count=seq - last - 1)

    def lost(self, groups: list[str], *, count: int | None = None) -> None:
        """Events of ``groups`` were dropped before they reached this hub: their members get
        ``LOST`` (in order: after what came before the gap) and re-fetch."""
        groups = [group for group in groups if group in self.members]
        if not groups:
            return
        self.stats["lost"] += count or 0
        self.stats["lost_notices"] += len(groups)
        logger.warning(
            "realtime: %s events to %s were dropped by the channel layer; sockets re-fetch",
            "some" if count is None else count,
            ", ".join(groups[:5]) + (" ..." if len(groups) > 5 else ""),
        )
        self.inbox.extend((group, {"type": LOST, "group": group}) for group in groups)
        self._wake()

    async def _dispatch_forever(self) -> None:
        """One dispatcher for every group, so a socket gets events in the order the process
        received them (one Redis list per process keeps publish order across groups)."""
        while True:
            while not self.inbox:
                self.wakeup.clear()
                await self.wakeup.wait()
            items = list(self.inbox)
            self.inbox.clear()
            try:
                await self.dispatch(items)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime: dispatching %s events failed", len(items))

    async def dispatch(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Render ``(group, event)`` pairs (what came in together, less what a later one
        replaces) once per language among the groups' sockets and hand each socket its
        frames, in order."""
        items = [
            (group, event) for group, event in realtime.coalesce(items) if group in self.members
        ]
        if not items:
            return
        wanted: dict[str, list[int]] = {}  # language -> indexes of the events it needs
        for n, (group, _event) in enumerate(items):
            for language in {member.language for member in self.members[group]}:
                wanted.setdefault(language, []).append(n)
        rendered = await realtime.render_languages(
            {language: [items[n][1] for n in wanted[language]] for language in sorted(wanted)}
        )
        frames: dict[tuple[str, int], Any] = {}
        for language, texts in rendered.items():
            for n, text in zip(wanted[language], texts, strict=True):
                frames[language, n] = FAILED if isinstance(text, realtime.NotRendered) else text
        self.stats["rendered"] += len(frames)
        for n, (group, event) in enumerate(items):
            for member in list(self.members.get(group, ())):
                try:
                    member.deliver(event, frames.get((member.language, n), FAILED))
                except Exception:
                    logger.exception("realtime: delivering %s failed", event.get("type"))
                else:
                    self.stats["delivered"] += 1

    async def _renew(self) -> None:
        """Re-add every subscription well before the layer's group expiry drops it."""
        every = max(60.0, getattr(self.layer, "group_expiry", 86400) / 4)
        while self.readers:
            await asyncio.sleep(every)
            for group, subscription in list(self.readers.items()):
                try:
                    await self.layer.group_add(group, subscription.channel)
                except Exception:
                    logger.exception("realtime: renewing %s failed", group)


class _Subscription:
    """One group's channel and the task that takes its events off the layer as they come and
    hands them to the hub's dispatcher. The dispatcher takes everything that came in since its
    last round, so under load events are rendered in batches (one hop to a render thread per
    language) and a row changed five times while the previous batch was rendering is rendered
    once."""

    def __init__(self, hub: Hub, group: str, channel: str) -> None:
        self.hub = hub
        self.group = group
        self.channel = channel
        self.task = asyncio.ensure_future(self._read())

    def stop(self) -> None:
        self.task.cancel()

    async def _read(self) -> None:
        while True:
            try:
                event = await self.hub.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis gone for a moment: keep reading
                logger.exception("realtime: reading %s failed", self.group)
                await asyncio.sleep(0.5)
                continue
            self.hub.received(self.group, event)


class _RedisFeed:
    """Every subscription of one hub over channels-redis, read by one task.

    The hub's channels are named ``specific.hub<token>!<uuid>``: channels-redis keeps all the
    messages for channels before the same ``!`` in one sorted set (ordered by send time), which
    only this feed reads. Each round takes up to ``batch`` messages in one round trip, waiting
    for one for less than redis-py's read timeout (``BZMPOP``; the count left, for the check
    below, is asked only after a full batch). Redis 6 has no ``BZMPOP``: there a round is
    ``ZPOPMIN`` + ``ZCARD``, or, when there are none, ``BZPOPMIN`` for one. A message for
    several of the hub's channels names them all (``__asgi_channel__``); each goes to its group.

    channels-redis refuses a message when the set already holds the channel's capacity: when a
    round finds the set that full, the feed cannot tell what was refused and every group is
    ``lost`` (its sockets re-fetch)."""

    batch = 500

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.prefix = f"specific.hub{uuid.uuid4().hex}!"
        self.channels: dict[str, str] = {}  # channel -> group
        self.task: asyncio.Task | None = None
        #: BZMPOP (Redis 7): one round trip per wake-up instead of two per message when idle
        self.multipop = True

    @staticmethod
    def supports(layer: Any) -> bool:
        try:
            from channels_redis.core import RedisChannelLayer
        except ImportError:  # pragma: no cover - channels-redis is a dependency
            return False
        return isinstance(layer, RedisChannelLayer)

    def new_channel(self) -> str:
        return self.prefix + uuid.uuid4().hex

    def subscribe(self, group: str, channel: str) -> _FeedSubscription:
        self.channels[channel] = group
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._read())
        return _FeedSubscription(self, channel)

    def unsubscribe(self, channel: str) -> None:
        self.channels.pop(channel, None)
        if not self.channels and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _read(self) -> None:
        layer = self.hub.layer
        key = layer.prefix + self.prefix
        index = layer.consistent_hash(self.prefix)
        capacity = layer.get_capacity(self.new_channel())
        task = asyncio.current_task()
        while self.channels:
            # redis-py may turn a cancellation that lands in a read into a timeout error
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            try:
                connection = layer.connection(index)
                if self.multipop:
                    popped, left = await self._pop(connection, key)
                else:
                    popped, left = await self._pop_redis6(connection, key)
                if popped is None:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone for a moment: keep reading
                if (
                    self.multipop
                    and isinstance(exc, ResponseError)
                    and "unknown command" in str(exc).lower()
                ):
                    self.multipop = False  # Redis before 7.0: no BZMPOP
                    continue
                logger.exception("realtime: reading the hub's channel failed")
                await asyncio.sleep(0.5)
                continue
            self.hub.stats["reads"] += 1
            if len(popped) + left >= capacity:
                self.hub.lost(list(self.hub.readers))
            for member in popped:
                try:
                    message = layer.deserialize(member)
                except Exception:
                    logger.exception("realtime: an unreadable message on the hub's channel")
                    continue
                targets = message.pop("__asgi_channel__", ())
                for channel in [targets] if isinstance(targets, str) else targets:
                    group = self.channels.get(channel)
                    if group is not None:
                        self.hub.received(group, message)

    async def _pop(self, connection: Any, key: str) -> tuple[list[bytes] | None, int]:
        """Up to ``batch`` messages and how many are left, waiting up to ``poll_seconds`` for
        one: one round trip (``BZMPOP``) per wake-up, idle or busy. The count left is asked
        only when the batch was full (a backlog that may be at the channel's capacity)."""
        got = await connection.bzmpop(self.hub.poll_seconds, 1, [key], min=True, count=self.batch)
        if not got:
            return None, 0
        popped = [member for member, _score in got[1]]
        left = await connection.zcard(key) if len(popped) >= self.batch else 0
        return popped, left

    async def _pop_redis6(self, connection: Any, key: str) -> tuple[list[bytes] | None, int]:
        """``_pop`` for Redis 6: a batch and the count left, else wait for one message."""
        async with connection.pipeline(transaction=True) as pipe:
            pipe.zpopmin(key, self.batch)
            pipe.zcard(key)
            popped, left = await pipe.execute()
        if popped:
            return [member for member, _score in popped], left
        got = await connection.bzpopmin(key, timeout=self.hub.poll_seconds)
        if got is None:
            return None, 0
        return [got[1]], 0


class _FeedSubscription:
    """One group's channel in a ``_RedisFeed``."""

    def __init__(self, feed: _RedisFeed, channel: str) -> None:
        self.feed = feed
        self.channel = channel

    def stop(self) -> None:
        self.feed.unsubscribe(self.channel)


#: A frame for the outbox: text to send, or a ``Close`` to end the socket with.
class Close:
    def __init__(self, code: int) -> None:
        self.code = code


class Outbox:
    """What one socket has still to send, latest state first-come first-sent (see above).

    ``join``: the frames pending when the writer takes its next one go out as one websocket
    message, their texts concatenated in order (for a page that reads every envelope of a
    message, as the agent screen's ``live.js`` does). A batch of rows the hub delivers together
    then costs each socket one send (one compression, one write to the kernel) instead of one
    per row: at 50 sockets per process that per-socket work, not the rendering, was most of a
    web process's realtime CPU.
    """

    limit = 500
    #: At most this many frames, or about this many characters, joined in one message.
    join_frames = 100
    join_chars = 256 * 1024

    def __init__(
        self,
        *,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int], Awaitable[None]],
        overflow: Callable[[], str] | None = None,
        join: bool = False,
    ) -> None:
        self._send = send
        self._close = close
        self._overflow = overflow
        self._join = join
        self._pending: collections.OrderedDict[Hashable, str | Close] = collections.OrderedDict()
        self._wakeup = asyncio.Event()
        self.coalesced = 0  # frames replaced before they were sent
        self.sent = 0  # frames sent
        self.messages = 0  # websocket messages they went out in
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin sending (frames put before are kept, in order)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._write())

    def put(self, key: Hashable, frame: str | Close, *, first: bool = False) -> None:
        """Send ``frame`` soon (before everything pending if ``first``); it replaces a pending
        frame with the same ``key``."""
        pending = self._pending
        if key in pending:
            self.coalesced += 1
        elif len(pending) >= self.limit and self._overflow is not None:
            self.coalesced += len(pending)
            pending.clear()
            key, frame = ("overflow",), self._overflow()
        pending[key] = frame
        if first:
            pending.move_to_end(key, last=False)
        self._wakeup.set()

    def close_now(self, code: int) -> None:
        """Drop what is pending and close the socket."""
        self._pending.clear()
        self.put(("close",), Close(code))

    def pending(self) -> int:
        return len(self._pending)

    def _joined(self, first: str) -> list[str]:
        """``first`` and the text frames pending after it, up to a ``Close`` or the caps."""
        pending = self._pending
        frames, size = [first], len(first)
        while pending and len(frames) < self.join_frames and size < self.join_chars:
            key, frame = next(iter(pending.items()))
            if isinstance(frame, Close):
                break
            del pending[key]
            frames.append(frame)
            size += len(frame)
        return frames

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _write(self) -> None:
        pending = self._pending
        try:
            while True:
                while not pending:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                _key, frame = pending.popitem(last=False)
                if isinstance(frame, Close):
                    await self._close(frame.code)
                    return
                frames = self._joined(frame) if self._join else [frame]
                await self._send(frames[0] if len(frames) == 1 else "".join(frames))
                self.sent += len(frames)
                self.messages += 1
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection is gone: its consumer is ending
            logger.debug("realtime: socket write failed", exc_info=True)
