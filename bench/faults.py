"""Fault injection against a running full-stack Omnico (issue 15; run through bench/run).

``bench/run faults [--scenario NAME ...] [--quick]``: bench/run starts PostgreSQL, Redis,
Dovecot and the web server; this starts its own Celery worker and beat (so it can kill and
restart them), a fake provider on loopback for replies, and repeats each fault of issue 15:

- ``worker``: the worker killed with SIGKILL (its whole process group) mid-stream of webhooks,
  8 s before the stream ends, restarted 3 s later as a supervisor would;
- ``replies``: 20 replies sent while the provider answers 500, the worker killed while it holds
  their retry tasks (restarted 3 s later), the provider back later: time until all 20 are sent;
- ``mail``: ``manage.py poll_mail`` killed with SIGKILL mid-poll (holding its lock, some batches
  committed), 100 mails waiting, beat polling: time until all are messages in tickets;
- ``redis``: Redis shut down (no persistence: its queues are lost) during webhooks, then back;
- ``pg-restart``: PostgreSQL restarted (``pg_ctl restart -m fast``) during webhooks and
  replies: 500s, failed tasks, time until everything is stored and sent;
- ``pg-down``: PostgreSQL stopped for ~20 s during webhooks: how webhooks answer (503 with
  Retry-After expected), requests stuck in the client, time to recover.

For each: acknowledged (webhook 200s; replies stored), stored (acknowledged ones that became
messages; replies the provider took), pending (acknowledged, still on their way when the wait
ended), lost (acknowledged and neither stored nor pending: gone or failed), duplicated, and
recovery: seconds from the fault's end until every acknowledged item is stored (and webhooks
answer 200 again). ``None`` (shown "> N s") when that did not happen within ``--wait`` s.
Every request loop is bounded in count and time; everything stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: The children (worker, beat, poll_mail) get the stack's environment; this process uses plain
#: connections (no pool), so PostgreSQL restarts only cost it a reconnect.
CHILD_ENV = dict(os.environ)
os.environ["OMNICO_DB_POOL"] = "0"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")

import django  # noqa: E402

django.setup()

from django.db import InterfaceError, OperationalError, close_old_connections  # noqa: E402
from django.db.models import Count  # noqa: E402

from bench.client import Connection, fast_event_loop  # noqa: E402
from channels_adapters.models import InboundEvent  # noqa: E402
from configuration.models import ChannelAccount  # noqa: E402
from tests.fakes.provider import FakeProvider  # noqa: E402
from tickets.models import Message, Ticket  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: A message whose ticket came this long after its 200 was delayed by the fault.
SLOW_SECONDS = 5.0


# --- database access that survives the faults ---------------------------------------------
def db(fn: Callable, *, attempts: int = 60):
    """Run ``fn`` (ORM work) again on a fresh connection while PostgreSQL is away (≤ 60 s)."""
    for attempt in range(attempts):
        try:
            return fn()
        except (OperationalError, InterfaceError):
            close_old_connections()
            from django.db import connection

            connection.close()
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


# --- the webhook client -------------------------------------------------------------------
@dataclass
class Sent:
    n: int
    sent: float
    done: float = 0.0
    status: int | str = ""  # the HTTP status, or "timeout" / "error"
    retry_after: str | None = None


def body(run: str, n: int, customers: int = 200) -> bytes:
    return json.dumps(
        {
            "id": f"{run}-{n}",
            "customer": {"id": f"{run}-c{n % customers}", "name": f"Fault customer {n}"},
            "text": f"Merhaba, sipariş {n} nerede?",
            "time": datetime.now(UTC).isoformat(),
        }
    ).encode()


async def stream(
    url: str,
    secret: str,
    run: str,
    *,
    rate: float,
    seconds: float,
    connections: int,
    timeout: float,
) -> tuple[list[Sent], int]:
    """``rate`` webhooks a second for ``seconds`` over at most ``connections`` connections, each
    request bounded by ``timeout``. A request whose turn comes while every connection is busy
    is not sent (counted: the client is stuck)."""
    idle = [Connection(url, retry_fresh=False) for _ in range(connections)]
    sent: list[Sent] = []
    not_sent = 0

    async def send(connection: Connection, record: Sent) -> None:
        try:
            record.status, record.retry_after = await asyncio.wait_for(
                connection.post(body(run, record.n), secret), timeout
            )
        except TimeoutError:
            record.status = "timeout"
            connection.close()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            record.status = "error"
            connection.close()
        record.done = time.time()
        idle.append(connection)

    tasks = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            not_sent += 1
            continue
        record = Sent(n, time.time())
        sent.append(record)
        tasks.append(asyncio.create_task(send(idle.pop(), record)))
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return sent, not_sent


# --- processes ----------------------------------------------------------------------------
def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd="/", check=True, capture_output=True, timeout=120, **kwargs)


class Stack:
    """The processes this benchmark owns (worker, beat) and the servers it stops and starts
    (Redis, PostgreSQL) as bench/stack.sh started them."""

    def __init__(self, work: Path, mail_poll_seconds: int) -> None:
        self.work = work
        self.env = dict(CHILD_ENV, OMNICO_MAIL_POLL_SECONDS=str(mail_poll_seconds))
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        self.workers_started = 0
        self.worker_log = work / "faults-worker.log"
        self.beat_log = work / "faults-beat.log"
        self.web_log = work / "web.log"

    # worker and beat
    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "omnico", *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with its children
            )

    def worker_start(self, *, wait: bool = True) -> None:
        self.workers_started += 1
        name = f"faults{self.workers_started}@{socket.gethostname()}"
        concurrency = os.environ.get("OMNICO_BENCH_CELERY_CONCURRENCY", "4")
        self.worker = self._spawn(
            ["worker", "--loglevel", "WARNING", "--concurrency", concurrency, "--pool",
             "prefork", "-n", name],
            self.worker_log,
        )  # fmt: skip
        if wait:
            self.worker_wait(name)

    def worker_wait(self, name: str | None = None, timeout: float = 60) -> float:
        from omnico.celery import app

        name = name or f"faults{self.workers_started}@{socket.gethostname()}"
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with contextlib.suppress(Exception):
                if app.control.ping(destination=[name], timeout=1.0):
                    return time.monotonic() - start
            time.sleep(0.5)
        raise RuntimeError(f"worker {name} did not answer within {timeout:g} s")

    def worker_kill(self) -> None:
        """SIGKILL to the worker's main process and its pool: a crash, an OOM kill."""
        assert self.worker is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=30)
        self.worker = None

    def beat_start(self) -> None:
        self.beat = self._spawn(
            ["beat", "--loglevel", "WARNING", "--schedule", str(self.work / "faults-beat")],
            self.beat_log,
        )

    def beat_stop(self) -> None:
        if self.beat is not None:
            self._stop(self.beat)
            self.beat = None

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def stop_all(self) -> None:
        for process in (self.beat, self.worker):
            if process is not None:
                self._stop(process)
        self.beat = self.worker = None

    # Redis
    def redis_stop(self) -> None:
        _run(["redis-cli", "-p", os.environ["REDIS_PORT"], "shutdown", "nosave"])

    def redis_start(self) -> None:
        port, directory = os.environ["REDIS_PORT"], os.environ["REDIS_DIR"]
        _run(
            ["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "yes", "--pidfile",
             f"{directory}/redis.pid", "--dir", directory, "--logfile",
             f"{directory}/redis.log"]
        )  # fmt: skip
        for _ in range(100):
            answer = subprocess.run(
                ["redis-cli", "-p", port, "ping"], capture_output=True, text=True, check=False
            )
            if answer.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("Redis did not come back")

    # PostgreSQL
    def _pg_ctl(self, *args: str) -> None:
        cmd = [f"{os.environ['PG_BINDIR']}/pg_ctl", "-D", os.environ["PG_DATA"], *args]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        _run(cmd)

    def _pg_log(self) -> str:
        return str(Path(os.environ["WORK"]) / "pg" / "server.log")

    def pg_restart(self) -> None:
        """A fast restart with the options it runs with (pg_ctl keeps them in postmaster.opts)."""
        self._pg_ctl("-w", "-t", "60", "-m", "fast", "-l", self._pg_log(), "restart")

    def pg_stop(self) -> None:
        self._pg_ctl("-w", "-t", "60", "-m", "fast", "stop")

    def pg_start(self, options: str) -> None:
        self._pg_ctl("-w", "-t", "60", "-l", self._pg_log(), "-o", options, "start")

    def pg_options(self) -> str:
        """The server's options from postmaster.opts, minus the binary and its data directory."""
        words = shlex.split((Path(os.environ["PG_DATA"]) / "postmaster.opts").read_text())[1:]
        options = []
        skip = False
        for word in words:
            if skip:
                skip = False
            elif word == "-D":
                skip = True
            else:
                options.append(word)
        return shlex.join(options)

    # logs
    @staticmethod
    def count_lines(path: Path, needles: tuple[str, ...], offset: int = 0) -> int:
        if not path.exists():
            return 0
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        return sum(1 for line in text.splitlines() if any(n in line for n in needles))

    @staticmethod
    def size(path: Path) -> int:
        return path.stat().st_size if path.exists() else 0


