"""Agent-screen pages timed server-side, on a small and on a big PostgreSQL database.

1. small: the demo database (about ten tickets): every page is requested, its SQL queries
   counted and its time taken.
2. fill: the database grows to 100,000 tickets and 1,000,000 messages (COPY, a few seconds a
   million rows): 4,000 customers with 25 tickets each (the latest one active, the others
   resolved or closed), tags on a third of the tickets, one ticket of 5,000 messages.
3. big: the same pages again. Target: median < 30 ms each, the same query count as small.

Times are server-side: Django's test client in this process, through the whole middleware
stack, logged in as the demo agent ``agent1``; no network, no browser. Prints a table, the
slowest SQL of each page (``--explain``: with EXPLAIN ANALYZE), and writes JSON.

    bench/run pages [--tickets N] [--messages M] [--requests R] [--explain]

Run through bench/run (it starts PostgreSQL, migrates and seeds the demo); ``--url`` is
accepted for bench/run's sake and not used. Without DATABASE_URL it refuses to run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import percentile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, models, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from configuration.models import ChannelAccount  # noqa: E402
from customers.models import Customer, Identity  # noqa: E402
from tickets.models import PRIORITY_RANK, Message, Tag, Ticket  # noqa: E402

CUSTOMERS = 4000
BIG_THREAD = 5000
WORDS = [
    "merhaba",
    "siparişim",
    "kargo",
    "nerede",
    "iade",
    "fatura",
    "ödeme",
    "teşekkürler",
    "lütfen",
    "yardım",
    "hello",
    "order",
    "parcel",
    "refund",
    "invoice",
    "payment",
    "thanks",
    "please",
    "help",
    "where",
    "is",
    "my",
    "delivery",
    "today",
    "tomorrow",
    "adres",
    "değişikliği",
    "kapıda",
    "ödeme",
    "numara",
    "ürün",
    "beden",
    "renk",
    "stok",
    "kampanya",
    "indirim",
    "kupon",
]
ACTIVE = ["open"] * 5 + ["pending"] * 2 + ["waiting_on_customer"] * 2 + ["waiting_on_third_party"]
PRIORITIES = ["low", "medium", "medium", "medium", "high", "urgent"]


# --- filling the database -------------------------------------------------------------------


def _copy(model: type[models.Model], rows, given: list[str]) -> int:
    """COPY rows (tuples in the order of ``given`` field names) into the model's table; the
    model's other concrete fields get their defaults, so a column added later still fills."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False)  # the database fills those
    ]
    by_name = {f.name: f for f in fields} | {f.attname: f for f in fields}
    rest = [f for f in fields if f.name not in given and f.attname not in given]
    defaults = []
    for field in rest:
        value = field.get_default()
        if isinstance(field, models.JSONField):
            value = Jsonb(value)
        elif value is None and not field.null and isinstance(field, models.DateTimeField):
            value = datetime.now(UTC)
        defaults.append(value)
    columns = [f'"{by_name[name].column}"' for name in given] + [f'"{f.column}"' for f in rest]
    json_at = {i for i, name in enumerate(given) if isinstance(by_name[name], models.JSONField)}
    sql = f'COPY "{model._meta.db_table}" ({", ".join(columns)}) FROM STDIN'  # noqa: S608
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            if json_at:
                row = tuple(Jsonb(v) if i in json_at else v for i, v in enumerate(row))
            copy.write_row((*row, *defaults))
            count += 1
    return count


def _text(rng: random.Random, low: int = 4, high: int = 30) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize()


