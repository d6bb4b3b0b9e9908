"""Ingest benchmark against a running full-stack Omnico (see bench/run).

1. burst: N signed API-channel webhooks from many customers, C at a time: accepted/s at the
   webhook, then processed/s into tickets (first event stored → last message stored).
2. paced: R messages/s for a while: webhook-to-ticket latency p50/p95/p99 (the message's
   ``time`` is the client's send time; latency = message row created_at - that time).
3. imap: M mails appended to Dovecot, one poll, mails/s until all are messages in tickets.

Each part waits (at most ``--wait`` s) for its messages. At the end of the run every part counts
its events still pending and failed, waits for the pending ones (at most ``--settle`` s more)
and counts as lost only the accepted messages that are still not in a ticket after that.

Prints a table and writes JSON. Run through bench/run, which starts the stack and Dovecot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

from bench.client import Connection, fast_event_loop
from bench.cluster import SHAPE, agents_taking_tickets, integrity, integrity_rows, url_list
from bench.report import percentile, print_table

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db.models import Count, Max, Min, Q, QuerySet  # noqa: E402

from channels_adapters.models import InboundEvent  # noqa: E402
from configuration.models import ChannelAccount, MailAccount  # noqa: E402
from tickets.models import Message  # noqa: E402


def _body(run: str, n: int, customers: int) -> bytes:
    return json.dumps(
        {
            "id": f"{run}-{n}",
            "customer": {
                "id": f"{run}-c{n % customers}",
                "name": f"Bench customer {n % customers}",
            },
            "text": f"Merhaba, sipariş {n} nerede?",
            "time": datetime.now(UTC).isoformat(),
        }
    ).encode()


#: How long each part waits for its messages (--wait), then all of them together for what was
#: still pending at the end of the run (--settle).
WAIT_SECONDS = 120.0
SETTLE_SECONDS = 60.0


def _part_rows(run: str) -> tuple[QuerySet, QuerySet]:
    """A webhook part's events and messages (run ids are unique per part)."""
    return (
        InboundEvent.objects.filter(dedupe_key__startswith=f"message:{run}-"),
        Message.objects.filter(external_id__startswith=f"{run}-"),
    )


def _event_states(events: QuerySet) -> tuple[int, int]:
    counts = events.aggregate(
        pending=Count("pk", filter=Q(status=InboundEvent.Status.PENDING)),
        failed=Count("pk", filter=Q(status=InboundEvent.Status.FAILED)),
    )
    return counts["pending"], counts["failed"]


def settle(parts: list[tuple[dict, QuerySet, QuerySet]], timeout: float) -> None:
    """The end of the run: each part's events still pending and failed, then a bounded wait
    for the pending ones; lost is what was accepted and is still not a message after it."""
    for part, events, _messages in parts:
        part["pending_at_end"], part["failed_at_end"] = _event_states(events)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
        events.filter(status=InboundEvent.Status.PENDING).exists() for _p, events, _m in parts
    ):
        time.sleep(0.5)
    for part, events, messages in parts:
        part["pending_after_settle"], part["failed"] = _event_states(events)
        part["processed"] = messages.count()
        part["lost"] = part["accepted"] - part["processed"]


