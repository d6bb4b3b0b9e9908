"""The ticket panel of a WooCommerce customer with 200 orders: from the cache, never waiting
for the shop (issue 13).

On the stack of ``bench/run`` (PostgreSQL, Redis, a Celery worker), with the loopback fake
shop of the tests (``tests/fakes/woocommerce.py``) running in this process:

1. a demo ticket of ``agent1`` gets a customer who has ``--orders`` orders (200) in the shop;
   one refresh fills the cache;
2. the panel and its Orders section (and, in the first phase, the ticket view and a page of
   "show all") are timed server-side (Django's test client in this process, the whole
   middleware stack) in four phases: the cache **fresh** or **stale** before every request
   (set between requests, untimed), the shop **fast** or answering after ``--shop-delay`` s
   (5). A stale cache makes every Orders request queue a refresh, which the worker runs
   against the shop (and times out after 4 s when it is slow). The requests the shop received
   in each phase are counted: 0 when fresh;
3. between the phases, with the worker idle, a refresh is asked for and the time until the
   worker's result is in the cache is taken (the full-stack path: Redis, worker, shop).

The panel never waits for the shop when each page's median is the same with the shop fast or
slow. Target: median < 30 ms for the panel and the Orders section, in both 2 and 3.

    bench/run woo [--orders N] [--requests R] [--shop-delay S]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import percentile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.models import WooCommerceConnection, WooCustomer  # noqa: E402
from customers.woocommerce.services import (  # noqa: E402
    woo_customer_refresh,
    woo_refresh_request,
)
from tests.fakes.woocommerce import FakeWooCommerce  # noqa: E402
from tickets.models import Ticket  # noqa: E402

HTMX = {"HTTP_HX_REQUEST": "true"}
EMAIL = "bench-woo@example.com"


def measure(client: Client, path: str, requests: int, before=None) -> dict[str, Any]:
    for _ in range(3):
        if before:
            before()
        client.get(path, **HTMX)
    times = []
    for _ in range(requests):
        if before:
            before()
        start = time.perf_counter()
        response = client.get(path, **HTMX)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **HTMX)
    return {
        "path": path,
        "bytes": len(response.content),
        "queries": len(queries.captured_queries),
        "ms_median": round(statistics.median(times), 2),
        "ms_p95": round(percentile(times, 95), 2),
    }


def pages(ticket_id: int) -> dict[str, str]:
    return {
        "panel (htmx)": f"/inbox/{ticket_id}/panel/",
        "Orders section (htmx)": f"/inbox/{ticket_id}/shop/",
        "ticket view (htmx pane)": f"/inbox/{ticket_id}/",
        "show all, page 2": f"/inbox/{ticket_id}/shop/orders/?page=2",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="unused (bench/run passes it)")
    parser.add_argument("--out", default="bench/results/woo.json")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--shop-delay", type=float, default=5.0)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/woo_panel.py needs PostgreSQL: run it through bench/run woo")
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    load_start = os.getloadavg()

    with FakeWooCommerce() as shop:
        woo = shop.add_customer(email=EMAIL, first_name="Ayşe", last_name="Yılmaz")
        for n in range(args.orders):
            shop.add_order(
                customer=woo,
                total=f"{100 + n}.90",
                items=[("Kırmızı kazak", 1 + n % 3), ("Şal", 1)],
                created=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n),
            )
        WooCommerceConnection.objects.update(enabled=False)
        shop_connection = WooCommerceConnection.objects.create(
            name="Bench shop",
            store_url=shop.url,
            consumer_key=shop.key,
            consumer_secret=shop.secret,
            timeout_seconds=4,
        )
        ticket = (
            Ticket.objects.filter(assignee__username="agent1", status="open")
            .order_by("-pk")
            .select_related("customer")
            .first()
        ) or Ticket.objects.select_related("customer").order_by("-pk").first()
        assert ticket is not None, "no demo ticket"
        ticket.customer.email = EMAIL
        ticket.customer.save(update_fields=["email"])
        record = woo_customer_refresh(customer_id=ticket.customer_id)
        assert record is not None and record.order_count == args.orders, record and record.error
        print(f"cache: {record.order_count} orders of customer {ticket.customer_id}")

        client = Client(raise_request_exception=False)
        client.force_login(get_user_model().objects.get(username="agent1"))
        results: dict[str, Any] = {"orders": args.orders}

        def stale() -> None:
            WooCustomer.objects.filter(pk=record.pk).update(
                fetched_at=timezone.now() - timedelta(days=1), requested_at=None
            )

        def fresh() -> None:
            WooCustomer.objects.filter(pk=record.pk).update(
                fetched_at=timezone.now(), requested_at=None
            )

        paths = pages(ticket.pk)
        # (phase, shop delay, the cache before every request, pages timed)
        phases = [
            ("fresh", 0.0, fresh, list(paths)),
            ("fresh, slow shop", args.shop_delay, fresh, list(paths)[:2]),
            ("stale", 0.0, stale, list(paths)[:2]),
            ("stale, slow shop", args.shop_delay, stale, list(paths)[:2]),
        ]
        # One refresh through Redis and the worker, until it is in the cache (before the stale
        # phases fill the worker's queue with refreshes).
        shop.delay = 0
        stale()
        asked = timezone.now()
        woo_refresh_request(customer_id=ticket.customer_id, connection=shop_connection)
        landed = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = WooCustomer.objects.get(pk=record.pk)
            if current.fetched_at and current.fetched_at >= asked:
                landed = (current.fetched_at - asked).total_seconds()
                break
            time.sleep(0.1)
        results["refresh_landed_seconds"] = landed
        for phase, delay, before, names in phases:
            shop.delay = delay
            shop.requests.clear()
            results[phase] = {
                name: measure(client, paths[name], args.requests, before=before) for name in names
            }
            results[phase]["shop_requests"] = len(shop.requests)
            print(f"{phase}: done ({len(shop.requests)} requests at the shop, from the worker)")
            if delay:
                time.sleep(delay + 5)  # the worker's refreshes against the slow shop end

        WooCommerceConnection.objects.filter(pk=shop_connection.pk).delete()

    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "when": datetime.now(UTC).isoformat(),
    }
    print(f"\n{args.orders} orders in the cache; the slow shop answers after {args.shop_delay} s")
    names = [p for p, _, _, _ in phases]
    header = ("page", *names, "queries", "< 30 ms")
    rows = []
    for name in paths:
        cells = [results[p].get(name) for p in names]
        medians = [c["ms_median"] for c in cells if c]
        rows.append(
            (
                name,
                *(f"{c['ms_median']} ms" if c else "—" for c in cells),
                " / ".join(str(c["queries"]) for c in cells if c),
                "ok" if max(medians) < 30 else "SLOW",
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        "shop requests while the pages were timed: "
        + ", ".join(f"{p} {results[p]['shop_requests']}" for p in names)
        + " (fresh: must be 0; stale: the worker's refreshes, never the page's)"
    )
    print(f"a refresh through Redis + worker landed after: {results['refresh_landed_seconds']} s")
    print(
        f"load average {load_start[0]:.2f} -> {results['machine']['load_average_end'][0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