def fill(tickets: int, messages: int, seed: int = 4) -> dict[str, Any]:
    """Grow the database by ``tickets`` tickets and ``messages`` messages; returns what it made."""
    rng = random.Random(seed)
    started = time.perf_counter()
    accounts = list(ChannelAccount.objects.order_by("pk").values_list("pk", "kind"))
    agents = list(
        get_user_model()
        .objects.filter(is_staff=False, username__startswith="agent")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    run = f"b{int(time.time())}"
    customers = min(CUSTOMERS, tickets)
    now = datetime.now(UTC)
    with transaction.atomic():
        first_customer = (
            Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
        ) or 0
        _copy(
            Customer,
            (
                (f"Bench Müşteri {i}", f"905{i:09d}", now, now, {"segment": f"s{i % 7}"})
                for i in range(customers)
            ),
            ["name", "phone", "created_at", "updated_at", "attributes"],
        )
        customer_ids = list(
            Customer.objects.filter(pk__gt=first_customer)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _copy(
            Identity,
            (
                (cid, accounts[i % len(accounts)][1], f"{run}-{i}", f"Bench {i}", now)
                for i, cid in enumerate(customer_ids)
            ),
            ["customer_id", "kind", "external_id", "display", "created_at"],
        )
        tag_ids = []
        for i in range(40):
            tag, _ = Tag.objects.get_or_create(name=f"bench-tag-{i}")
            tag_ids.append(tag.pk)

        # Ticket t belongs to customer t % C; each customer's last ticket is the active one.
        span = timedelta(days=365)
        start = now - span
        step = span / tickets
        per = [messages // tickets] * tickets
        for t in range(messages - sum(per)):
            per[t % tickets] += 1
        big = tickets - 1  # the newest ticket: agent1's, with a long thread
        for t in range(min(BIG_THREAD, tickets - 1)):
            if per[t] > 1:
                per[t] -= 1
                per[big] += 1
        plan = []
        for t in range(tickets):
            customer = t % customers
            account_id, kind = accounts[customer % len(accounts)]
            active = t >= tickets - customers
            status = rng.choice(ACTIVE) if active else rng.choice(["resolved", "closed"])
            if t == big:
                status = "open"
            priority = rng.choice(PRIORITIES)
            assignee = None if (active and rng.random() < 0.3) else agents[t % len(agents)]
            if t == big:
                assignee = agents[0]
            created = start + step * t
            last = created + timedelta(minutes=3 * per[t])
            plan.append((customer, account_id, kind, status, priority, assignee, created, last))
        first_ticket = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        previews = {}

        def ticket_rows():
            for t, (
                customer,
                account_id,
                kind,
                status,
                priority,
                assignee,
                created,
                last,
            ) in enumerate(plan):
                preview = _text(rng, 3, 12)
                previews[t] = preview
                yield (
                    status,
                    priority,
                    PRIORITY_RANK[priority],
                    kind,
                    account_id,
                    customer_ids[customer],
                    preview[:60],
                    assignee,
                    status in ACTIVE and rng.random() < 0.4,
                    last,
                    preview,
                    created,
                    last,
                    last if status in ("resolved", "closed") else None,
                    last if status == "closed" else None,
                )

        made = _copy(
            Ticket,
            ticket_rows(),
            [
                "status",
                "priority",
                "priority_rank",
                "source",
                "channel_account_id",
                "customer_id",
                "title",
                "assignee_id",
                "unread",
                "last_message_at",
                "last_message_preview",
                "created_at",
                "updated_at",
                "resolved_at",
                "closed_at",
            ],
        )
        ticket_ids = list(
            Ticket.objects.filter(pk__gt=first_ticket).order_by("pk").values_list("pk", flat=True)
        )
        through = Ticket.tags.through
        _copy(
            through,
            (
                (ticket_ids[t], tag)
                for t in range(0, tickets, 3)
                for tag in rng.sample(tag_ids, 1 + t % 3)
            ),
            ["ticket_id", "tag_id"],
        )

        def message_rows():
            for t, (_c, account_id, _k, _s, _p, assignee, created, last) in enumerate(plan):
                n = per[t]
                for m in range(n):
                    inbound = m % 2 == 0 or assignee is None
                    when = created + timedelta(minutes=3 * (m + 1)) if m < n - 1 else last
                    body = previews[t] if m == n - 1 else _text(rng)
                    yield (
                        ticket_ids[t],
                        account_id,
                        "in" if inbound else "out",
                        None if inbound else assignee,
                        body,
                        when,
                        when,
                        "" if inbound else "sent",
                    )

        made_messages = _copy(
            Message,
            message_rows(),
            [
                "ticket_id",
                "channel_account_id",
                "direction",
                "author_id",
                "body",
                "sent_at",
                "created_at",
                "delivery",
            ],
        )
    with connection.cursor() as cursor:  # as autovacuum would, before the timing starts
        cursor.execute("VACUUM ANALYZE")
    return {
        "tickets": made,
        "messages": made_messages,
        "customers": customers,
        "big_ticket": ticket_ids[big],
        "big_ticket_messages": per[big],
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- timing ---------------------------------------------------------------------------------


#: An htmx request (a click in the list): the view answers with a fragment, not the page.
HTMX = {"HTTP_HX_REQUEST": "true"}


def pages(big_ticket: int, ordinary_ticket: int) -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "inbox (default tab)": ("/inbox/", {}),
        "inbox, all": ("/inbox/?tab=all", {}),
        "inbox list rows (htmx)": ("/inbox/list/?tab=all", HTMX),
        "ticket view (long thread)": (f"/inbox/{big_ticket}/", {}),
        # The page above renders the ticket and the list's filters; the list then fetches its
        # rows with this request (inbox/list/deferred.html): time it too.
        "its inbox list (htmx, on load)": (
            "/inbox/list/",
            {**HTMX, "HTTP_HX_TRIGGER": "inbox-list"},
        ),
        "ticket view": (f"/inbox/{ordinary_ticket}/", {}),
        "ticket pane (htmx, long thread)": (f"/inbox/{big_ticket}/", HTMX),
        "tickets list": ("/tickets/", {}),
        "tickets list, resolved": ("/tickets/?status=resolved", {}),
    }


def measure(
    client: Client, path: str, headers: dict[str, str], requests: int, warmup: int = 3
) -> dict[str, Any]:
    for _ in range(warmup):
        client.get(path, **headers)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path, **headers)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    slowest = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:3]
    return {
        "path": path,
        "status": response.status_code,
        "bytes": len(response.content),
        "queries": len(queries.captured_queries),
        # Django rounds each query's time to the millisecond: a rough split of DB vs Python.
        "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
        "ms_median": round(statistics.median(times), 2),
        "ms_p95": round(percentile(times, 95), 2),
        "slowest_sql": [
            {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]} for q in slowest
        ],
    }


