"""A visitor socket that closes while a pool snapshot makes it leave the queue's group leaves
every group once, without an error (the race seen as ``list.remove(x): x not in list``)."""

from __future__ import annotations

import asyncio

from channels_adapters.webchat.consumers import VisitorConsumer
from omnico.core import realtime


class _SlowHub:
    """Records leaves; each one awaits, as the real hub's does (a Redis round trip)."""

    def __init__(self) -> None:
        self.left: list[str] = []

    async def leave(self, group: str, consumer: object) -> None:
        await asyncio.sleep(0)
        self.left.append(group)


def test_closing_while_leaving_the_queue_leaves_each_group_once():
    consumer = VisitorConsumer()
    hub = _SlowHub()
    consumer.hub = hub  # type: ignore[assignment]
    consumer.outbox = None
    consumer.queue_shown = None  # the ticket just left the pool
    # The queue's group joined last (the visitor went to the pool after following their ticket).
    consumer.groups_joined = ["visitor.1", realtime.VISITOR_QUEUE_GROUP]

    async def scenario() -> None:
        # The socket closes while a snapshot's leave of the queue's group runs.
        await asyncio.gather(consumer.disconnect(1000), consumer._leave_queue())

    asyncio.run(scenario())
    assert sorted(hub.left) == sorted([realtime.VISITOR_QUEUE_GROUP, "visitor.1"])
    assert consumer.groups_joined == []