# --- the fake provider --------------------------------------------------------------------
class Provider(FakeProvider):
    """tests/fakes/provider.py with an outage switch, and the time each reply was taken."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.taken: list[tuple[float, int]] = []  # (time, our message id) per 200 answered

    def _answer(self, req):
        if self.down:
            error = {"error": {"message": "Fake outage", "code": 500}}
            return 500, "application/json", json.dumps(error).encode()
        status, content_type, answer = super()._answer(req)
        if status == 200 and req.path.rstrip("/").endswith("/callback"):
            with self._lock:
                self.taken.append((time.time(), int(req.data.get("id", 0))))
        return status, content_type, answer


# --- measuring ----------------------------------------------------------------------------
@dataclass
class Context:
    url: str
    secret: str
    stack: Stack
    provider: Provider
    quick: bool
    wait: float
    reply_tickets: list[int] = field(default_factory=list)

    @property
    def hook(self) -> str:
        return f"{self.url}/hooks/api/demo/"


def run_stream(ctx: Context, run: str, fault: Callable[[dict], None], **kwargs) -> dict:
    """The stream and the fault (in a thread, writing its times into the dict) side by side."""
    timeline: dict = {}
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fault(timeline)
        except BaseException as exc:  # noqa: BLE001 - reported, not lost in a thread
            errors.append(exc)
            timeline.setdefault("fault_end", time.time())

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    sent, not_sent = asyncio.run(stream(ctx.hook, ctx.secret, run, **kwargs))
    thread.join(timeout=180)
    if errors:
        raise errors[0]
    return {"sent": sent, "not_sent": not_sent, **timeline}


def webhook_outcome(ctx: Context, run: str, streamed: dict) -> dict:
    """Wait (≤ --wait s after the fault's end) for every acknowledged webhook, then count."""
    sent: list[Sent] = streamed["sent"]
    fault_end: float = streamed["fault_end"]
    acked = {f"{run}-{r.n}": r.done for r in sent if r.status == 200}
    messages = Message.objects.filter(external_id__startswith=f"{run}-")

    def created() -> dict[str, float]:
        return {e: c.timestamp() for e, c in messages.values_list("external_id", "created_at")}

    deadline = fault_end + ctx.wait
    stored = db(created)
    while time.time() < deadline and not acked.keys() <= stored.keys():
        time.sleep(0.5)
        stored = db(created)
    missing = acked.keys() - stored.keys()
    pending_keys = set(
        db(
            lambda: list(
                InboundEvent.objects.filter(
                    dedupe_key__in=[f"message:{m}" for m in missing],
                    status=InboundEvent.Status.PENDING,
                ).values_list("dedupe_key", flat=True)
            )
        )
    )
    duplicated = db(
        lambda: sum(
            row["n"] - 1
            for row in messages.values("external_id").annotate(n=Count("pk")).filter(n__gt=1)
        )
    )
    statuses = Counter(str(r.status) for r in sent)
    after = [r.done for r in sent if r.status == 200 and r.sent >= fault_end]
    first_ok = min(after) - fault_end if after else None
    recovery = None
    if not missing:
        late = [
            stored[key] - fault_end
            for key, done in acked.items()
            if done <= fault_end or stored[key] - done > SLOW_SECONDS
        ]
        recovery = max([0.0, *late, first_ok or 0.0])
    during = [r for r in sent if r.status != 200 and r.sent <= fault_end]
    answer_times = sorted(r.done - r.sent for r in during)
    return {
        "webhooks_sent": len(sent),
        "not_sent_client_stuck": streamed["not_sent"],
        "http": dict(statuses),
        "retry_after_answers": sum(1 for r in sent if r.retry_after),
        "non_200_answer_s_p50": _pct(answer_times, 50),
        "non_200_answer_s_max": round(answer_times[-1], 2) if answer_times else None,
        "acknowledged": len(acked),
        "stored": len(acked) - len(missing),
        "stored_not_acknowledged": len(stored.keys() - acked.keys()),
        "pending": len(missing & {k.removeprefix("message:") for k in pending_keys}),
        "lost": len(missing) - len(pending_keys),
        "duplicated": duplicated,
        "first_200_after_fault_s": round(first_ok, 2) if first_ok is not None else None,
        "recovery_s": round(recovery, 1) if recovery is not None else None,
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))], 2)


