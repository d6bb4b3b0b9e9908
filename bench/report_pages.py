"""Report pages over 30 days of hourly snapshots, and the per-ticket export over 100,000 tickets.

1. fill: 30 days of snapshot rows (``reports.models``) for ``--agents`` agents (30) across the
   dimensions (5 channels x 3 departments x 3 group types x 6 subjects): in a working hour
   (08-20 local) each agent has ~5 rows of ticket figures (one per combination it touched), ~3 of
   activities, one of presence and sometimes a break; the pool (no agent) ~8 rows an hour; nights
   are quiet. Histograms carry a few values each, as the hourly job writes them.
2. pages: every report tab for 30 days, as staff and as an agent (server-side: Django's test
   client through the whole middleware stack, no network), median and p95 of ``--requests``,
   the query count, and the same for "today" (the count must be the same). Target < 100 ms median.
3. export: ``--tickets`` (100,000) tickets with a reply and an activity on every third one
   (COPY, bench/pages.py's filler), then the per-ticket export streamed as CSV and as XLSX through
   the view: rows/s and the process's resident memory before and at its peak while streaming.

    bench/run reports [--agents 30] [--days 30] [--requests 30] [--tickets 100000]

Run through bench/run (PostgreSQL, migrated, demo seeded); ``--url`` is accepted and not used.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import percentile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.pages import _copy, fill  # noqa: E402
from configuration.models import (  # noqa: E402
    ActivityCategory,
    BreakReason,
    ChannelKind,
    Department,
    GroupType,
    OperatorProfile,
    Subject,
)
from reports.histogram import hist_from  # noqa: E402
from reports.models import (  # noqa: E402
    HourlyActivityStat,
    HourlyAgentStat,
    HourlyBreakStat,
    HourlyTicketStat,
    StatsHour,
)
from reports.selectors import local_midnight  # noqa: E402
from tickets.models import Activity, Message, Ticket  # noqa: E402

TABS = ["", "agents/", "channels/", "activities/", "breaks/", "ratings/"]


def _named(model: Any, names: list[str], **extra: Any) -> list[int]:
    return [model.objects.get_or_create(name=name, defaults=extra)[0].pk for name in names]


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fill_snapshots(agents: int, days: int, seed: int = 12) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    users = []
    for i in range(agents):
        user, made = get_user_model().objects.get_or_create(
            username=f"rpagent{i:02d}", defaults={"first_name": f"Temsilci {i:02d}"}
        )
        if made:
            OperatorProfile.objects.get_or_create(user=user, defaults={"capacity": 5})
        users.append(user.pk)
    departments = _named(Department, ["Satış", "Destek", "Muhasebe"])
    groups = _named(GroupType, ["Sipariş", "İade", "Genel"])
    subjects = _named(Subject, [f"Konu {i}" for i in range(6)])
    reasons = _named(BreakReason, ["Yemek", "Çay", "Toplantı"], max_minutes=30)
    parents = _named(ActivityCategory, ["Question", "Incident", "Problem", "Feature Request"])
    subs = [
        ActivityCategory.objects.get_or_create(name=f"Alt {p}-{j}", defaults={"parent_id": p})[0].pk
        for p in parents
        for j in range(3)
    ]
    channels = [c for c, _label in ChannelKind.choices][:5]
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first = local_midnight(day=today - timedelta(days=days - 1), tz=tz)
    end = local_midnight(day=today + timedelta(days=1), tz=tz)
    hours = []
    h = first
    while h < end:
        hours.append(h)
        h += timedelta(hours=1)

    def dims():
        return (
            rng.choice(channels),
            rng.choice(departments),
            rng.choice(groups),
            rng.choice(subjects),
        )

    def ticket_rows():
        for hour in hours:
            busy = 8 <= hour.astimezone(tz).hour < 20
            owners: list[int | None] = [None] * (8 if busy else 2)
            for user in users:
                owners += [user] * (rng.randint(3, 7) if busy else rng.randint(0, 1))
            for owner in owners:
                channel, dept, group, subject = dims()
                n = rng.randint(1, 3)
                fr = [rng.randint(5, 900) for _ in range(n)] if owner else []
                res = [rng.randint(120, 20000) for _ in range(rng.randint(0, n))] if owner else []
                waits = [rng.randint(0, 600) for _ in range(n)] if owner is None else []
                stars = [rng.randint(1, 5) for _ in range(rng.randint(0, 1))] if owner else []
                yield (
                    hour, owner, channel, dept, group, subject,
                    n, n if owner else 0, len(res), int(rng.random() < 0.05),
                    n * 2, n * 2 if owner else 0,
                    int(rng.random() < 0.02),
                    len(fr), sum(fr), hist_from(fr),
                    len(res), sum(res), hist_from(res),
                    len(waits), sum(waits), max(waits, default=0), hist_from(waits),
                    len(stars), sum(stars), {str(s): 1 for s in stars},
                )  # fmt: skip

    made = {}
    with transaction.atomic():
        made["ticket_rows"] = _copy(
            HourlyTicketStat,
            ticket_rows(),
            [
                "hour", "agent_id", "channel", "department_id", "group_type_id", "subject_id",
                "created", "assigned", "resolved", "reopened", "messages_in", "messages_out",
                "offline_messages",
                "first_response_count", "first_response_seconds", "first_response_hist",
                "resolution_count", "resolution_seconds", "resolution_hist",
                "pool_wait_count", "pool_wait_seconds", "pool_wait_max", "pool_wait_hist",
                "rating_count", "rating_sum", "rating_hist",
            ],
        )  # fmt: skip

        def activity_rows():
            for hour in hours:
                if not 8 <= hour.astimezone(tz).hour < 20:
                    continue
                for user in users:
                    for _ in range(rng.randint(1, 5)):
                        channel, dept, group, subject = dims()
                        sub = rng.choice(subs)
                        parent = parents[subs.index(sub) // 3]
                        n = rng.randint(1, 3)
                        yield (hour, user, channel, dept, group, subject, parent, sub, n,
                               n * rng.randint(30, 600))  # fmt: skip

        made["activity_rows"] = _copy(
            HourlyActivityStat,
            activity_rows(),
            [
                "hour", "agent_id", "channel", "department_id", "group_type_id", "subject_id",
                "category_id", "subcategory_id", "count", "call_seconds",
            ],
        )  # fmt: skip

        def agent_rows():
            for hour in hours:
                busy = 8 <= hour.astimezone(tz).hour < 20
                for user in users:
                    if not busy:
                        continue
                    passive = rng.choice([0, 0, 0, 600, 1200])
                    active = 3600 - passive
                    yield (hour, user, active, passive, 0, rng.randint(0, active * 5), active * 5)

        made["agent_rows"] = _copy(
            HourlyAgentStat,
            agent_rows(),
            [
                "hour", "agent_id", "active_seconds", "passive_seconds", "away_seconds",
                "slot_seconds", "capacity_seconds",
            ],
        )  # fmt: skip

        def break_rows():
            for hour in hours:
                if not 8 <= hour.astimezone(tz).hour < 20:
                    continue
                for user in users:
                    if rng.random() < 0.25:
                        reason = rng.choice(reasons)
                        seconds = rng.randint(300, 2400)
                        yield (hour, user, reason, f"r{reason}", seconds, 1, int(seconds > 1800))

        made["break_rows"] = _copy(
            HourlyBreakStat,
            break_rows(),
            ["hour", "agent_id", "reason_id", "reason_text", "seconds", "started", "over_limit"],
        )
        now = datetime.now(UTC)
        made["hours"] = _copy(
            StatsHour, ((hour, now, 0) for hour in hours), ["hour", "computed_at", "took_ms"]
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    made["seconds"] = round(time.perf_counter() - started, 1)
    return made


def measure(client: Client, path: str, requests: int) -> dict[str, Any]:
    start = time.perf_counter()
    client.get(path)  # the first request of a period and filters fills the per-day cache
    cold = (time.perf_counter() - start) * 1000
    for _ in range(2):
        client.get(path)
    times = []
    cpu = []
    for _ in range(requests):
        start = time.perf_counter()
        cpu_start = time.process_time()
        response = client.get(path)
        cpu.append((time.process_time() - cpu_start) * 1000)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return {
        "status": response.status_code,
        "queries": len(queries.captured_queries),
        "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1),
        "ms_first": round(cold, 1),
        "ms_median": round(statistics.median(times), 1),
        "ms_p95": round(percentile(times, 95), 1),
        # This process's CPU (Python, Django, the cache client): not the database's, and
        # less disturbed than wall time by the other processes of a busy machine.
        "cpu_ms_median": round(statistics.median(cpu), 1),
    }


def export_tickets(tickets: int) -> dict[str, Any]:
    """Grow to ``tickets`` tickets (a reply each, an activity on every third) and stream exports."""
    have = Ticket.objects.count()
    out: dict[str, Any] = {}
    if have < tickets:
        out["fill"] = fill(tickets - have, 2 * (tickets - have))
        new = list(
            Ticket.objects.order_by("-pk").values_list("pk", "assignee_id")[: tickets - have]
        )
        category = ActivityCategory.objects.filter(parent__isnull=True).values_list("pk", flat=True)
        cat = category.first()
        now = datetime.now(UTC)
        with transaction.atomic():
            out["activities"] = _copy(
                Activity,
                (
                    (pk, "Kargo nerede", cat, "done", agent, 90 + pk % 300, now, now)
                    for pk, agent in new[::3]
                ),
                [
                    "ticket_id", "call_reason", "category_id", "status", "agent_id",
                    "call_seconds", "created_at", "done_at",
                ],
            )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    boss = get_user_model().objects.get(username="rpboss")
    client = Client()
    client.force_login(boss)
    query = f"?range=custom&start={(timezone.localdate() - timedelta(days=399)).isoformat()}"
    query += f"&end={timezone.localdate().isoformat()}"
    out["tickets_in_period"] = Ticket.objects.filter(
        created_at__gte=local_midnight(
            day=timezone.localdate() - timedelta(days=399), tz=timezone.get_current_timezone()
        )
    ).count()
    out["messages_total"] = Message.objects.count()
    for fmt in ("csv", "xlsx"):
        before = _rss_kb()
        peak = before
        start = time.perf_counter()
        response = client.get(f"/reports/tickets.{fmt}{query}")
        first_byte = None
        size = 0
        lines = 0
        for i, chunk in enumerate(response.streaming_content):
            if first_byte is None:
                first_byte = time.perf_counter() - start
            size += len(chunk)
            lines += chunk.count(b"\n") if fmt == "csv" else 0
            if i % 2000 == 0:
                peak = max(peak, _rss_kb())
        took = time.perf_counter() - start
        peak = max(peak, _rss_kb())
        rows = lines - 1 if fmt == "csv" else out["tickets_in_period"]
        out[fmt] = {
            "status": response.status_code,
            "rows": rows,
            "bytes": size,
            "seconds": round(took, 2),
            "first_byte_s": round(first_byte or 0, 3),
            "rows_per_s": round(rows / took),
            "rss_before_mb": round(before / 1024, 1),
            "rss_peak_mb": round(peak / 1024, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="unused (bench/run passes it)")
    parser.add_argument("--out", default="bench/results/reports.json")
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--skip-fill", action="store_true", help="the snapshots are there already")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/report_pages.py needs PostgreSQL: run it through bench/run reports")
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    if not args.skip_fill:
        print(f"filling {args.days} days of snapshots for {args.agents} agents...")
        results["fill"] = fill_snapshots(args.agents, args.days)
        print(f"  {results['fill']}")
    boss, _ = get_user_model().objects.get_or_create(username="rpboss", defaults={"is_staff": True})
    agent = get_user_model().objects.get(username="rpagent00")
    results["pages"] = {}
    rows = []
    for who, user in (("staff", boss), ("agent", agent)):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for tab in TABS:
            name = f"{tab or 'overview/'} ({who})"
            month = measure(client, f"/reports/{tab}?range=30d", args.requests)
            today = measure(client, f"/reports/{tab}?range=today", max(5, args.requests // 3))
            results["pages"][name] = {"30d": month, "today": today}
            verdict = "ok" if month["ms_median"] < 100 and month["status"] == 200 else "SLOW"
            same = "same" if month["queries"] == today["queries"] else "DIFFERS"
            rows.append(
                (
                    name,
                    f"{month['queries']} q ({month['sql_ms']:g} ms SQL)",
                    f"{month['ms_first']} ms",
                    f"{month['ms_median']} ms",
                    f"{month['ms_p95']} ms",
                    f"{month['cpu_ms_median']} ms",
                    f"{today['queries']} q / {today['ms_median']} ms",
                    same,
                    verdict,
                )
            )
    header = (
        "page",
        "30 days: queries",
        "first",
        "median",
        "p95",
        "CPU median",
        "today",
        "queries",
        "< 100 ms",
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
    print(f"exporting {args.tickets:,} tickets...")
    results["export"] = export_tickets(args.tickets)
    for fmt in ("csv", "xlsx"):
        e = results["export"][fmt]
        print(
            f"  {fmt}: {e['rows']:,} rows in {e['seconds']} s = {e['rows_per_s']:,} rows/s, "
            f"first byte {e['first_byte_s']} s, RSS {e['rss_before_mb']} -> {e['rss_peak_mb']} MB"
        )
    results["load_after"] = os.getloadavg()
    results["when"] = datetime.now(UTC).isoformat()
    print(f"load average: {results['load_before']} -> {results['load_after']}")
    with open(args.out, "w") as out:
        json.dump(results, out, indent=2, default=str)


if __name__ == "__main__":
    main()
