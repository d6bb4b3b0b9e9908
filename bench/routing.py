"""Routing benchmark: decisions per second with 20 agents, and slot freed → pool head on the
agent's screen (see bench/run and bench/README.md).

``bench/run routing [--agents 20] [--capacity 5] [--seconds 20] [--creators 3]
[--samples 100] [--rate 5]`` starts the full stack (PostgreSQL, Redis, uvicorn workers, a
Celery worker), then this script:

1. creates ``--agents`` agents with capacity ``--capacity``, makes them active (every other
   agent of the demo goes offline, the demo's pool is closed, so only these take tickets), and
   opens one ``/ws/agent/`` socket per agent with a signed-in session, like the agent screen;
2. **decisions**: ``--creators`` threads (each its own database connection) open new tickets
   as fast as they can for ``--seconds`` (``tickets.receiving.ticket_receive``: the ticket is
   stored and routed when it commits, to the freest agent or into the pool) while one thread
   resolves the oldest assigned ticket over and over (each resolve frees a slot: the pool head
   is assigned at once). A routing decision is a new ticket routed (to an agent or the pool)
   or a freed slot given to the pool head (a drain after each resolve). Reported: decisions
   per second, the time of one create-and-route call, and that no agent ever held more than
   their capacity;
3. **slot freed → shown**: every agent full and the pool holding tickets, ``--samples`` times
   at ``--rate`` per second one agent resolves a ticket (``tickets.services.ticket_set_status``
   in this process, as a web request would). Timed from just before that call to the moment
   the pool head's row, now carrying that agent as assignee, arrives on that agent's socket:
   resolve committed → pool drained and assigned → after commit, one Redis message per web
   process → its hub renders the row → the agent's socket. Target p95 < 100 ms.

Prints the figures and writes JSON to bench/results/routing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from importlib import import_module
from urllib.parse import urlsplit

import websockets

from bench.cpu import load_average
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
from django.db import connection  # noqa: E402
from django.db.models import Count, Q  # noqa: E402

from configuration.models import ChannelAccount, OperatorProfile  # noqa: E402
from customers.services import customer_resolve  # noqa: E402
from omnico.core import realtime  # noqa: E402
from tickets.models import SLOT_STATUSES, AgentPresence, Ticket, TicketStatus  # noqa: E402
from tickets.presence import agent_go_active  # noqa: E402
from tickets.receiving import Incoming, ticket_receive  # noqa: E402
from tickets.services import ticket_set_status  # noqa: E402

ROW = re.compile(r'data-live="row" data-ticket="(\d+)"[^>]*?data-assignee="(\d*)"')


def setup_agents(count: int, capacity: int, run: str) -> list[tuple[int, str]]:
    """``count`` active agents of this run, each with a signed-in session: (user id, key).
    Nobody else takes tickets, and the pool starts empty."""
    User = get_user_model()
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    AgentPresence.objects.update(is_active=False, state="offline", break_reason=None)
    Ticket.objects.filter(status__in=SLOT_STATUSES).update(status=TicketStatus.CLOSED)
    agents = []
    for n in range(count):
        user = User.objects.create(username=f"bench-route-{run}-{n:02d}")
        OperatorProfile.objects.create(user=user, capacity=capacity)
        agent_go_active(user=user)
        store = store_class()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        agents.append((user.pk, store.session_key))
    return agents


def new_ticket(account: ChannelAccount, run: str, n: int) -> None:
    customer = customer_resolve(kind=account.kind, external_id=f"route-{run}-{n}", name=f"R{n}")
    ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body=f"route {run} {n}", external_id=f"route-{run}-{n}"),
    )


def resolve_oldest(agent_id: int | None = None) -> int | None:
    """Resolve the oldest assigned ticket (of ``agent_id``); its id, or None."""
    tickets = Ticket.objects.filter(assignee__isnull=False, status__in=SLOT_STATUSES)
    if agent_id is not None:
        tickets = tickets.filter(assignee_id=agent_id)
    ticket = tickets.order_by("assigned_at", "pk").first()
    if ticket is None:
        return None
    ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED)
    return ticket.pk


def _assignee_of(ticket_id: int | None) -> int | None:
    return Ticket.objects.filter(pk=ticket_id).values_list("assignee_id", flat=True).first()


def over_capacity(agent_ids: list[int]) -> int:
    """Agents holding more slot tickets than their capacity now."""
    rows = (
        get_user_model()
        .objects.filter(pk__in=agent_ids)
        .annotate(
            works=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=SLOT_STATUSES))
        )
        .values_list("works", "operator_profile__capacity")
    )
    return sum(1 for works, capacity in rows if works > capacity)


def decisions(account: ChannelAccount, run: str, seconds: float, creators: int) -> dict:
    """Phase 2: creators and a resolver racing for ``seconds``."""
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))
    lock = threading.Lock()
    route_ms: list[float] = []
    resolved: list[int] = []
    errors: list[str] = []

    def create() -> None:
        try:
            while time.perf_counter() < stop:
                with lock:
                    n = next(counter)
                t0 = time.perf_counter()
                new_ticket(account, run, n)
                route_ms.append((time.perf_counter() - t0) * 1000)
        except Exception as exc:  # noqa: BLE001 - reported, the run goes on
            errors.append(repr(exc))
        finally:
            connection.close()

    def resolve() -> None:
        try:
            while time.perf_counter() < stop:
                pk = resolve_oldest()
                if pk is None:
                    time.sleep(0.01)
                else:
                    resolved.append(pk)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
        finally:
            connection.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=create) for _ in range(creators)]
    threads.append(threading.Thread(target=resolve))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    created = len(route_ms)
    # Each resolve drains the pool into the freed slot: one decision (the head, or nothing).
    waiting = Ticket.objects.filter(assignee__isnull=True, status__in=SLOT_STATUSES).count()
    return {
        "seconds": round(elapsed, 1),
        "creators": creators,
        "tickets_created": created,
        "tickets_resolved": len(resolved),
        "pool_at_end": waiting,
        "decisions": created + len(resolved),
        "decisions_per_s": round((created + len(resolved)) / elapsed, 1),
        "create_and_route_ms_p50": round(percentile(route_ms, 50), 1),
        "create_and_route_ms_p95": round(percentile(route_ms, 95), 1),
        "create_and_route_ms_p99": round(percentile(route_ms, 99), 1),
        "errors": errors[:5],
    }


class Screen:
    """One agent's socket: when each ticket's row first arrived with this agent as assignee."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.mine: dict[int, float] = {}

    async def listen(self, ws) -> None:
        try:
            async for frame in ws:
                now = time.perf_counter()
                for ticket_id, assignee in ROW.findall(frame):
                    if assignee == str(self.user_id):
                        self.mine.setdefault(int(ticket_id), now)
        except websockets.ConnectionClosed:
            return