def replies_send(ctx: Context, label: str, count: int) -> list[int]:
    from channels_adapters.services import reply_send

    ids = []
    for k in range(count):
        pk = ctx.reply_tickets[k % len(ctx.reply_tickets)]
        message = db(
            lambda pk=pk, k=k: reply_send(
                ticket=Ticket.objects.get(pk=pk), author=None, body=f"{label} {k}"
            )
        )
        ids.append(message.pk)
    return ids


def replies_outcome(ctx: Context, ids: list[int], fault_end: float) -> dict:
    """Wait (≤ --wait s after the fault's end) until the provider took every reply."""
    wanted = set(ids)
    deadline = fault_end + ctx.wait

    def taken() -> dict[int, list[float]]:
        found: dict[int, list[float]] = {}
        for at, message_id in list(ctx.provider.taken):
            if message_id in wanted:
                found.setdefault(message_id, []).append(at)
        return found

    while time.time() < deadline and len(taken()) < len(wanted):
        time.sleep(0.5)
    got = taken()
    states = Counter(
        db(lambda: list(Message.objects.filter(pk__in=ids).values_list("delivery", flat=True)))
    )
    pending = len(wanted - got.keys()) - sum(
        1
        for pk, state in db(
            lambda: list(Message.objects.filter(pk__in=ids).values_list("pk", "delivery"))
        )
        if pk not in got and state != Message.Delivery.PENDING
    )
    firsts = [min(times) for times in got.values()]
    recovery = max(0.0, max(firsts) - fault_end) if len(got) == len(wanted) else None
    return {
        "acknowledged": len(ids),
        "stored": len(got),
        "pending": pending,
        "lost": len(ids) - len(got) - pending,
        "duplicated": sum(len(times) - 1 for times in got.values()),
        "delivery_states": dict(states),
        "recovery_s": round(recovery, 1) if recovery is not None else None,
    }


