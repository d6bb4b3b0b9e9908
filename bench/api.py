"""The REST API's ticket list (``/api/v1/tickets/``) timed server-side at 100,000 tickets.

1. small: the demo database (about ten tickets): each request is timed and its queries counted.
2. fill: the database grows to ``--tickets`` tickets (``bench.pages.fill``: 4,000 customers,
   tags on a third of the tickets, the newest ticket with a long thread).
3. big: the same requests again. Target: median < 30 ms each, the same query count as small.

Besides wall time it reports this process's CPU time per request (Django, DRF and
serialising, without PostgreSQL's): on a busy machine the wall time is mostly waiting for a
CPU. A list that finds no rows runs 2 queries (no tags to fetch), one with rows 3.

Requests go through Django's test client in this process (the whole middleware stack, DRF,
bearer-token authentication, the rate limit in Redis), with a token holding every scope; no
network. The rate limit is raised for the run (``OMNICO_API_RATE``), not switched off.

    bench/run api [--tickets N] [--messages M] [--requests R] [--explain]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import percentile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
os.environ.setdefault("OMNICO_API_RATE", "1000000/minute")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.pages import fill, report_print  # noqa: E402
from configuration.api_tokens import api_token_create  # noqa: E402
from configuration.models import ApiScope  # noqa: E402
from tickets.models import Message, Ticket  # noqa: E402


def _after_pages(client: Client, headers: dict[str, str], path: str, pages: int) -> str:
    """The URL of page ``pages + 1`` of ``path`` (following ``next``)."""
    url = path
    for _ in range(pages):
        url = client.get(url, **headers).json()["next"] or url
    return url


def requests_to_time(client: Client, headers: dict[str, str]) -> dict[str, str]:
    agent = get_user_model().objects.get(username="agent1")
    customer = Ticket.objects.order_by("-pk").values_list("customer_id", flat=True).first()
    since = (datetime.now(UTC) - timedelta(days=7)).isoformat().replace("+00:00", "Z")
    newest = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first()
    return {
        "list (50, newest first)": "/api/v1/tickets/",
        "list, limit 200": "/api/v1/tickets/?limit=200",
        "list, page 21 (cursor)": _after_pages(client, headers, "/api/v1/tickets/", 20),
        "status=open": "/api/v1/tickets/?status=open",
        "status=resolved,closed": "/api/v1/tickets/?status=resolved&status=closed",
        "assignee=agent1": f"/api/v1/tickets/?assignee={agent.pk}",
        "assignee=none": "/api/v1/tickets/?assignee=none",
        "channel=email": "/api/v1/tickets/?channel=email",
        "customer=<id>": f"/api/v1/tickets/?customer={customer}",
        "updated_since=7 days": f"/api/v1/tickets/?updated_since={since}",
        "status=pending&channel=telegram": "/api/v1/tickets/?status=pending&channel=telegram",
        "ticket detail (newest)": f"/api/v1/tickets/{newest}/",
    }


def measure(client: Client, path: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    for _ in range(3):
        client.get(path, **headers)
    times, cpu = [], []
    for _ in range(requests):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, **headers)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    body = response.json()
    slowest = sorted(queries.captured_queries, key=lambda q: float(q["time"]), reverse=True)[:2]
    return {
        "path": path,
        "status": response.status_code,
        "rows": len(body.get("results", [])) if isinstance(body, dict) else None,
        "queries": len(queries.captured_queries),
        "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
        "ms_median": round(statistics.median(times), 2),
        "ms_p95": round(percentile(times, 95), 2),
        # This process's CPU time (Django, DRF, serialising; not PostgreSQL's): on a busy
        # machine the wall time is mostly waiting for a CPU, this part is not.
        "cpu_ms_median": round(statistics.median(cpu), 2),
        "slowest_sql": [
            {"ms": round(float(q["time"]) * 1000, 2), "sql": q["sql"]} for q in slowest
        ],
    }


def run(client: Client, headers: dict[str, str], requests: int) -> dict[str, Any]:
    return {
        name: measure(client, path, headers, requests)
        for name, path in requests_to_time(client, headers).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="unused (bench/run passes it)")
    parser.add_argument("--out", default="bench/results/api.json")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slow SQL")
    parser.add_argument("--skip-fill", action="store_true", help="the database is big already")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/api.py needs PostgreSQL: run it through bench/run api")
    logging.getLogger("django.request").setLevel(logging.CRITICAL)

    issued = api_token_create(name="bench", scopes=list(ApiScope.values))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issued.secret}"}
    client = Client(raise_request_exception=False)
    results: dict[str, Any] = {}
    if not args.skip_fill:
        print(f"small database: {Ticket.objects.count()} tickets")
        results["small"] = run(client, headers, args.requests)
        print(f"filling {args.tickets:,} tickets and {args.messages:,} messages...")
        results["fill"] = fill(args.tickets, args.messages)
        print(f"  done in {results['fill']['seconds']} s")
    print(f"big database: {Ticket.objects.count():,} tickets, {Message.objects.count():,} messages")
    load_before = os.getloadavg()
    results["big"] = run(client, headers, args.requests)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "when": datetime.now(UTC).isoformat(),
    }

    report_print(
        results,
        columns=("request", "small db", "queries"),
        extra={
            "rows": lambda big: "" if big["rows"] is None else str(big["rows"]),
            "web CPU": lambda big: f"{big['cpu_ms_median']} ms",
        },
        explain_sql=args.explain,
        out=args.out,
    )
    before = ", ".join(f"{x:.1f}" for x in load_before)
    after = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {before} -> {after} on {os.cpu_count()} CPUs")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
