"""The per-process realtime hub and a socket's outbox, without a server.

The hub is what makes a push one channel-layer message per web process: its sockets share one
subscription per group. The outbox is what a slow screen gets: the latest state of each thing
it shows, coalesced, not a backlog.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from omnico.core import realtime, realtime_hub


def run(coroutine_fn):
    return async_to_sync(coroutine_fn)()


class StalledSocket:
    """A connection that takes one frame and then stalls until ``release``."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()
        self.closed: int | None = None

    async def send(self, text: str) -> None:
        self.sent.append(text)
        if len(self.sent) == 1:
            await self.gate.wait()

    async def close(self, code: int) -> None:
        self.closed = code

    def release(self) -> None:
        self.gate.set()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_slow_socket_gets_the_latest_state_of_each_thing_in_order():
    async def scenario():
        sock = StalledSocket()
        outbox = realtime_hub.Outbox(send=sock.send, close=sock.close)
        outbox.start()
        outbox.put(("row", 1), "row 1 v1")
        await settle()  # sent; the connection now stalls
        for version in range(2, 6):
            outbox.put(("row", 1), f"row 1 v{version}")
        outbox.put(("message", 7), "message 7")
        outbox.put(("row", 2), "row 2 v1")
        outbox.put(("message", 7), "message 7 delivered")
        assert outbox.pending() == 3
        sock.release()
        await settle()
        assert sock.sent == ["row 1 v1", "row 1 v5", "message 7 delivered", "row 2 v1"]
        assert outbox.coalesced == 4
        outbox.stop()

    run(scenario)


def test_a_backlog_past_the_limit_becomes_one_resync():
    async def scenario():
        sock = StalledSocket()
        outbox = realtime_hub.Outbox(send=sock.send, close=sock.close, overflow=lambda: "resync")
        outbox.limit = 10
        outbox.start()
        outbox.put(("row", 0), "row 0")
        await settle()
        for n in range(1, 25):
            outbox.put(("row", n), f"row {n}")
        assert outbox.pending() <= 10
        sock.release()
        await settle()
        assert sock.sent[:2] == ["row 0", "resync"]
        assert "row 24" in sock.sent  # what came after the resync still goes out
        outbox.stop()

    run(scenario)


def test_frames_waiting_together_go_out_as_one_message_when_the_page_reads_several():
    async def scenario():
        sock = StalledSocket()
        outbox = realtime_hub.Outbox(send=sock.send, close=sock.close, join=True)
        outbox.start()
        outbox.put(("row", 1), "<row 1>")
        await settle()  # sent alone; the connection now stalls
        outbox.put(("row", 2), "<row 2 v1>")
        outbox.put(("message", 7), "<message 7>")
        outbox.put(("row", 2), "<row 2 v2>")  # still replaces the pending one in its place
        outbox.put(("row", 3), "<row 3>")
        sock.release()
        await settle()
        assert sock.sent == ["<row 1>", "<row 2 v2><message 7><row 3>"]
        assert (outbox.sent, outbox.messages, outbox.coalesced) == (4, 2, 1)
        outbox.stop()

    run(scenario)


def test_joined_frames_stop_at_a_close():
    async def scenario():
        sock = StalledSocket()
        outbox = realtime_hub.Outbox(send=sock.send, close=sock.close, join=True)
        outbox.start()
        outbox.put(("row", 1), "<row 1>")
        await settle()
        outbox.put(("row", 2), "<row 2>")
        outbox.put(("row", 3), "<row 3>")
        outbox.put(("close",), realtime_hub.Close(4401))
        sock.release()
        await settle()
        assert sock.sent == ["<row 1>", "<row 2><row 3>"]
        assert sock.closed == 4401

    run(scenario)


def test_closing_drops_what_is_pending_and_closes_the_socket():
    async def scenario():
        sock = StalledSocket()
        outbox = realtime_hub.Outbox(send=sock.send, close=sock.close)
        outbox.start()
        outbox.put(("row", 1), "row 1")
        await settle()
        outbox.put(("row", 2), "row 2")
        outbox.close_now(4401)
        sock.release()
        await settle()
        assert sock.sent == ["row 1"]
        assert sock.closed == 4401

    run(scenario)


class Member:
    def __init__(self, language: str = "en") -> None:
        self.language = language
        self.got: list[tuple[str, object]] = []

    def deliver(self, event, frame) -> None:
        self.got.append((event["type"], frame))


class CountingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.adds: list[str] = []
        self.discards: list[str] = []

    async def group_add(self, group, channel):
        self.adds.append(group)
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        self.discards.append(group)
        await super().group_discard(group, channel)


def test_sockets_of_a_process_share_one_subscription_per_group_and_the_last_one_out_ends_it():
    async def scenario():
        layer = CountingLayer()
        hub = realtime_hub.Hub.get(layer)
        members = [Member() for _ in range(5)]
        for member in members:
            await hub.join("agents", member)
        assert layer.adds == ["agents"]
        assert len(layer.groups["agents"]) == 1  # one channel for five sockets
        await layer.group_send("agents", {"type": "toast", "html": {"en": "hi"}})
        await asyncio.sleep(0.05)
        assert [m.got for m in members] == [[("toast", "hi")]] * 5
        for member in members[:-1]:
            await hub.leave("agents", member)
        assert layer.discards == []
        await hub.leave("agents", members[-1])
        assert layer.discards == ["agents"]
        assert "agents" not in layer.groups
        assert hub.readers == {}

    run(scenario)


def test_an_event_is_rendered_once_per_language_among_the_sockets(db, monkeypatch):
    calls = []

    def renderer(event, language):
        calls.append(language)
        return f"<{language}>"

    monkeypatch.setitem(realtime._renderers, "test.thing", renderer)

    async def scenario():
        layer = InMemoryChannelLayer()
        hub = realtime_hub.Hub.get(layer)
        members = [Member(language) for language in ("en", "tr", "en", "tr", "en")]
        for member in members:
            await hub.join("agents", member)
        await layer.group_send("agents", {"type": "test.thing", "event": "e1"})
        for _ in range(100):
            if all(m.got for m in members):
                break
            await asyncio.sleep(0.01)
        assert sorted(calls) == ["en", "tr"]
        assert [m.got[0][1] for m in members] == ["<en>", "<tr>", "<en>", "<tr>", "<en>"]
        for member in members:
            await hub.leave("agents", member)

    run(scenario)


def test_a_leave_racing_the_first_join_leaves_no_subscription_behind():
    async def scenario():
        layer = CountingLayer()
        hub = realtime_hub.Hub.get(layer)
        member = Member()
        joining = asyncio.ensure_future(hub.join("ticket.5", member))
        await asyncio.sleep(0)
        await hub.leave("ticket.5", member)
        await joining
        assert hub.readers == {}
        assert "ticket.5" not in layer.groups

    run(scenario)


def test_a_socket_that_could_not_subscribe_leaves_nothing_behind():
    class DownLayer(InMemoryChannelLayer):
        async def group_add(self, group, channel):
            raise ConnectionError("redis is down")

    async def scenario():
        hub = realtime_hub.Hub.get(DownLayer())
        member = Member()
        with pytest.raises(ConnectionError):
            await hub.join("agents", member)
        assert hub.members == {}
        assert hub.readers == {}

    run(scenario)


def test_the_hub_waits_on_redis_for_less_than_redis_py_reads_before_timing_out():
    """channels-redis blocks BZPOPMIN 5 s; redis-py reads with a 5 s socket timeout by default.
    Racing, the read fails now and then and takes the message popped at that moment with it."""
    from channels_redis.core import RedisChannelLayer
    from redis._defaults import DEFAULT_SOCKET_TIMEOUT

    async def scenario():
        layer = RedisChannelLayer(hosts=["redis://127.0.0.1:1"])
        realtime_hub.Hub.get(layer)
        assert layer.brpop_timeout < DEFAULT_SOCKET_TIMEOUT

    run(scenario)


def test_events_committed_together_travel_as_one_message_per_group_and_arrive_in_order():
    sent = [
        ("agents", {"type": "toast", "html": {"en": "one"}}),
        ("ticket.5", {"type": "toast", "html": {"en": "message"}}),
        ("agents", {"type": "toast", "html": {"en": "two"}}),
    ]
    batched = realtime._batched(sent)
    assert [group for group, _message in batched] == ["agents", "ticket.5"]
    assert batched[0][1]["type"] == realtime.BATCH

    async def scenario():
        layer = InMemoryChannelLayer()
        hub = realtime_hub.Hub.get(layer)
        member = Member()
        await hub.join("agents", member)
        for group, message in batched:
            await layer.group_send(group, message)
        for _ in range(100):
            if len(member.got) == 2:
                break
            await asyncio.sleep(0.01)
        assert member.got == [("toast", "one"), ("toast", "two")]
        await hub.leave("agents", member)

    run(scenario)