def logs_since(ctx: Context, offsets: tuple[int, int]) -> dict:
    stack = ctx.stack
    return {
        "worker_tasks_failed": stack.count_lines(
            stack.worker_log, ("raised unexpected",), offsets[0]
        ),
        "worker_connection_errors": stack.count_lines(
            stack.worker_log, ("OperationalError", "terminating connection"), offsets[0]
        ),
        "web_tracebacks": stack.count_lines(stack.web_log, ("Traceback",), offsets[1]),
    }


def offsets(ctx: Context) -> tuple[int, int]:
    return ctx.stack.size(ctx.stack.worker_log), ctx.stack.size(ctx.stack.web_log)


# --- scenarios ----------------------------------------------------------------------------
def scenario_worker(ctx: Context) -> dict:
    run = f"fw{uuid.uuid4().hex[:6]}"
    # The kill comes 8 s before the stream ends: the burst stops while the dead worker's
    # ingest kick (10 s TTL) is still set, as when a burst of traffic is followed by quiet.
    seconds = 12 if ctx.quick else 20

    def fault(t: dict) -> None:
        time.sleep(seconds - 8)
        t["fault_start"] = time.time()
        ctx.stack.worker_kill()
        time.sleep(3)
        ctx.stack.worker_start(wait=False)
        t["fault_end"] = time.time()
        t["worker_ready_s"] = round(ctx.stack.worker_wait(), 1)

    logs = offsets(ctx)
    streamed = run_stream(ctx, run, fault, rate=50, seconds=seconds, connections=32, timeout=20)
    result = webhook_outcome(ctx, run, streamed)
    return {
        **result,
        "fault": f"worker SIGKILL at {seconds - 8} s of {seconds}, restarted 3 s later",
        "worker_ready_s": streamed.get("worker_ready_s"),
        **logs_since(ctx, logs),
    }