def _wait_for(run: str, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = Message.objects.filter(external_id__startswith=f"{run}-").count()
        if done >= count:
            break
        time.sleep(0.2)
    return done


async def burst(urls: list[str], secret: str, n: int, concurrency: int, customers: int) -> dict:
    run = f"b{uuid.uuid4().hex[:8]}"
    bodies = [_body(run, i, customers) for i in range(n)]
    bodies.reverse()
    statuses: dict[int, int] = {}

    async def worker(k: int) -> None:
        connection = Connection(urls[k % len(urls)])  # connections spread over the web processes
        try:
            while bodies:
                code, _retry_after = await connection.post(bodies.pop(), secret)
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    accept_seconds = time.perf_counter() - start
    done = await asyncio.to_thread(_wait_for, run, n, WAIT_SECONDS)
    times = await asyncio.to_thread(
        lambda: (
            InboundEvent.objects.filter(dedupe_key__startswith=f"message:{run}-").aggregate(
                first=Min("received_at")
            )["first"],
            Message.objects.filter(external_id__startswith=f"{run}-").aggregate(
                last=Max("created_at")
            )["last"],
        )
    )
    process_seconds = (times[1] - times[0]).total_seconds() if all(times) else float("nan")
    return {
        "run": run,
        "messages": n,
        "accepted": statuses.get(200, 0),
        "concurrency": concurrency,
        "customers": customers,
        "http_status": statuses,
        "accept_seconds": round(accept_seconds, 2),
        "accepted_per_s": round(statuses.get(200, 0) / accept_seconds, 1),
        "processed": done,
        "process_seconds": round(process_seconds, 2),
        "processed_per_s": round(done / process_seconds, 1) if process_seconds else None,
    }


async def paced(urls: list[str], secret: str, rate: float, seconds: float, customers: int) -> dict:
    run = f"p{uuid.uuid4().hex[:8]}"
    n = int(rate * seconds)
    idle: dict[str, list[Connection]] = {url: [] for url in urls}

    async def send(i: int) -> int:
        url = urls[i % len(urls)]  # requests round robin over the web processes
        connection = idle[url].pop() if idle[url] else Connection(url)
        try:
            status, _retry_after = await connection.post(_body(run, i, customers), secret)
            return status
        finally:
            idle[url].append(connection)

    start = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    codes = await asyncio.gather(*tasks)
    for connection in (c for pool in idle.values() for c in pool):
        connection.close()
    done = await asyncio.to_thread(_wait_for, run, n, WAIT_SECONDS)
    rows = await asyncio.to_thread(
        lambda: list(
            Message.objects.filter(external_id__startswith=f"{run}-").values_list(
                "created_at", "sent_at"
            )
        )
    )
    latencies = [(created - sent).total_seconds() * 1000 for created, sent in rows]
    return {
        "run": run,
        "rate_per_s": rate,
        "messages": n,
        "accepted": codes.count(200),
        "processed": done,
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p95": round(percentile(latencies, 95), 1),
        "latency_ms_p99": round(percentile(latencies, 99), 1),
        "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def _warm_up() -> None:
    """Open the Redis and broker connections the poll's ingest kicks use, as they are in the
    Celery worker that runs the real poller (``poll_mail``): a cold process pays ~0.3 s for them
    on its first kick, which is not the cost of a poll."""
    from channels_adapters.services import inbound
    from omnico.celery import app

    if settings.REDIS_URL:
        inbound._redis().ping()
    conn = app.pool.acquire(block=True)
    try:
        conn.ensure_connection(max_retries=1)
    finally:
        conn.release()


def mailbox_seed(*, prefix: str, mails: int, senders: int) -> tuple[MailAccount, str]:
    """Append ``mails`` mails from ``senders`` customers to a new folder of the stack's Dovecot
    and point the demo mail account at it; returns the account and the folder (every mail's
    Message-ID and sender carry the folder's name)."""
    from imapclient import IMAPClient

    host = os.environ["OMNICO_TEST_IMAP_HOST"]
    port = int(os.environ["OMNICO_TEST_IMAP_PORT"])
    user = os.environ["OMNICO_TEST_IMAP_USER"]
    password = os.environ["OMNICO_TEST_IMAP_PASSWORD"]
    folder = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with IMAPClient(host, port=port, ssl=False) as client:
        client.login(user, password)
        client.create_folder(folder)
        for i in range(mails):
            msg = EmailMessage()
            msg["From"] = f"Müşteri {i % senders} <{folder}-customer{i % senders}@example.com>"
            msg["To"] = "support@example.com"
            msg["Subject"] = f"Sipariş {i}"
            msg["Message-ID"] = f"<{folder}-{i}@{prefix}.example.com>"
            msg.set_content(f"Merhaba, siparişim {i} gelmedi.\n")
            client.append(folder, msg.as_bytes())
    account = MailAccount.objects.get(name="demo")
    account.enabled = True
    account.imap_host, account.imap_port, account.imap_security = host, port, "none"
    account.username, account.password, account.imap_folder = user, password, folder
    account.save()
    return account, folder


def imap(mails: int, senders: int = 50) -> dict:
    account, folder = mailbox_seed(prefix="bench", mails=mails, senders=senders)
    from channels_adapters.email.poller import mailbox_poll

    _warm_up()
    start = time.perf_counter()
    mailbox_poll(account=account)
    polled = time.perf_counter() - start
    deadline = time.monotonic() + WAIT_SECONDS
    done = 0
    while time.monotonic() < deadline:
        done = Message.objects.filter(
            channel_account=account, external_id__contains=f"{folder}-"
        ).count()
        if done >= mails:
            break
        time.sleep(0.1)
    total = time.perf_counter() - start
    return {
        "folder": folder,
        "account": account.pk,
        "mails": mails,
        "accepted": mails,
        "senders": senders,
        "poll_seconds": round(polled, 2),
        "processed": done,
        "mails_per_s": round(done / total, 1),
    }


def _loss_rows(name: str, part: dict) -> list[tuple[str, object]]:
    return [
        (
            f"{name}: events pending / failed at the end",
            f"{part['pending_at_end']} / {part['failed_at_end']}",
        ),
        (f"{name}: still pending after {SETTLE_SECONDS:g} s more", part["pending_after_settle"]),
        (f"{name}: lost of {part['accepted']} accepted (target 0)", part["lost"]),
    ]


def main() -> None:
    global WAIT_SECONDS, SETTLE_SECONDS  # noqa: PLW0603 - one run per process
    fast_event_loop()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default="bench/results/ingest.json")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument(
        "--mail-senders", type=int, default=50, help="distinct senders of the IMAP mails (50)"
    )
    parser.add_argument(
        "--only", choices=["imap"], help="run only this part (the IMAP part alone: --only imap)"
    )
    parser.add_argument(
        "--agents",
        type=int,
        default=10 if SHAPE else 0,
        help="active agents taking the tickets (10 with --cluster, else 0: all in the pool)",
    )
    parser.add_argument("--capacity", type=int, default=5, help="of each of --agents (5)")
    parser.add_argument("--wait", type=float, default=WAIT_SECONDS, help="s per part (120)")
    parser.add_argument(
        "--settle", type=float, default=SETTLE_SECONDS, help="s more for pending events (60)"
    )
    args = parser.parse_args()
    WAIT_SECONDS, SETTLE_SECONDS = args.wait, args.settle

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    account = ChannelAccount.objects.get(kind="api", name="demo")
    hooks = [f"{url}/hooks/api/demo/" for url in url_list(args.url)]
    if args.agents:
        agents_taking_tickets(args.agents, args.capacity)
    results: dict = {}
    if args.only is None:
        results["burst"] = asyncio.run(
            burst(hooks, account.secret, args.messages, args.concurrency, args.customers)
        )
        results["paced"] = asyncio.run(
            paced(hooks, account.secret, args.rate, args.seconds, args.customers)
        )
    if args.mails:
        results["imap"] = imap(args.mails, args.mail_senders)
    parts = [
        (results[name], *_part_rows(results[name]["run"]))
        for name in ("burst", "paced")
        if name in results
    ]
    if "imap" in results:
        i = results["imap"]
        parts.append(
            (
                i,
                InboundEvent.objects.filter(
                    channel_account_id=i["account"], dedupe_key__contains=f"{i['folder']}-"
                ),
                Message.objects.filter(
                    channel_account_id=i["account"], external_id__contains=f"{i['folder']}-"
                ),
            )
        )
    settle(parts, args.settle)
    results["web_processes"] = len(hooks)
    results["cluster"] = integrity()
    results["machine"] = {
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(),
        "load_at_start": load_at_start,
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
    rows = []
    if "burst" in results:
        b, p = results["burst"], results["paced"]
        rows += [
            ("webhook accepted/s (target >= 500)", b["accepted_per_s"]),
            ("processed into tickets/s (target >= 200)", b["processed_per_s"]),
            *_loss_rows("burst", b),
            *_loss_rows("paced", p),
            (f"latency p50 ms at {p['rate_per_s']:g}/s", p["latency_ms_p50"]),
            (f"latency p95 ms at {p['rate_per_s']:g}/s (target < 100)", p["latency_ms_p95"]),
            (f"latency p99 ms at {p['rate_per_s']:g}/s", p["latency_ms_p99"]),
        ]
    if "imap" in results:
        i = results["imap"]
        rows += [
            ("IMAP fetch + store seconds", i["poll_seconds"]),
            *_loss_rows("IMAP", i),
            ("IMAP mails/s into tickets (target >= 300)", i["mails_per_s"]),
        ]
    rows += integrity_rows(results["cluster"])
    print_table(rows, args.out)


if __name__ == "__main__":
    main()
