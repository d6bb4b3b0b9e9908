"""Support-page benchmark: N visitor sockets on one web process, messages both ways (bench/run).

``bench/run support [--visitors 1000] [--chatting 200] [--messages 400] [--rate 20]
[--agents 5]`` starts the full stack with ONE uvicorn process (``OMNICO_BENCH_WEB_WORKERS``,
default 1 for this bench), a Celery worker, PostgreSQL and Redis, then this script:

1. makes ``--agents`` agents (``bench.realtime.agent_sessions``) active with room for every
   chat, and opens their ``/ws/agent/`` sockets as the agent screen does;
2. opens ``--visitors`` visitor sessions as the page does: GET ``/support/<page>/`` (CSRF
   cookie), POST ``start/`` (the signed visitor and intake cookies), then the visitor socket
   ``/ws/visitor/<page>/`` and, on its "hello" (and on every "resync" frame later, as the
   page does), the history GET; it reads the web process's
   RSS before and after the sockets (memory per socket) and counts sockets refused or closed;
3. **visitor → agent**: ``--messages`` messages at ``--rate`` per second, the real POST the page
   makes (``messages/``, ``Accept: application/json``), round robin over ``--chatting``
   visitors (their first message opens their ticket); timed from just before the POST to the
   inbox row showing it on every agent socket (a row shows the ticket's last message: a row
   showing a later message of the same visitor counts for the earlier ones);
4. **agent → visitor**: as many replies at the same rate, the real POST the agent screen makes
   (htmx ``inbox/<ticket>/reply/``), by the ticket's agent, round robin over the chatting
   visitors' tickets; timed from just before the POST to the reply's frame on the visitor's
   socket (which acknowledges it, as the page does). The reply is stored, a Celery task
   delivers it (``webchat.adapter.send``: a push to the visitor's group), the web process's
   hub renders it once and the socket sends it;
5. writes ``bench/results/support.json`` and prints a table: p50/p95/p99 and missing each way
   (target p95 < 100 ms), where the time went (POST → stored, stored → socket), the web
   process's and the worker's CPU ms per message, the whole machine's CPU use and load
   average per phase (the machine is shared: judge the code by the CPU ms, the machine by
   the load).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from importlib import import_module
from urllib.parse import urlsplit

import httpx
import websockets
from django.conf import settings
from django.contrib.auth import SESSION_KEY

from bench import cpu
from bench.client import fast_event_loop
from bench.cluster import integrity, integrity_rows, url_list
from bench.realtime import agent_sessions  # (importing it sets Django up)
from bench.report import percentile, print_table
from channels_adapters.webchat import selectors as webchat_selectors
from configuration.models import ChannelAccount, ChannelKind, OperatorProfile
from tickets.models import AgentPresence, Message, Ticket

VISITOR_MARK = r"sp{run}n(\d+)x"
REPLY_MARK = r"rp{run}n(\d+)x"
# --- the processes measured (bench/cpu.py) ----------------------------------------------------


def web_processes() -> list[int]:
    """The uvicorn processes serving requests (with one worker: the one process; in cluster
    mode every web process's)."""
    roots = os.environ.get("WEB_PIDS") or os.environ["WEB_PID"]
    return [pid for root in roots.split() for pid in cpu.serving_processes(int(root))]


class Meter:
    """CPU seconds of the web server, the worker (``cpu.Stack``: each one's process tree), this
    client and the machine over one phase."""

    def __init__(self) -> None:
        self.stack = cpu.Stack()

    def read(self) -> dict[str, float]:
        busy, total = cpu.machine_cpu()
        sample = self.stack.sample()
        return {
            "web": sample.get("web", 0.0),
            "worker": sample.get("worker", 0.0),
            "client": sample["bench"],
            "busy": busy,
            "total": total,
            "load": cpu.load_average(),
        }

    @staticmethod
    def report(before: dict[str, float], after: dict[str, float], messages: int) -> dict:
        per = max(messages, 1)
        cores = os.cpu_count() or 1
        return {
            "web_cpu_ms_per_message": round((after["web"] - before["web"]) * 1000 / per, 2),
            "worker_cpu_ms_per_message": round(
                (after["worker"] - before["worker"]) * 1000 / per, 2
            ),
            "client_cpu_ms_per_message": round(
                (after["client"] - before["client"]) * 1000 / per, 2
            ),
            "machine_cpu_busy_pct": round(
                100
                * (after["busy"] - before["busy"])
                / max(after["total"] - before["total"], 1e-9),
                1,
            ),
            "machine_cores": cores,
            "load_before": round(before["load"], 2),
            "load_after": round(after["load"], 2),
        }


# --- the clients ------------------------------------------------------------------------------


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: the shared client sends each visitor's cookies explicitly."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@dataclass
class Visitor:
    index: int
    cookies: dict[str, str]
    csrf: str
    arrived: dict[int, float] = field(default_factory=dict)  # reply number -> when shown
    joined: int = 0
    resyncs: int = 0
    frames: int = 0
    closed: str | None = None
    ws: object = None

    async def listen(self, run: str, refetch) -> None:
        """Read frames as the page does: acknowledge replies, re-fetch the history on a
        "resync" (``refetch(visitor)``, the page's history GET)."""
        mark = re.compile(REPLY_MARK.format(run=run))
        fetches: set[asyncio.Task] = set()
        ws = self.ws
        try:
            async for raw in ws:  # type: ignore[attr-defined]
                now = time.perf_counter()
                self.frames += 1
                data = json.loads(raw)
                kind = data.get("kind")
                if kind == "message":
                    for number in mark.findall(data.get("html", "")):
                        self.arrived.setdefault(int(number), now)
                    # The page acknowledges every reply it shows (delivered).
                    await ws.send(json.dumps({"action": "ack", "message": data["id"]}))  # type: ignore[attr-defined]
                elif kind == "system":
                    self.joined += 1
                elif kind == "resync":
                    self.resyncs += 1
                    task = asyncio.create_task(refetch(self))
                    fetches.add(task)
                    task.add_done_callback(fetches.discard)
        except websockets.ConnectionClosed as exc:
            self.closed = str(exc.rcvd.code if exc.rcvd else "?")
        else:
            self.closed = "end"


@dataclass
class AgentScreen:
    user_id: int
    session: str
    csrf: str = ""
    url: str = ""  # the web process its screen uses (cluster mode: one of several)
    arrived: dict[int, float] = field(default_factory=dict)  # visitor message number -> when
    closed: str | None = None
    frames: int = 0

    async def listen(self, ws, run: str) -> None:
        mark = re.compile(VISITOR_MARK.format(run=run))
        try:
            async for frame in ws:
                now = time.perf_counter()
                self.frames += 1
                if 'data-live="row"' not in frame:
                    continue
                for number in mark.findall(frame):
                    self.arrived.setdefault(int(number), now)
        except websockets.ConnectionClosed as exc:
            self.closed = str(exc.rcvd.code if exc.rcvd else "?")
        else:
            self.closed = "end"


async def visitor_open(url: str, page: str, index: int, intake: dict[str, str]) -> Visitor:
    """What a browser does before it chats: the page, the start form; the cookies it got.
    A connection the server dropped (uvicorn closes one idle for 5 s, and on a loaded machine
    this client can be descheduled that long) is a fresh start, as a browser's reload."""
    for attempt in (1, 2, 3):
        try:
            return await _visitor_open(url, page, index, intake)
        except httpx.TransportError:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


async def _visitor_open(url: str, page: str, index: int, intake: dict[str, str]) -> Visitor:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        response = await client.get(f"/support/{page}/")
        response.raise_for_status()
        csrf = client.cookies[settings.CSRF_COOKIE_NAME]
        response = await client.post(
            f"/support/{page}/start/",
            data={"csrfmiddlewaretoken": csrf, "name": f"Bench visitor {index}", **intake},
            headers={"Origin": url},
        )
        if response.status_code != 302:
            raise RuntimeError(f"start answered {response.status_code}: {response.text[:200]}")
        return Visitor(index=index, cookies=dict(client.cookies.items()), csrf=csrf)


async def agent_csrf(url: str, agent: AgentScreen) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        client.cookies.set(settings.SESSION_COOKIE_NAME, agent.session)
        response = await client.get("/inbox/")
        response.raise_for_status()
        agent.csrf = client.cookies[settings.CSRF_COOKIE_NAME]


def agents_ready(count: int, capacity: int) -> list[AgentScreen]:
    """``count`` active agents with room for ``capacity`` chats each; the demo's agents go on a
    break so that every chat goes to a bench agent."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    screens = []
    for key in agent_sessions(count):
        user_id = int(store_class(session_key=key)[SESSION_KEY])
        OperatorProfile.objects.update_or_create(user_id=user_id, defaults={"capacity": capacity})
        AgentPresence.objects.update_or_create(
            user_id=user_id, defaults={"is_active": True, "break_reason": None}
        )
        screens.append(AgentScreen(user_id=user_id, session=key))
    ids = [s.user_id for s in screens]
    AgentPresence.objects.exclude(user_id__in=ids).update(is_active=False)
    return screens


async def _paced(total: int, rate: float, action) -> float:
    """Start ``action(n)`` for n < total on its schedule, ``rate`` per second, whether or not
    earlier ones were answered; the seconds it took to start and finish them all."""
    start = time.perf_counter()
    tasks = []
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(action(n)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


async def _settle(done, last_arrival, cap: float = 30, quiet: float = 5) -> None:
    """Wait until ``done()``, or nothing arrived for ``quiet`` s, or ``cap`` s."""
    deadline = time.perf_counter() + cap
    while time.perf_counter() < deadline and not done():
        if time.perf_counter() - last_arrival() > quiet:
            break
        await asyncio.sleep(0.1)


def _stats(values: list[float], prefix: str) -> dict[str, float | None]:
    return {
        f"{prefix}_p50": round(percentile(values, 50), 1),
        f"{prefix}_p95": round(percentile(values, 95), 1),
        f"{prefix}_p99": round(percentile(values, 99), 1),
        f"{prefix}_max": round(max(values), 1) if values else None,
    }


# --- the benchmark ----------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict:
    urls, run = url_list(args.url), uuid.uuid4().hex[:8]

    def home(index: int) -> str:
        """The web process of visitor or agent number ``index``: round robin (cluster mode),
        and always the same one for a visitor, as a sticky balancer would keep it."""
        return urls[index % len(urls)]

    account = await asyncio.to_thread(
        ChannelAccount.objects.get, kind=ChannelKind.WEBCHAT, name=args.page
    )
    chatting = min(args.chatting, args.visitors)
    capacity = min(1000, chatting // args.agents + 10)
    agents = await asyncio.to_thread(agents_ready, args.agents, capacity)
    group_types = await asyncio.to_thread(webchat_selectors.group_types_for_visitors)
    subjects = await asyncio.to_thread(webchat_selectors.subjects_for_visitors)
    intake = {}
    if group_types:
        intake["group_type"] = str(group_types[0].pk)
    if subjects:
        intake["subject"] = str(subjects[0].pk)

    # Agent screens: their CSRF token (the inbox page) and their sockets.
    for i, agent in enumerate(agents):
        agent.url = home(i)
    await asyncio.gather(*(agent_csrf(a.url, a) for a in agents))
    agent_sockets = []
    for agent in agents:
        ws = await websockets.connect(
            f"ws://{urlsplit(agent.url).netloc}/ws/agent/",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={agent.session}"},
            origin=agent.url,
            max_size=2**22,
        )
        hello = await asyncio.wait_for(ws.recv(), 30)
        if 'data-live="hello"' not in hello:
            raise SystemExit(f"agent socket not accepted: {hello[:200]!r}")
        agent_sockets.append(ws)
    agent_tasks = [
        asyncio.create_task(a.listen(ws, run)) for a, ws in zip(agents, agent_sockets, strict=True)
    ]

    # Visitor sessions: the page and the start form, as a browser (8 at a time).
    started = time.perf_counter()
    gate = asyncio.Semaphore(args.open_concurrency)

    async def one_session(index: int) -> Visitor:
        async with gate:
            return await visitor_open(home(index), args.page, index, intake)

    visitors = await asyncio.gather(*(one_session(i) for i in range(args.visitors)))
    sessions_s = time.perf_counter() - started

    webs = web_processes()
    rss_before = sum(cpu.rss_mb(p) for p in webs)
    sockets_before = sum(cpu.socket_count(p) for p in webs)

    # Visitor sockets: open, "hello", the history GET the page then makes.
    refused: list[str] = []
    history_errors: list[str] = []
    history = httpx.AsyncClient(  # absolute URLs: each visitor's own web process
        timeout=60, cookies=_no_cookies(), limits=httpx.Limits(keepalive_expiry=2)
    )
    connect_ms: list[float] = []

    async def one_socket(visitor: Visitor) -> None:
        async with gate:
            t0 = time.perf_counter()
            try:
                ws = await websockets.connect(
                    f"ws://{urlsplit(home(visitor.index)).netloc}/ws/visitor/{args.page}/",
                    additional_headers={"Cookie": _cookie_header(visitor.cookies)},
                    origin=home(visitor.index),
                    max_size=2**20,
                    open_timeout=60,
                )
                hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                refused.append(f"{visitor.index}: {type(exc).__name__} {exc}"[:200])
                return
            if hello.get("kind") != "hello":
                refused.append(f"{visitor.index}: first frame {hello!r}"[:200])
                await ws.close()
                return
            connect_ms.append((time.perf_counter() - t0) * 1000)
            visitor.ws = ws
            try:
                response = await history.get(
                    f"{home(visitor.index)}/support/{args.page}/history/",
                    headers={"Cookie": _cookie_header(visitor.cookies)},
                )
                response.raise_for_status()
            except httpx.HTTPError as exc:
                history_errors.append(f"{visitor.index}: {type(exc).__name__}")

    started = time.perf_counter()
    await asyncio.gather(*(one_socket(v) for v in visitors))
    sockets_s = time.perf_counter() - started

    async def refetch(visitor: Visitor) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await history.get(
                f"{home(visitor.index)}/support/{args.page}/history/",
                headers={"Cookie": _cookie_header(visitor.cookies)},
            )

    listeners = [asyncio.create_task(v.listen(run, refetch)) for v in visitors if v.ws is not None]
    await asyncio.sleep(2)
    rss_after = sum(cpu.rss_mb(p) for p in webs)
    sockets_after = sum(cpu.socket_count(p) for p in webs)
    opened = sum(1 for v in visitors if v.ws is not None)

    poster = httpx.AsyncClient(  # absolute URLs: the visitor's or the agent's web process
        timeout=60,
        cookies=_no_cookies(),
        # uvicorn closes a connection idle for 5 s; reusing one it is closing fails the POST
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50, keepalive_expiry=2),
    )
    meter = Meter()
    chatters = [v for v in visitors if v.ws is not None][:chatting]

    # 1. Visitor -> agent: the page's POST, timed to the row on every agent socket.
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}
    post_status: dict[int, int] = {}
    owner: dict[int, int] = {}  # message number -> chatter index

    async def visitor_post(n: int) -> None:
        visitor = chatters[n % len(chatters)]
        owner[n] = n % len(chatters)
        sent[n] = time.perf_counter()
        for attempt in (1, 2):
            try:
                response = await _visitor_message(visitor, n)
                break
            except httpx.TransportError:
                # The page's retry: the same client id, so the server never stores it twice.
                if attempt == 2:
                    post_status[0] = post_status.get(0, 0) + 1
                    answered[n] = time.perf_counter()
                    return
        answered[n] = time.perf_counter()
        post_status[response.status_code] = post_status.get(response.status_code, 0) + 1

    async def _visitor_message(visitor: Visitor, n: int) -> httpx.Response:
        return await poster.post(
            f"{home(visitor.index)}/support/{args.page}/messages/",
            data={
                "csrfmiddlewaretoken": visitor.csrf,
                "client_id": f"sp{run}-{n:06d}",
                "text": f"sp{run}n{n}x Where is my order? I paid on Monday.",
            },
            headers={
                "Accept": "application/json",
                "X-CSRFToken": visitor.csrf,
                "Origin": home(visitor.index),
                "Cookie": _cookie_header(visitor.cookies),
            },
        )

    before = meter.read()
    posting_s = await _paced(args.messages, args.rate, visitor_post)

    def agents_done() -> bool:
        return all(len(a.arrived) >= args.messages or a.closed for a in agents)

    await _settle(agents_done, lambda: max(max(a.arrived.values(), default=0) for a in agents))
    inbound = Meter.report(before, meter.read(), args.messages)

    # A row showing message m of a visitor stands for that visitor's earlier messages too.
    def shown_at(agent: AgentScreen, n: int) -> float | None:
        times = [t for m, t in agent.arrived.items() if m >= n and owner.get(m) == owner[n]]
        return min(times) if times else None

    stored = await asyncio.to_thread(
        lambda: {
            int(ext.rsplit("-", 1)[1]): created.timestamp()
            for ext, created in Message.objects.filter(
                channel_account=account, external_id__contains=f":sp{run}-"
            ).values_list("external_id", "created_at")
        }
    )
    wall = time.time() - time.perf_counter()
    to_agents, to_stored, stored_to_agents, post_ms, missing_in = [], [], [], [], 0
    for n in range(args.messages):
        post_ms.append((answered[n] - sent[n]) * 1000)
        times = [shown_at(a, n) for a in agents]
        if any(t is None for t in times):
            missing_in += 1
            continue
        last = max(t for t in times if t is not None)
        to_agents.append((last - sent[n]) * 1000)
        if n in stored:
            to_stored.append((stored[n] - (sent[n] + wall)) * 1000)
            stored_to_agents.append((last + wall - stored[n]) * 1000)

    # 2. Agent -> visitor: the agent screen's reply POST, timed to the frame on the socket.
    tickets = await asyncio.to_thread(
        lambda: {
            ext: (pk, assignee)
            for pk, ext, assignee in Ticket.objects.filter(
                channel_account=account,
                customer__identities__kind=ChannelKind.WEBCHAT,
                customer__identities__external_id__in=[_visitor_id(v) for v in chatters],
            )
            .exclude(status__in=["resolved", "closed"])
            .values_list("pk", "customer__identities__external_id", "assignee_id")
        }
    )
    by_user = {a.user_id: a for a in agents}
    reply_sent: dict[int, float] = {}
    reply_answered: dict[int, float] = {}
    reply_status: dict[int, int] = {}
    reply_to: dict[int, Visitor] = {}
    unassigned = 0

    async def agent_reply(n: int) -> None:
        nonlocal unassigned
        visitor = chatters[n % len(chatters)]
        found = tickets.get(_visitor_id(visitor))
        if found is None:
            reply_status[0] = reply_status.get(0, 0) + 1  # no ticket: nothing to reply to
            return
        ticket_id, assignee = found
        agent = by_user.get(assignee)
        if agent is None:
            unassigned += 1
            agent = agents[n % len(agents)]
        reply_to[n] = visitor
        reply_sent[n] = time.perf_counter()
        try:
            response = await _reply(agent, ticket_id, n)
        except httpx.TransportError:  # not sent again: the reply may be stored already
            reply_answered[n] = time.perf_counter()
            reply_status[0] = reply_status.get(0, 0) + 1
            return
        reply_answered[n] = time.perf_counter()
        reply_status[response.status_code] = reply_status.get(response.status_code, 0) + 1

    async def _reply(agent: AgentScreen, ticket_id: int, n: int) -> httpx.Response:
        return await poster.post(
            f"{agent.url}/inbox/{ticket_id}/reply/",
            data={"csrfmiddlewaretoken": agent.csrf, "body": f"rp{run}n{n}x Sorry, on its way."},
            headers={
                "HX-Request": "true",
                "X-CSRFToken": agent.csrf,
                "Origin": agent.url,
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={agent.session}; "
                f"{settings.CSRF_COOKIE_NAME}={agent.csrf}",
            },
        )

    replies = args.replies if args.replies is not None else args.messages
    before = meter.read()
    replying_s = await _paced(replies, args.rate, agent_reply)

    def visitors_done() -> bool:
        return all(n in v.arrived or v.closed for n, v in reply_to.items())

    await _settle(visitors_done, lambda: max(max(v.arrived.values(), default=0) for v in chatters))
    outbound = Meter.report(before, meter.read(), replies)
    rss_end = sum(cpu.rss_mb(p) for p in webs)

    reply_rows = await asyncio.to_thread(
        lambda: list(
            Message.objects.filter(
                ticket__channel_account=account, body__startswith=f"rp{run}n"
            ).values_list("body", "created_at", "delivery")
        )
    )
    reply_times = {}
    for body, created, delivery in reply_rows:
        number = int(re.match(REPLY_MARK.format(run=run), body).group(1))  # type: ignore[union-attr]
        reply_times[number] = (created, delivery)
    to_visitor, reply_post_ms, reply_stored, stored_to_visitor = [], [], [], []
    missing_out = 0
    deliveries: dict[str, int] = {}
    for n, visitor in reply_to.items():
        reply_post_ms.append((reply_answered[n] - reply_sent[n]) * 1000)
        created, delivery = reply_times.get(n, (None, "missing"))
        deliveries[delivery] = deliveries.get(delivery, 0) + 1
        if n not in visitor.arrived:
            missing_out += 1
            continue
        shown = visitor.arrived[n]
        to_visitor.append((shown - reply_sent[n]) * 1000)
        if created is not None:
            reply_stored.append((created.timestamp() - (reply_sent[n] + wall)) * 1000)
            stored_to_visitor.append((shown + wall - created.timestamp()) * 1000)

    # Per web process (cluster mode): its sockets, the visitor messages its agent sockets got
    # (every agent socket should get every message) and the replies its visitor sockets got.
    per_process = [
        {
            "url": u,
            "agent_sockets": sum(1 for a in agents if a.url == u),
            "visitor_sockets": sum(1 for v in visitors if v.ws is not None and home(v.index) == u),
            # a row stands for its ticket's messages up to the one it shows (shown_at)
            "agent_rows_received": sum(
                1
                for a in agents
                if a.url == u
                for n in range(args.messages)
                if shown_at(a, n) is not None
            ),
            "agent_rows_expected": args.messages * sum(1 for a in agents if a.url == u),
            "replies_received": sum(
                1 for n, v in reply_to.items() if home(v.index) == u and n in v.arrived
            ),
            "replies_expected": sum(1 for v in reply_to.values() if home(v.index) == u),
        }
        for u in urls
    ]
    closed_early = sorted(
        f"{v.index}:{v.closed}" for v in visitors if v.ws is not None and v.closed is not None
    )
    agents_closed = sorted(f"{a.user_id}:{a.closed}" for a in agents if a.closed is not None)
    for task in [*listeners, *agent_tasks]:
        task.cancel()
    await asyncio.gather(*(v.ws.close() for v in visitors if v.ws is not None))  # type: ignore[attr-defined]
    for ws in agent_sockets:
        await ws.close()
    await poster.aclose()
    await history.aclose()

    return {
        "visitors": args.visitors,
        "chatting": len(chatters),
        "agents": args.agents,
        "rate_per_s": args.rate,
        "web_processes": len(webs),
        "per_process": per_process,
        "sessions_s": round(sessions_s, 1),
        "sockets": {
            "opened": opened,
            "refused": len(refused),
            "refused_detail": refused[:20],
            "history_get_errors": history_errors[:20],
            "closed_early": closed_early,
            "agent_sockets_closed_early": agents_closed,
            "open_s": round(sockets_s, 1),
            "connect_ms_p50": round(percentile(connect_ms, 50), 1),
            "connect_ms_p95": round(percentile(connect_ms, 95), 1),
            "web_rss_mb_before": round(rss_before, 1),
            "web_rss_mb_after": round(rss_after, 1),
            "web_rss_mb_end": round(rss_end, 1),
            "web_rss_kb_per_socket": round((rss_after - rss_before) * 1024 / max(opened, 1), 1),
            "web_process_sockets_before": sockets_before,
            "web_process_sockets_after": sockets_after,
        },
        "visitor_to_agent": {
            "messages": args.messages,
            "posted_per_s": round(args.messages / posting_s, 1),
            "http_status": post_status,
            "missing": missing_in,
            **_stats(to_agents, "all_agent_sockets_ms"),
            **_stats(post_ms, "post_answer_ms"),
            **_stats(to_stored, "post_to_stored_ms"),
            **_stats(stored_to_agents, "stored_to_all_agent_sockets_ms"),
            **inbound,
        },
        "agent_to_visitor": {
            "replies": replies,
            "posted_per_s": round(replies / replying_s, 1),
            "http_status": reply_status,
            "by_another_agent": unassigned,
            "delivery_states": deliveries,
            "missing": missing_out,
            **_stats(to_visitor, "visitor_socket_ms"),
            **_stats(reply_post_ms, "post_answer_ms"),
            **_stats(reply_stored, "post_to_stored_ms"),
            **_stats(stored_to_visitor, "stored_to_visitor_socket_ms"),
            **outbound,
        },
        "visitor_frames": {
            "joined_lines": sum(v.joined for v in visitors),
            "resyncs": sum(v.resyncs for v in visitors),
            "frames_mean": round(statistics.fmean(v.frames for v in visitors), 2),
        },
    }


def _visitor_id(visitor: Visitor) -> str:
    from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies  # noqa: PLC0415

    visitor_id = visitor_from_cookies({COOKIE: visitor.cookies[COOKIE]})
    assert visitor_id is not None
    return visitor_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default="bench/results/support.json")
    parser.add_argument("--page", default="demo", help="the web-chat account's name")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--chatting", type=int, default=200)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--replies", type=int, default=None, help="default: --messages")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--open-concurrency", type=int, default=8)
    args = parser.parse_args()

    fast_event_loop()
    result = asyncio.run(bench(args))
    result["machine"] = {"cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat()}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2, default=str)
    s, i, o = result["sockets"], result["visitor_to_agent"], result["agent_to_visitor"]

    def trio(part: dict, key: str) -> str:
        return f"{part[key + '_p50']} / {part[key + '_p95']} / {part[key + '_p99']}"

    rows = [
        ("web processes (visitor sockets on one)", result["web_processes"]),
        ("visitor sockets opened / refused", f"{s['opened']} / {s['refused']}"),
        ("visitor sockets closed early", len(s["closed_early"])),
        (
            "web RSS before / after sockets / end MB",
            f"{s['web_rss_mb_before']} / {s['web_rss_mb_after']} / {s['web_rss_mb_end']}",
        ),
        ("web RSS per visitor socket KB", s["web_rss_kb_per_socket"]),
        (f"visitor → agent: {i['messages']} at {args.rate:g}/s, posted/s", i["posted_per_s"]),
        (
            "  POST → row on every agent socket p50/p95/p99 ms (target p95 < 100)",
            trio(i, "all_agent_sockets_ms"),
        ),
        ("  missing", i["missing"]),
        ("  POST answered p50/p95/p99 ms", trio(i, "post_answer_ms")),
        (
            "  POST → stored / stored → sockets p95 ms",
            f"{i['post_to_stored_ms_p95']} / {i['stored_to_all_agent_sockets_ms_p95']}",
        ),
        (
            "  CPU ms per message web / worker / bench client",
            f"{i['web_cpu_ms_per_message']} / {i['worker_cpu_ms_per_message']} / "
            f"{i['client_cpu_ms_per_message']}",
        ),
        (
            "  machine CPU busy %, load before → after",
            f"{i['machine_cpu_busy_pct']}, {i['load_before']} → {i['load_after']}",
        ),
        (f"agent → visitor: {o['replies']} at {args.rate:g}/s, posted/s", o["posted_per_s"]),
        (
            "  POST → frame on the visitor's socket p50/p95/p99 ms (target p95 < 100)",
            trio(o, "visitor_socket_ms"),
        ),
        ("  missing", o["missing"]),
        ("  POST answered p50/p95/p99 ms", trio(o, "post_answer_ms")),
        (
            "  POST → stored / stored → visitor socket p95 ms",
            f"{o['post_to_stored_ms_p95']} / {o['stored_to_visitor_socket_ms_p95']}",
        ),
        (
            "  CPU ms per reply web / worker / bench client",
            f"{o['web_cpu_ms_per_message']} / {o['worker_cpu_ms_per_message']} / "
            f"{o['client_cpu_ms_per_message']}",
        ),
        (
            "  machine CPU busy %, load before → after",
            f"{o['machine_cpu_busy_pct']}, {o['load_before']} → {o['load_after']}",
        ),
    ]
    rows += [
        (
            f"{p['url']}: agent / visitor sockets, rows to agents, replies to visitors",
            f"{p['agent_sockets']} / {p['visitor_sockets']}, "
            f"{p['agent_rows_received']} of {p['agent_rows_expected']}, "
            f"{p['replies_received']} of {p['replies_expected']}",
        )
        for p in result["per_process"]
    ]
    result["cluster"] = integrity()
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2, default=str)
    rows += integrity_rows(result["cluster"])
    print_table(rows, args.out)


if __name__ == "__main__":
    main()