def scenario_replies(ctx: Context) -> dict:
    from omnico.celery import app

    outage = 30 if ctx.quick else 55
    logs = offsets(ctx)
    ctx.provider.down = True
    ids = replies_send(ctx, "Fault reply", 20)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tried = Message.objects.filter(pk__in=ids, delivery_attempts__gte=1).count()
        if tried == len(ids):
            break
        time.sleep(0.2)
    held = None
    with contextlib.suppress(Exception):
        answers = app.control.inspect(timeout=1.0).scheduled() or {}
        held = sum(len(tasks) for tasks in answers.values())
    fault_start = time.time()
    ctx.stack.worker_kill()
    time.sleep(3)
    ctx.stack.worker_start(wait=False)
    time.sleep(max(0.0, fault_start + outage - time.time()))
    ctx.provider.down = False
    fault_end = time.time()
    result = replies_outcome(ctx, ids, fault_end)
    return {
        **result,
        "fault": f"provider 500s; worker SIGKILL holding retries; provider back after {outage} s",
        "first_attempts_before_kill": tried,
        "retry_tasks_held_by_killed_worker": held,
        **logs_since(ctx, logs),
    }


def _slow_poll() -> None:
    """``python -m bench.faults _slow_poll``: ``manage.py poll_mail`` against a slow IMAP
    server (each FETCH of bodies takes 0.5 s more), in batches of 10, so it can be killed
    mid-poll with batches committed and more to come."""
    from django.core.management import call_command
    from imapclient import IMAPClient

    from channels_adapters.email import poller

    fetch = IMAPClient.fetch

    def slow_fetch(self, messages, data, *args, **kwargs):
        if any(b"BODY" in (d.encode() if isinstance(d, str) else d) for d in data):
            time.sleep(0.5)
        return fetch(self, messages, data, *args, **kwargs)

    IMAPClient.fetch = slow_fetch
    defaults = poller.mail_accounts_poll.__kwdefaults__ or {}
    if "batch_size" in defaults:
        defaults["batch_size"] = 10
    call_command("poll_mail")