def numbered(sequence, group, text):
    return sequence.stamp(group, {"type": "toast", "html": {"en": text}})


def test_a_gap_in_a_senders_numbers_makes_the_groups_sockets_re_fetch():
    """The in-memory layer, like channels-redis, drops what a full channel cannot take."""

    async def scenario():
        layer = InMemoryChannelLayer(capacity=2)
        hub = realtime_hub.Hub.get(layer)
        member, elsewhere = Member(), Member()
        await hub.join("agents", member)
        await hub.join("ticket.5", elsewhere)
        reader = hub.readers["agents"]
        reader.task.cancel()  # the process falls behind: nothing is read for a while
        await asyncio.sleep(0)
        sequence = realtime._Sequence()
        for n in range(1, 6):  # the channel is full at 2: the layer drops the rest
            await layer.group_send("agents", numbered(sequence, "agents", f"toast {n}"))
        reader.task = asyncio.ensure_future(reader._read())
        await asyncio.sleep(0.05)
        await layer.group_send("agents", numbered(sequence, "agents", "toast 6"))
        for _ in range(100):
            if len(member.got) == 4:
                break
            await asyncio.sleep(0.01)
        assert [kind for kind, _frame in member.got] == [
            "toast",
            "toast",
            realtime_hub.LOST,
            "toast",
        ]
        assert [frame for _kind, frame in member.got if frame is not realtime_hub.FAILED] == [
            "toast 1",
            "toast 2",
            "toast 6",
        ]
        assert elsewhere.got == []  # only the group that lost events re-fetches
        assert hub.stats["lost"] == 3
        for group, one in (("agents", member), ("ticket.5", elsewhere)):
            await hub.leave(group, one)

    run(scenario)


@pytest.mark.services
@pytest.mark.skipif(not os.environ.get("OMNICO_TEST_SERVICES"), reason="needs scripts/test's Redis")
def test_a_hub_whose_redis_channel_reached_its_capacity_makes_every_socket_re_fetch(settings):
    from channels_redis.core import RedisChannelLayer

    async def scenario():
        layer = RedisChannelLayer(
            hosts=[settings.REDIS_URL],
            prefix=f"t{uuid.uuid4().hex[:12]}",
            channel_capacity={"specific.hub*": 5},
        )
        hub = realtime_hub.Hub.get(layer)
        assert hub.feed is not None  # one reader for all the hub's groups
        members = {group: Member() for group in ("agents", "agent.7", "ticket.5")}
        for group, member in members.items():
            await hub.join(group, member)
        hub.feed.task.cancel()  # the process falls behind: nothing is read for a while
        sequence = realtime._Sequence()
        for n in range(8):  # the last 3 are refused by channels-redis (logged by the sender)
            await layer.group_send("agents", numbered(sequence, "agents", f"row {n}"))
        hub.feed.task = asyncio.ensure_future(hub.feed._read())
        for _ in range(200):
            if all(realtime_hub.LOST in [kind for kind, _f in m.got] for m in members.values()):
                break
            await asyncio.sleep(0.01)
        shown = [f for _k, f in members["agents"].got if f is not realtime_hub.FAILED]
        assert shown == [f"row {n}" for n in range(len(shown))] and len(shown) < 8
        for member in members.values():
            assert realtime_hub.LOST in [kind for kind, _frame in member.got]
        for group, member in members.items():
            await hub.leave(group, member)
        await layer.flush()

    run(scenario)


# --- rendered once for the whole cluster ------------------------------------------------------


def redis_layers(settings, count: int):
    """``count`` channel layers on the test Redis sharing one private prefix, as ``count`` web
    processes have; the default layer (what this process publishes through) uses it too."""
    import copy

    from channels_redis.core import RedisChannelLayer

    prefix = f"t{uuid.uuid4().hex[:12]}"
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = prefix
    settings.CHANNEL_LAYERS = layers  # channels drops its cached layer on this change
    config = layers["default"]["CONFIG"]
    return [
        RedisChannelLayer(
            hosts=config["hosts"], prefix=prefix, channel_capacity=config["channel_capacity"]
        )
        for _ in range(count)
    ]


class CountingRenderer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (event, language), from render threads

    def __call__(self, event, language):
        self.calls.append((event["event"], language))
        return f"<{event['event']} {language}>"


async def received(members, count: int) -> None:
    for _ in range(300):
        if all(len(m.got) >= count for m in members):
            return
        await asyncio.sleep(0.01)


needs_redis = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"), reason="needs scripts/test's Redis"
    ),
]