async def freed_to_shown(
    url: str, account: ChannelAccount, run: str, agents: list[tuple[int, str]], args
) -> dict:
    """Phase 3: slot freed → pool head shown on the freed agent's socket."""
    parts = urlsplit(url)
    screens, sockets = [], []
    for user_id, key in agents:
        ws = await websockets.connect(
            f"ws://{parts.netloc}/ws/agent/",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"},
            origin=url,
            max_size=2**22,
        )
        hello = await asyncio.wait_for(ws.recv(), 10)
        if 'data-live="hello"' not in hello:
            raise SystemExit(f"agent socket {user_id} was not accepted: {hello[:200]!r}")
        screens.append(Screen(user_id))
        sockets.append(ws)
    tasks = [asyncio.create_task(s.listen(ws)) for s, ws in zip(screens, sockets, strict=True)]
    by_id = {s.user_id: s for s in screens}
    # Every agent full, and more than enough waiting in the pool for every sample.
    slots = args.agents * args.capacity
    base = 10**6
    for n in range(slots + args.samples + 10):
        await asyncio.to_thread(new_ticket, account, run, base + n)
    await asyncio.to_thread(realtime.flush)
    await asyncio.sleep(1)

    def head_and_resolve(agent_id: int) -> tuple[int | None, float, float]:
        head = (
            Ticket.objects.filter(assignee__isnull=True, status__in=SLOT_STATUSES)
            .order_by("priority_rank", "created_at", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        t0 = time.perf_counter()
        resolve_oldest(agent_id)  # commits; the drain runs on commit, inside this call
        return head, t0, time.perf_counter()

    latencies, in_call, missing, wrong = [], [], 0, 0
    for _sample in range(args.samples):
        pace = time.perf_counter() + 1 / args.rate
        agent_id = random.choice(agents)[0]
        head, t0, returned = await asyncio.to_thread(head_and_resolve, agent_id)
        in_call.append((returned - t0) * 1000)
        deadline = time.perf_counter() + 5
        screen = by_id[agent_id]
        while head not in screen.mine and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        if head in screen.mine:
            latencies.append((screen.mine[head] - t0) * 1000)
        else:
            got = await asyncio.to_thread(_assignee_of, head)
            wrong += got != agent_id
            missing += 1
        await asyncio.sleep(max(0, pace - time.perf_counter()))
    for task in tasks:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return {
        "samples": args.samples,
        "rate_per_s": args.rate,
        "shown": len(latencies),
        "not_shown_in_5s": missing,
        "head_went_elsewhere": wrong,
        "freed_to_shown_ms_p50": round(percentile(latencies, 50), 1),
        "freed_to_shown_ms_p95": round(percentile(latencies, 95), 1),
        "freed_to_shown_ms_p99": round(percentile(latencies, 99), 1),
        "freed_to_shown_ms_max": round(max(latencies), 1) if latencies else None,
        "resolve_and_drain_call_ms_p50": round(percentile(in_call, 50), 1),
        "resolve_and_drain_call_ms_p95": round(percentile(in_call, 95), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default="bench/results/routing.json")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--creators", type=int, default=3)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    load_before = load_average()
    account = ChannelAccount.objects.get(kind="api", name="demo")
    agents = setup_agents(args.agents, args.capacity, run)
    ids = [user_id for user_id, _key in agents]
    result: dict = {"agents": args.agents, "capacity": args.capacity}
    result["decisions"] = decisions(account, run, args.seconds, args.creators)
    result["over_capacity_after_decisions"] = over_capacity(ids)
    # The second phase starts from an empty pool and idle agents.
    Ticket.objects.filter(status__in=SLOT_STATUSES).update(status=TicketStatus.CLOSED)
    result["freed"] = asyncio.run(freed_to_shown(args.url, account, run, agents, args))
    result["over_capacity_at_end"] = over_capacity(ids)
    result["load_average"] = [round(load_before, 2), round(load_average(), 2)]
    result["machine"] = {"cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat()}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    d, f = result["decisions"], result["freed"]
    rows = [
        ("agents x capacity", f"{args.agents} x {args.capacity}"),
        (f"decisions: {d['creators']} creators + 1 resolver for s", d["seconds"]),
        (
            "  new tickets routed / slots freed (pool drained)",
            (d["tickets_created"], d["tickets_resolved"]),
        ),
        ("  left waiting in the pool at the end", d["pool_at_end"]),
        ("  routing decisions per s", d["decisions_per_s"]),
        (
            "  create-and-route call p50 / p95 / p99 ms",
            (
                d["create_and_route_ms_p50"],
                d["create_and_route_ms_p95"],
                d["create_and_route_ms_p99"],
            ),
        ),
        ("  errors", d["errors"] or "none"),
        (
            "agents over capacity (after decisions / at end)",
            (result["over_capacity_after_decisions"], result["over_capacity_at_end"]),
        ),
        (f"slot freed → shown: samples at {f['rate_per_s']:g}/s", f["samples"]),
        (
            "  shown / not shown in 5 s / head went elsewhere",
            (f["shown"], f["not_shown_in_5s"], f["head_went_elsewhere"]),
        ),
        ("  freed → pool head on the agent's socket p50 ms", f["freed_to_shown_ms_p50"]),
        ("  p95 ms (target < 100)", f["freed_to_shown_ms_p95"]),
        ("  p99 / max ms", (f["freed_to_shown_ms_p99"], f["freed_to_shown_ms_max"])),
        (
            "  of which the resolve call (commit + drain) p50 / p95 ms",
            (f["resolve_and_drain_call_ms_p50"], f["resolve_and_drain_call_ms_p95"]),
        ),
        ("load average (1 min) before / after", tuple(result["load_average"])),
    ]
    print_table(rows, args.out)


if __name__ == "__main__":
    main()