def scenario_mail(ctx: Context) -> dict:
    from bench.ingest import mailbox_seed

    mails = 100
    logs = offsets(ctx)
    # Beat must not take the lock first: it is stopped (before the demo account points at the
    # new folder) until the poll is killed.
    ctx.stack.beat_stop()
    account, folder = mailbox_seed(prefix="faults", mails=mails, senders=20)
    events = InboundEvent.objects.filter(
        channel_account_id=account.pk, dedupe_key__contains=f"{folder}-"
    )
    log = ctx.stack.work / "faults-poll.log"
    with open(log, "ab") as out:
        poll = subprocess.Popen(
            [sys.executable, "-m", "bench.faults", "_slow_poll"],
            cwd=ROOT,
            env=ctx.stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stored_at_kill = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and poll.poll() is None:
        stored_at_kill = events.count()
        if stored_at_kill >= 20:
            break
        time.sleep(0.05)
    if poll.poll() is not None:
        ctx.stack.beat_start()
        raise RuntimeError(f"poll_mail ended before it could be killed (see {log})")
    os.killpg(poll.pid, signal.SIGKILL)
    poll.wait(timeout=30)
    fault_end = time.time()
    ctx.stack.beat_start()
    lock_ttl = _mail_lock_ttl()
    messages = Message.objects.filter(channel_account=account, external_id__contains=f"{folder}-")
    done = 0
    last = None
    while time.time() < fault_end + ctx.wait:
        done = messages.count()
        if done >= mails:
            last = messages.order_by("-created_at").values_list("created_at", flat=True)[0]
            break
        time.sleep(0.5)
    duplicated = sum(
        row["n"] - 1
        for row in messages.values("external_id").annotate(n=Count("pk")).filter(n__gt=1)
    )
    pending = events.filter(status=InboundEvent.Status.PENDING).count()
    stored_events = events.count()
    return {
        "fault": "poll_mail SIGKILL mid-poll (lock held, batches of 10 committed); beat polling "
        f"every {ctx.stack.env['OMNICO_MAIL_POLL_SECONDS']} s",
        "acknowledged": mails,  # in the mailbox: the server holds them until we take them
        "stored": done,
        "events_stored_at_kill": stored_at_kill,
        "events_stored": stored_events,
        "pending": pending + (mails - stored_events),
        "lost": mails - done - pending - (mails - stored_events),
        "duplicated": duplicated,
        "lock_ttl_after_kill_s": lock_ttl,
        "recovery_s": round(max(0.0, last.timestamp() - fault_end), 1) if last else None,
        **logs_since(ctx, logs),
    }


def _mail_lock_ttl() -> int | None:
    """Seconds the killed poll's Redis lock still had to live (None: no such lock)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    ttls = [client.ttl(key) for key in client.scan_iter(match="*mail-poll*")]
    return max(ttls) if ttls else None


def scenario_redis(ctx: Context) -> dict:
    run = f"fr{uuid.uuid4().hex[:6]}"
    down = 30 if ctx.quick else 45

    def fault(t: dict) -> None:
        time.sleep(5)
        t["fault_start"] = time.time()
        ctx.stack.redis_stop()
        time.sleep(down)
        ctx.stack.redis_start()
        t["fault_end"] = time.time()

    logs = offsets(ctx)
    streamed = run_stream(ctx, run, fault, rate=20, seconds=down + 15, connections=32, timeout=20)
    return {
        **webhook_outcome(ctx, run, streamed),
        "fault": f"Redis shut down (nosave) for {down} s",
        **logs_since(ctx, logs),
    }


def scenario_pg_restart(ctx: Context) -> dict:
    run = f"fp{uuid.uuid4().hex[:6]}"
    logs = offsets(ctx)
    # Every worker process has used its pooled connections before the restart.
    warm = replies_send(ctx, "Warm reply", 8)
    replies: list[int] = []

    def fault(t: dict) -> None:
        time.sleep(5)
        t["fault_start"] = time.time()
        ctx.stack.pg_restart()
        t["fault_end"] = time.time()
        for _ in range(20):  # replies after the restart, over 10 s
            replies.extend(replies_send(ctx, "Reply after restart", 1))
            time.sleep(0.5)

    streamed = run_stream(ctx, run, fault, rate=50, seconds=20, connections=32, timeout=20)
    hooks = webhook_outcome(ctx, run, streamed)
    sent = replies_outcome(ctx, replies, streamed["fault_end"])
    recovery = (
        max(hooks["recovery_s"], sent["recovery_s"])
        if None not in (hooks["recovery_s"], sent["recovery_s"])
        else None
    )
    return {
        **{k: v for k, v in hooks.items() if k not in ("recovery_s",)},
        "fault": "pg_ctl restart -m fast at 5 s; 20 replies in the 10 s after it",
        "restart_s": round(streamed["fault_end"] - streamed["fault_start"], 2),
        "acknowledged": hooks["acknowledged"] + sent["acknowledged"],
        "stored": hooks["stored"] + sent["stored"],
        "pending": hooks["pending"] + sent["pending"],
        "lost": hooks["lost"] + sent["lost"],
        "duplicated": hooks["duplicated"] + sent["duplicated"],
        "webhooks_recovery_s": hooks["recovery_s"],
        "replies": sent,
        "warm_replies_sent": len(warm),
        "recovery_s": recovery,
        **logs_since(ctx, logs),
    }


def scenario_pg_down(ctx: Context) -> dict:
    run = f"fd{uuid.uuid4().hex[:6]}"
    down = 20
    options = ctx.stack.pg_options()

    def fault(t: dict) -> None:
        time.sleep(5)
        t["fault_start"] = time.time()
        ctx.stack.pg_stop()
        time.sleep(down)
        ctx.stack.pg_start(options)
        t["fault_end"] = time.time()

    logs = offsets(ctx)
    seconds = 35 if ctx.quick else 45
    streamed = run_stream(ctx, run, fault, rate=20, seconds=seconds, connections=16, timeout=20)
    return {
        **webhook_outcome(ctx, run, streamed),
        "fault": f"PostgreSQL stopped (fast) for {down} s; client: 16 connections, 20 s timeout",
        **logs_since(ctx, logs),
    }


SCENARIOS: dict[str, Callable[[Context], dict]] = {
    "worker": scenario_worker,
    "replies": scenario_replies,
    "mail": scenario_mail,
    "redis": scenario_redis,
    "pg-restart": scenario_pg_restart,
    "pg-down": scenario_pg_down,
}


# --- setup and report ---------------------------------------------------------------------
def setup(ctx: Context) -> None:
    """Point the API channel's replies at the fake provider; 20 tickets to reply to."""
    account = ChannelAccount.objects.get(kind="api", name="demo")
    account.callback_url = f"{ctx.provider.url}/callback"
    account.save()
    run = f"fs{uuid.uuid4().hex[:6]}"
    sent, _ = asyncio.run(
        stream(ctx.hook, ctx.secret, run, rate=50, seconds=0.4, connections=20, timeout=20)
    )
    assert all(r.status == 200 for r in sent), [r.status for r in sent]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tickets = list(
            Message.objects.filter(external_id__startswith=f"{run}-")
            .values_list("ticket_id", flat=True)
            .distinct()
        )
        if len(tickets) >= len(sent):
            break
        time.sleep(0.5)
    ctx.reply_tickets = sorted(tickets)


def _healthy(ctx: Context) -> None:
    """Between scenarios: a worker answering, nothing of ours still down."""
    if ctx.stack.worker is None:
        ctx.stack.worker_start()
    else:
        ctx.stack.worker_wait()
    if ctx.stack.beat is None:
        ctx.stack.beat_start()
    ctx.provider.down = False


def _cell(value) -> str:
    return "-" if value is None else str(value)


def print_report(results: dict, wait: float, path: str) -> None:
    head = ("scenario", "acknowledged", "stored", "pending", "lost", "duplicated", "recovery s")
    rows = [head]
    for name, r in results["scenarios"].items():
        if "error" in r:
            rows.append((name, "error: " + r["error"][:60], "", "", "", "", ""))
            continue
        recovery = r["recovery_s"]
        rows.append(
            (
                name,
                _cell(r["acknowledged"]),
                _cell(r["stored"]),
                _cell(r["pending"]),
                _cell(r["lost"]),
                _cell(r["duplicated"]),
                f"> {wait:g} (not recovered)" if recovery is None else str(recovery),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for name, r in results["scenarios"].items():
        extra = {
            k: v
            for k, v in r.items()
            if k not in ("acknowledged", "stored", "pending", "lost", "duplicated", "recovery_s")
        }
        print(f"{name}: {json.dumps(extra, default=str)}")
    print("targets: 0 lost, 0 duplicated, recovery < 30 s for every scenario")
    print(f"JSON: {path}")


def main() -> None:
    if sys.argv[1:2] == ["_slow_poll"]:
        _slow_poll()
        return
    fast_event_loop()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default="bench/results/faults.json")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="repeatable; default: all"
    )
    parser.add_argument("--quick", action="store_true", help="shorter outages and waits")
    parser.add_argument(
        "--wait", type=float, help="s after each fault's end to wait for recovery (90; quick 60)"
    )
    parser.add_argument(
        "--mail-poll-seconds", type=int, default=10, help="beat's mail poll interval (10)"
    )
    args = parser.parse_args()
    wait = args.wait or (60.0 if args.quick else 90.0)
    names = args.scenario or list(SCENARIOS)
    work = Path(os.environ["WORK"])
    stack = Stack(work, args.mail_poll_seconds)
    provider = Provider().start()
    account = ChannelAccount.objects.get(kind="api", name="demo")
    ctx = Context(args.url, account.secret, stack, provider, args.quick, wait)
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "when": datetime.now(UTC).isoformat(),
            "load_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "quick": args.quick,
        "wait_s": wait,
        "scenarios": {},
    }
    started = time.monotonic()
    try:
        stack.worker_start()
        stack.beat_start()
        setup(ctx)
        for name in names:
            _healthy(ctx)
            print(f"--- {name} ({time.monotonic() - started:.0f} s into the run)", flush=True)
            began = time.monotonic()
            try:
                result = SCENARIOS[name](ctx)
            except Exception as exc:  # one broken scenario does not hide the others' figures
                result = {"error": f"{type(exc).__name__}: {exc}"}
            result["scenario_s"] = round(time.monotonic() - began, 1)
            result["load_after"] = [round(x, 2) for x in os.getloadavg()]
            results["scenarios"][name] = result
            print(json.dumps({name: result}, default=str), flush=True)
    finally:
        stack.stop_all()
        provider.stop()
    results["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["run_s"] = round(time.monotonic() - started, 1)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2, default=str)
    print_report(results, wait, args.out)


if __name__ == "__main__":
    main()
