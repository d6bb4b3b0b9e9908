"""Realtime benchmark: webhook POST → list row on every connected agent socket (see bench/run).

``bench/run realtime [--agents 50] [--webhooks 200] [--rate 10]`` starts the full stack
(PostgreSQL, Redis, uvicorn workers, a Celery worker), then this script:

1. creates ``--agents`` agent users and a signed-in session for each (the same session rows a
   login writes; no password hashing), and opens one ``/ws/agent/`` websocket per agent with its
   session cookie and the site's origin, like the agent screen does;
2. POSTs signed API-channel webhooks at ``--rate`` per second, half from new customers (a new
   ticket) and half from customers who already have one (a message appended);
3. for each webhook, measures the time from just before the POST to the moment its inbox row
   (recognised by a marker in the message text, shown as the row's preview) has arrived on
   every socket. Rows are rendered from the ticket as it is when the push is handled, so a
   row shows the ticket's last stored message, which may be a later one of the same customer
   (or, when the customer's two webhooks were ingested out of order, the earlier one): a row
   showing message m counts for every message of its ticket stored no later than m. The path
   timed: webhook view → InboundEvent → Celery ingest → tickets.ticket_receive → after
   commit, one Redis message per web process → its hub renders the row once → each socket's
   outbox → socket. A webhook whose message was never stored is counted apart (ingest).

Prints p50/p95/p99 (target p95 < 100 ms) and writes JSON to bench/results/realtime.json.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import re
import statistics
import time
import uuid
from datetime import UTC, datetime
from importlib import import_module
from urllib.parse import urlsplit

import websockets

from bench.client import Connection, fast_event_loop
from bench.cluster import integrity, integrity_rows, url_list
from bench.cpu import Stack, load_average
from bench.report import percentile, print_table

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)

from configuration.models import ChannelAccount  # noqa: E402
from tickets.models import Message  # noqa: E402

MARKER = re.compile(r"rt(\w{8})n(\d+)x")


def agent_sessions(count: int) -> list[str]:
    """``count`` agent users, each with a fresh signed-in session; their session keys."""
    User = get_user_model()
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for n in range(count):
        user, created = User.objects.get_or_create(username=f"bench-rt-{n:03d}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        store = store_class()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys.append(store.session_key)
    return keys


class Agent:
    """One agent screen's socket, noting when each webhook's row arrives."""

    def __init__(self, index: int, run: str):
        self.index = index
        self.run = run
        self.arrived: dict[int, float] = {}
        self.frames = 0
        self.chars = 0  # of the frames' text, as sent before compression
        self.resyncs = 0
        self.last_row = 0.0
        self.closed: str | None = None  # why the socket ended before the run did

    async def listen(self, ws) -> None:
        try:
            await self._listen(ws)
        except websockets.ConnectionClosed as exc:
            self.closed = f"{exc.rcvd.code if exc.rcvd else exc.sent.code if exc.sent else '?'}"
        else:
            self.closed = "end"

    async def _listen(self, ws) -> None:
        async for frame in ws:
            now = time.perf_counter()
            self.frames += 1
            self.chars += len(frame)
            if 'data-live="resync"' in frame:
                self.resyncs += 1  # the server gave up a backlog: the page would re-fetch
            if 'data-live="row"' not in frame:
                continue
            for run, number in MARKER.findall(frame):
                if run == self.run:
                    self.arrived.setdefault(int(number), now)
                    self.last_row = now


def post_webhooks(
    urls: list[str], secret: str, run: str, first: int, total: int, rate: float
) -> tuple[dict[int, float], dict[int, int], float]:
    """POST signed webhooks number ``first`` to ``total - 1`` at ``rate`` per second, round robin
    over the web processes' ``urls``; when each was sent, the answers' statuses and how long it
    took."""
    hooks = [f"{url}/hooks/api/demo/" for url in urls]
    sent_at: dict[int, float] = {}
    statuses: dict[int, int] = {}

    # kept-alive connections free for the next POST, per web process
    idle: dict[str, list[Connection]] = {hook: [] for hook in hooks}

    async def post(n: int) -> None:
        # Even numbers: a new customer (new ticket); odd: the previous customer again.
        customer = f"rt-{run}-c{n - n % 2}"
        body = json.dumps(
            {
                "id": f"rt-{run}-{n}",
                "customer": {"id": customer, "name": f"Bench agent-screen {n - n % 2}"},
                "text": f"Siparişim nerede? rt{run}n{n}x",
                "time": datetime.now(UTC).isoformat(),
            }
        ).encode()
        hook = hooks[n % len(hooks)]
        connection = idle[hook].pop() if idle[hook] else Connection(hook)
        sent_at[n] = time.perf_counter()
        status, _retry_after = await connection.post(body, secret)
        statuses[status] = statuses.get(status, 0) + 1
        idle[hook].append(connection)

    fast_event_loop()  # a process of its own (spawned): install uvloop here too

    async def post_all() -> float:
        # Each POST starts on its schedule, whether or not the previous one has been
        # answered (on a connection of its own if none is free), so the rate holds when the
        # server is slow to answer. bench/client.py, not httpx: httpx costs ~2 ms of CPU per
        # request, taken from the two cores the server runs on.
        start = time.perf_counter()
        posts = []
        for n in range(first, total):
            delay = start + (n - first) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            posts.append(asyncio.create_task(post(n)))
        await asyncio.gather(*posts)
        elapsed = time.perf_counter() - start
        for connection in (c for pool in idle.values() for c in pool):
            connection.close()
        return elapsed

    posting_s = asyncio.run(post_all())
    return sent_at, statuses, posting_s


def _merge(into: dict[int, int], more: dict[int, int]) -> dict[int, int]:
    return {k: into.get(k, 0) + more.get(k, 0) for k in {*into, *more}}


async def bench(urls: list[str], agents: int, webhooks: int, rate: float, warmup: int) -> dict:
    run = uuid.uuid4().hex[:8]
    keys = await asyncio.to_thread(agent_sessions, agents)
    account = await asyncio.to_thread(ChannelAccount.objects.get, kind="api", name="demo")
    secret = account.secret
    listeners = [Agent(i, run) for i in range(agents)]
    sockets = []
    for key, agent in zip(keys, listeners, strict=True):
        # Sockets round robin over the web processes (cluster mode): agent i on process i % N.
        url = urls[agent.index % len(urls)]
        ws = await websockets.connect(
            f"ws://{urlsplit(url).netloc}/ws/agent/",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"},
            origin=url,
            max_size=2**22,
        )
        hello = await asyncio.wait_for(ws.recv(), 10)
        if 'data-live="hello"' not in hello:
            raise SystemExit(f"agent socket {agent.index} was not accepted: {hello[:200]!r}")
        sockets.append(ws)
    tasks = [asyncio.create_task(a.listen(ws)) for a, ws in zip(listeners, sockets, strict=True)]

    total = warmup + webhooks
    stack = Stack()
    # The webhooks are posted by a process of their own: this one is busy reading 50 sockets
    # (at 100/s, 5,000 frames a second) and could not keep the rate (time.perf_counter is the
    # system's monotonic clock, the same in both processes). The warm-up ones first (a fresh
    # web or worker process imports and compiles on its first webhook), then, once their rows
    # arrived, the measured ones, with the processes' CPU time read before and after.
    with concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        sent_at, statuses, _s = await asyncio.wrap_future(
            pool.submit(post_webhooks, urls, secret, run, 0, warmup, rate)
        )
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and not all(
            len(a.arrived) >= warmup // 2 or a.closed is not None for a in listeners
        ):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        load_before, cpu_before = load_average(), stack.sample()
        sent, more, posting_s = await asyncio.wrap_future(
            pool.submit(post_webhooks, urls, secret, run, warmup, total, rate)
        )
        sent_at.update(sent)
        statuses = _merge(statuses, more)

    # Until every row came, or none came for 5 s (a row may stand for two webhooks), or 30 s.
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        if all(len(a.arrived) >= total or a.closed is not None for a in listeners):
            break
        if time.perf_counter() - max(a.last_row for a in listeners) > 5:
            break
        await asyncio.sleep(0.1)
    cpu_after, load_after = stack.sample(), load_average()
    for task in tasks:
        task.cancel()
    for ws in sockets:
        await ws.close()

    # Where the time goes: POST → message row stored (ingest), then → row on all sockets.
    rows = await asyncio.to_thread(
        lambda: list(
            Message.objects.filter(external_id__startswith=f"rt-{run}-")
            .order_by("created_at", "pk")
            .values_list("external_id", "created_at", "ticket_id")
        )
    )
    stored = {
        int(external_id.rsplit("-", 1)[1]): created.timestamp() for external_id, created, _t in rows
    }
    # A row showing message m stands for the messages of its ticket stored up to m.
    later: dict[int, list[int]] = {}  # n -> the messages of its ticket stored at or after it
    by_ticket: dict[int, list[int]] = {}
    for external_id, _created, ticket_id in rows:
        by_ticket.setdefault(ticket_id, []).append(int(external_id.rsplit("-", 1)[1]))
    for numbers in by_ticket.values():
        for i, n in enumerate(numbers):
            later[n] = numbers[i:]

    def shown_at(agent: Agent, n: int) -> float | None:
        times = [agent.arrived[m] for m in later.get(n, [n]) if m in agent.arrived]
        return min(times) if times else None

    wall_offset = time.time() - time.perf_counter()
    stored_numbers = [n for n in range(warmup, total) if n in stored]
    all_sockets, per_socket, ingest, push, missing = [], [], [], [], 0
    not_stored = 0
    missing_by_webhook: dict[int, int] = {}  # webhook number -> sockets it never reached
    for n in range(warmup, total):
        if n not in stored:  # never became a message: an ingest failure, not a push one
            not_stored += 1
            continue
        times = [shown_at(a, n) for a in listeners]
        got = [t for t in times if t is not None]
        missing += len(times) - len(got)
        if len(got) < len(times):
            missing_by_webhook[n] = len(times) - len(got)
        per_socket += [(t - sent_at[n]) * 1000 for t in got]
        if len(got) == len(times):
            all_sockets.append((max(got) - sent_at[n]) * 1000)
            if n in stored:
                ingest.append((stored[n] - (sent_at[n] + wall_offset)) * 1000)
                push.append((max(got) + wall_offset - stored[n]) * 1000)
    # Per web process: its sockets, and the rows they got of the stored webhooks (every socket
    # should get every one: sockets x stored).
    per_process = []
    for p, url in enumerate(urls):
        mine = [a for a in listeners if a.index % len(urls) == p]
        per_process.append(
            {
                "url": url,
                "sockets": len(mine),
                "expected": len(mine) * len(stored_numbers),
                "received": sum(
                    1 for a in mine for n in stored_numbers if shown_at(a, n) is not None
                ),
            }
        )
    return {
        "web_processes": per_process,
        "agents": agents,
        "webhooks": webhooks,
        "rate_per_s": rate,
        "posted_per_s": round(webhooks / posting_s, 1),
        "http_status": statuses,
        "not_stored": not_stored,
        "complete": len(all_sockets),
        "missing_deliveries": missing,
        "missing_by_webhook": missing_by_webhook,
        "resync_frames": sum(a.resyncs for a in listeners),
        "sockets_closed_early": sorted(
            f"{a.index}:{a.closed}" for a in listeners if a.closed is not None
        ),
        "all_sockets_ms_p50": round(percentile(all_sockets, 50), 1),
        "all_sockets_ms_p95": round(percentile(all_sockets, 95), 1),
        "all_sockets_ms_p99": round(percentile(all_sockets, 99), 1),
        "all_sockets_ms_max": round(max(all_sockets), 1) if all_sockets else None,
        "per_socket_ms_p50": round(percentile(per_socket, 50), 1),
        "ingest_ms_p50": round(percentile(ingest, 50), 1),
        "ingest_ms_p95": round(percentile(ingest, 95), 1),
        "stored_to_all_sockets_ms_p50": round(percentile(push, 50), 1),
        "stored_to_all_sockets_ms_p95": round(percentile(push, 95), 1),
        "per_socket_ms_mean": round(statistics.fmean(per_socket), 1) if per_socket else None,
        "frames_per_socket": round(statistics.fmean(a.frames for a in listeners), 1),
        "frame_chars_mean": round(
            sum(a.chars for a in listeners) / max(1, sum(a.frames for a in listeners))
        ),
        # CPU per webhook, by process (bench/cpu.py): what the run cost, whatever the load.
        "cpu_ms_per_webhook": Stack.per_item(cpu_before, cpu_after, webhooks),
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default="bench/results/realtime.json")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    fast_event_loop()
    result = asyncio.run(
        bench(url_list(args.url), args.agents, args.webhooks, args.rate, args.warmup)
    )
    result["machine"] = {"cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat()}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    rows = [
        ("agent sockets", result["agents"]),
        (f"webhooks at {result['rate_per_s']:g}/s", result["webhooks"]),
        ("webhooks posted per s", result["posted_per_s"]),
        ("webhooks not stored as messages (ingest)", result["not_stored"]),
        ("rows on all sockets (of stored webhooks)", result["complete"]),
        ("missing deliveries (of stored webhooks)", result["missing_deliveries"]),
        ("resync frames (backlogs given up)", result["resync_frames"]),
        ("sockets the server closed before the end", len(result["sockets_closed_early"])),
        ("POST → row on all sockets p50 ms", result["all_sockets_ms_p50"]),
        ("POST → row on all sockets p95 ms (target < 100)", result["all_sockets_ms_p95"]),
        ("POST → row on all sockets p99 ms", result["all_sockets_ms_p99"]),
        ("POST → row on one socket p50 ms", result["per_socket_ms_p50"]),
        (
            "  of which POST → message stored p50 / p95 ms",
            (result["ingest_ms_p50"], result["ingest_ms_p95"]),
        ),
        (
            "  of which stored → row on all sockets p50 / p95 ms",
            (result["stored_to_all_sockets_ms_p50"], result["stored_to_all_sockets_ms_p95"]),
        ),
    ]
    rows.append(
        (
            "frames per socket, mean characters",
            (result["frames_per_socket"], result["frame_chars_mean"]),
        )
    )
    cpu = result["cpu_ms_per_webhook"]
    rows += [
        (f"  CPU ms per webhook: {role}", cpu[role])
        for role in ("web", "worker", "beat", "postgres", "pgbouncer", "redis", "stack", "bench")
        if role in cpu
    ]
    rows.append(("load average (1 min) before / after", tuple(result["load_average"])))
    rows += [
        (
            f"web process {p['url']}: sockets, rows received / expected",
            (p["sockets"], p["received"], p["expected"]),
        )
        for p in result["web_processes"]
    ]
    result["cluster"] = integrity()
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    rows += integrity_rows(result["cluster"])
    print_table(rows, args.out)


if __name__ == "__main__":
    main()