@needs_redis[0]
@needs_redis[1]
def test_two_web_processes_get_a_row_rendered_once_between_them(db, settings, monkeypatch):
    """Every web process has agent sockets: a row rendered by each process was rendered once per
    process. It is rendered once, where it is published, in the languages the processes' sockets
    use, and every socket gets it."""
    renderer = CountingRenderer()
    monkeypatch.setitem(realtime._renderers, "test.row", renderer)
    layers = redis_layers(settings, 2)

    async def scenario():
        hubs = [realtime_hub.Hub.get(layer) for layer in layers]
        members = [Member("en"), Member("en"), Member("en")]
        for hub, member in zip([hubs[0], hubs[1], hubs[1]], members, strict=True):
            await hub.join(realtime.AGENTS_GROUP, member)
        row = {"type": "test.row", "event": "e1", "ticket_id": 1}
        await asyncio.to_thread(realtime._send, [(realtime.AGENTS_GROUP, row)])
        await received(members, 1)
        assert [m.got for m in members] == [[("test.row", "<e1 en>")]] * 3
        assert renderer.calls == [("e1", "en")]
        for hub, member in zip([hubs[0], hubs[1], hubs[1]], members, strict=True):
            await hub.leave(realtime.AGENTS_GROUP, member)
        await layers[0].flush()

    run(scenario)


@needs_redis[0]
@needs_redis[1]
def test_a_language_the_publisher_has_not_rendered_is_rendered_by_the_process_that_needs_it(
    db, settings, monkeypatch
):
    renderer = CountingRenderer()
    monkeypatch.setitem(realtime._renderers, "test.row", renderer)
    layers = redis_layers(settings, 2)

    async def scenario():
        english, turkish = Member("en"), Member("tr")
        first = realtime_hub.Hub.get(layers[0])
        await first.join(realtime.AGENTS_GROUP, english)
        one = {"type": "test.row", "event": "e1", "ticket_id": 1}
        await asyncio.to_thread(realtime._send, [(realtime.AGENTS_GROUP, one)])
        await received([english], 1)
        # A Turkish screen opens on another process; the publisher read the languages a moment
        # ago (it re-reads them every few seconds) and renders the next row in English only.
        second = realtime_hub.Hub.get(layers[1])
        await second.join(realtime.AGENTS_GROUP, turkish)
        two = {"type": "test.row", "event": "e2", "ticket_id": 2}
        await asyncio.to_thread(realtime._send, [(realtime.AGENTS_GROUP, two)])
        await received([turkish], 1)
        await received([english], 2)
        assert english.got == [("test.row", "<e1 en>"), ("test.row", "<e2 en>")]
        assert turkish.got == [("test.row", "<e2 tr>")]
        assert sorted(renderer.calls) == [("e1", "en"), ("e2", "en"), ("e2", "tr")]
        await first.leave(realtime.AGENTS_GROUP, english)
        await second.leave(realtime.AGENTS_GROUP, turkish)
        await layers[0].flush()

    run(scenario)


def test_an_event_rendered_at_the_publisher_is_rendered_again_when_merged_with_an_earlier_one(
    monkeypatch,
):
    """A new ticket's row merged with its next update keeps the "new" mark: the text the
    publisher rendered for the update alone is not what the merged event shows."""
    monkeypatch.setitem(
        realtime._coalesce,
        "test.row",
        (lambda e: e["ticket_id"], lambda a, b: {**b, "created": a["created"] or b["created"]}),
    )
    created = {"type": "test.row", "ticket_id": 5, "created": True, "html": {"en": "new"}}
    update = {"type": "test.row", "ticket_id": 5, "created": False, "html": {"en": "old"}}
    ((_group, merged),) = realtime.coalesce([("agents", created), ("agents", update)])
    assert merged["created"] is True and "html" not in merged
    same = {**update, "created": True, "html": {"en": "new again"}}
    ((_group, kept),) = realtime.coalesce([("agents", created), ("agents", same)])
    assert kept["html"] == {"en": "new again"}


