"""Where pushes meet sockets: one channel-layer subscription per web process and group.

A socket never joins a channel-layer group itself. It asks this process's ``Hub`` to ``join``
a group; the first local socket in a group makes the hub subscribe one channel of its own to
it (``group_add``), the last one to leave unsubscribes it (``group_discard``). So a publish
costs the channel layer one message per web *process* that has a socket in the group, not one
per socket, and the process fans it out locally:

1. the group's reader takes events off the layer as they come, in order;
2. its dispatcher takes everything that came since its last round (one event when idle, a
   batch under load), drops the events a later one about the same thing makes redundant
   (``omnico.core.realtime.coalesce``: renderers read the object as it is now), and renders
   the rest once per language among the group's local sockets in one hop to the render
   threads (``omnico.core.realtime.render_many``), never per socket, and not at all when no
   socket is left;
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
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from omnico.core import realtime

logger = logging.getLogger(__name__)

#: What ``Member.deliver`` gets when the event has no renderer or rendering it failed.
FAILED = object()


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
        self.readers: dict[str, _Subscription] = {}
        self.lock = asyncio.Lock()  # subscribing and unsubscribing, one at a time
        self.renewer: asyncio.Task | None = None

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
                channel = await self.layer.new_channel()
                await self.layer.group_add(group, channel)
                self.readers[group] = _Subscription(self, group, channel)
                if self.renewer is None or self.renewer.done():
                    self.renewer = asyncio.ensure_future(self._renew())
            elif not wanted and group in self.readers:
                subscription = self.readers.pop(group)
                subscription.stop()
                try:
                    await self.layer.group_discard(group, subscription.channel)
                except Exception:  # the membership expires on its own
                    logger.exception("realtime: leaving %s failed", group)

    def local_count(self, group: str) -> int:
        return len(self.members.get(group, ()))

    async def dispatch(self, group: str, events: list[dict[str, Any]]) -> None:
        """Render ``events`` (what came in together, less what a later one replaces) once per
        language among the group's sockets and hand each socket its frames, in order."""
        members = self.members.get(group)
        if not members:
            return
        events = realtime.coalesce(events)
        languages = sorted({member.language for member in members})
        rendered = await asyncio.gather(
            *(realtime.render_many(events, language) for language in languages)
        )
        frames = {
            language: [FAILED if isinstance(f, realtime.NotRendered) else f for f in frames]
            for language, frames in zip(languages, rendered, strict=True)
        }
        for member in list(self.members.get(group, ())):
            mine = frames.get(member.language)
            for n, event in enumerate(events):
                try:
                    member.deliver(event, mine[n] if mine is not None else FAILED)
                except Exception:
                    logger.exception("realtime: delivering %s failed", event.get("type"))

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
    """One group's channel: a reader takes events off the layer as fast as they come; a
    dispatcher renders and delivers what has come in since its last round, so under load
    events are rendered in batches (one hop to a render thread each) and a row changed five
    times while the previous batch was rendering is rendered once."""

    def __init__(self, hub: Hub, group: str, channel: str) -> None:
        self.hub = hub
        self.group = group
        self.channel = channel
        self.inbox: collections.deque[dict[str, Any]] = collections.deque()
        self.wakeup = asyncio.Event()
        self.tasks = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._dispatch()),
        ]

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    async def _read(self) -> None:
        while True:
            try:
                self.inbox.append(await self.hub.layer.receive(self.channel))
                self.wakeup.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis gone for a moment: keep reading
                logger.exception("realtime: reading %s failed", self.group)
                await asyncio.sleep(0.5)

    async def _dispatch(self) -> None:
        while True:
            while not self.inbox:
                self.wakeup.clear()
                await self.wakeup.wait()
            events = list(self.inbox)
            self.inbox.clear()
            try:
                await self.hub.dispatch(self.group, events)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime: dispatching to %s failed", self.group)


#: A frame for the outbox: text to send, or a ``Close`` to end the socket with.
class Close:
    def __init__(self, code: int) -> None:
        self.code = code


class Outbox:
    """What one socket has still to send, latest state first-come first-sent (see above)."""

    limit = 500

    def __init__(
        self,
        *,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int], Awaitable[None]],
        overflow: Callable[[], str] | None = None,
    ) -> None:
        self._send = send
        self._close = close
        self._overflow = overflow
        self._pending: collections.OrderedDict[Hashable, str | Close] = collections.OrderedDict()
        self._wakeup = asyncio.Event()
        self.coalesced = 0  # frames replaced before they were sent
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
                await self._send(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection is gone: its consumer is ending
            logger.debug("realtime: socket write failed", exc_info=True)