def _short(sql: str) -> str:
    """The SQL without its long column list: what it reads, filters and orders by."""
    cut = sql.find(" FROM ")
    return (f"SELECT … {sql[cut:]}" if sql.startswith("SELECT") and cut > 0 else sql)[:900]


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def run_pages(
    client: Client, paths: dict[str, tuple[str, dict[str, str]]], requests: int
) -> dict[str, Any]:
    return {
        name: measure(client, path, headers, requests) for name, (path, headers) in paths.items()
    }


def _ticket_with_messages(min_messages: int = 2) -> int:
    return (
        Ticket.objects.filter(assignee__username="agent1")
        .annotate(n=models.Count("messages"))
        .filter(n__gte=min_messages)
        .order_by("-n", "-pk")
        .values_list("pk", flat=True)
        .first()
    ) or Ticket.objects.order_by("-pk").values_list("pk", flat=True).first()


def report_print(
    results: dict[str, Any],
    *,
    columns: tuple[str, str, str],
    extra: dict[str, Callable[[dict[str, Any]], str]] | None = None,
    explain_sql: bool,
    out: str,
) -> None:
    """The table the page benches print (this one and ``bench.api``): each request on the big
    database against the small one (queries, median, p95, ``extra`` columns, whether the query
    count stayed the same, under 30 ms or not), then the slowest SQL of each request over 30 ms
    (of every one with ``--explain``, with its plan), and the results as JSON in ``out``.
    ``columns``: the names of the first column, of the small database's and of the comparison."""
    extra = extra or {}
    rows = []
    for name, big in results["big"].items():
        small = results.get("small", {}).get(name)
        same = (
            "" if small is None else ("same" if small["queries"] == big["queries"] else "DIFFERS")
        )
        verdict = "ok" if big["ms_median"] < 30 and big["status"] == 200 else "SLOW"
        if big["status"] != 200:
            verdict = f"HTTP {big['status']}"
        rows.append(
            (
                name,
                "" if small is None else f"{small['queries']} q / {small['ms_median']} ms",
                f"{big['queries']} q ({big['sql_ms']:g} ms SQL)",
                f"{big['ms_median']} ms",
                f"{big['ms_p95']} ms",
                *(cell(big) for cell in extra.values()),
                same,
                verdict,
            )
        )
    first, small_label, same_label = columns
    header = (first, small_label, "queries", "median", "p95", *extra, same_label, "< 30 ms")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    for name, big in results["big"].items():
        if big["ms_median"] >= 30 or explain_sql:
            print(f"\n== {name}: slowest SQL")
            for q in big["slowest_sql"]:
                print(f"-- {q['ms']} ms\n{_short(q['sql'])}")
                if explain_sql and q["ms"] > 1:
                    q["explain"] = explain(q["sql"])
                    print(q["explain"])
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as fh:
        json.dump(results, fh, indent=2, default=str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="unused (bench/run passes it)")
    parser.add_argument("--out", default="bench/results/pages.json")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slow SQL")
    parser.add_argument("--skip-fill", action="store_true", help="the database is big already")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/pages.py needs PostgreSQL: run it through bench/run pages")
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # errors show in the table

    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.get(username="agent1"))
    small_ticket = _ticket_with_messages()
    results: dict[str, Any] = {}
    if not args.skip_fill:
        print(
            f"small database: {Ticket.objects.count()} tickets, {Message.objects.count()} messages"
        )
        results["small"] = run_pages(client, pages(small_ticket, small_ticket), args.requests)
        print(f"filling {args.tickets:,} tickets and {args.messages:,} messages...")
        results["fill"] = fill(args.tickets, args.messages)
        print(f"  done in {results['fill']['seconds']} s")
        big_ticket = results["fill"]["big_ticket"]
    else:
        big_ticket = _ticket_with_messages(BIG_THREAD)
    ordinary = (
        Ticket.objects.filter(assignee__username="agent1", status="open")
        .exclude(pk=big_ticket)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    ) or big_ticket
    print(f"big database: {Ticket.objects.count():,} tickets, {Message.objects.count():,} messages")
    results["big"] = run_pages(client, pages(big_ticket, ordinary), args.requests)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),  # other work on the machine inflates the times
        "when": datetime.now(UTC).isoformat(),
    }

    report_print(
        results,
        columns=("page", "10 tickets", "queries vs small"),
        explain_sql=args.explain,
        out=args.out,
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs (times are inflated above ~1 per CPU)")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