def test_a_transactions_publishes_are_sent_by_one_call_after_it_commits_less_a_rolled_back_one(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    """An ingest batch publishes a row per message: sent (and, on Redis, rendered at the
    publisher) together, so the rows' objects are fetched in one go; what a rolled-back
    savepoint published is still never sent."""
    from django.db import transaction

    calls: list[list[str]] = []
    monkeypatch.setattr(
        realtime, "_send", lambda messages: calls.append([m["text"] for _g, m in messages])
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        realtime.publish("agents", "test.row", text="one")
        realtime.publish("ticket.1", "test.message", text="two")
        try:
            with transaction.atomic():
                realtime.publish("agents", "test.row", text="rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        realtime.publish("agents", "test.row", text="three")
    assert calls == [["one", "two", "three"]]


@needs_redis[0]
@needs_redis[1]
def test_a_celery_child_renders_the_row_in_the_thread_that_published_it(db, settings, monkeypatch):
    """Its pool holds one connection, which the publishing (task) thread has: a render thread
    would wait for the task to end."""
    import threading

    threads: list[str] = []

    def renderer(event, language):
        threads.append(threading.current_thread().name)
        return f"<{event['event']} {language}>"

    monkeypatch.setitem(realtime._renderers, "test.row", renderer)
    monkeypatch.setattr(realtime, "_one_connection", lambda: True)
    layers = redis_layers(settings, 2)

    def publish_from_a_task() -> str:
        realtime._send([(realtime.AGENTS_GROUP, {"type": "test.row", "event": "e1"})])
        return threading.current_thread().name

    async def scenario():
        members = [Member("en"), Member("en")]
        for layer, member in zip(layers, members, strict=True):
            await realtime_hub.Hub.get(layer).join(realtime.AGENTS_GROUP, member)
        task_thread = await asyncio.to_thread(publish_from_a_task)
        await received(members, 1)
        assert [m.got for m in members] == [[("test.row", "<e1 en>")]] * 2
        assert threads == [task_thread]
        for layer, member in zip(layers, members, strict=True):
            await realtime_hub.Hub.get(layer).leave(realtime.AGENTS_GROUP, member)
        await layers[0].flush()

    run(scenario)


# --- one Redis round trip per wake-up ----------------------------------------------------------


class CountingRedis:
    """A Redis client that counts the commands (a pipeline counts once) sent through it."""

    commands = ("bzmpop", "bzpopmin", "zpopmin", "zcard", "pipeline")

    def __init__(self, client, counts) -> None:
        self.client = client
        self.counts = counts

    def __getattr__(self, name):
        if name in self.commands:
            self.counts.append(name)
        return getattr(self.client, name)


def _counting(layer, counts):
    connection = layer.connection
    layer.connection = lambda index: CountingRedis(connection(index), counts)


@needs_redis[0]
@needs_redis[1]
def test_a_hub_reads_each_event_that_comes_alone_in_one_redis_round_trip(settings):
    """A quiet desk (one webhook at a time): every event woke the hub's reader, which then
    asked Redis again before it waited (two round trips per event)."""
    from channels_redis.core import RedisChannelLayer

    async def scenario():
        prefix = f"t{uuid.uuid4().hex[:12]}"
        layer = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)
        publisher = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=prefix)  # a worker
        counts: list[str] = []
        _counting(layer, counts)
        hub = realtime_hub.Hub.get(layer)
        member = Member()
        await hub.join("agents", member)
        await asyncio.sleep(0.2)  # the reader waits
        sequence = realtime._Sequence()
        before = len(counts)
        for n in range(5):
            await publisher.group_send("agents", numbered(sequence, "agents", f"row {n}"))
            await received([member], n + 1)
            await asyncio.sleep(0.05)  # the reader waits again
        assert [frame for _kind, frame in member.got] == [f"row {n}" for n in range(5)]
        assert len(counts) - before <= 5 + 1  # a wake-up each, at most one poll timing out
        await hub.leave("agents", member)
        await layer.flush()
        await publisher.flush()

    run(scenario)


@needs_redis[0]
@needs_redis[1]
def test_a_backlog_is_read_in_full_batches_and_in_order(settings):
    from channels_redis.core import RedisChannelLayer

    async def scenario():
        layer = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=f"t{uuid.uuid4().hex[:12]}")
        hub = realtime_hub.Hub.get(layer)
        assert hub.feed is not None
        hub.feed.batch = 7
        member = Member()
        await hub.join("agents", member)
        hub.feed.task.cancel()  # the process falls behind
        sequence = realtime._Sequence()
        for n in range(30):
            await layer.group_send("agents", numbered(sequence, "agents", f"row {n}"))
        hub.feed.task = asyncio.ensure_future(hub.feed._read())
        await received([member], 30)
        assert [frame for _kind, frame in member.got] == [f"row {n}" for n in range(30)]
        assert hub.stats["lost"] == 0
        await hub.leave("agents", member)
        await layer.flush()

    run(scenario)
