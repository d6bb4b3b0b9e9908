"""The hourly statistics job (reports/services.py) over a big PostgreSQL database.

1. fill: 100,000 tickets and 1,000,000 messages over the last 30 days (COPY), 30 agents: each
   ticket is assigned from the pool a few minutes after it arrives (assignment event), answered,
   resolved by its agent (status event; one in twenty is reopened and resolved again), a third
   carry a done activity with call time, a fifth are rated; every agent works an 8-hour shift a
   day (presence log: active, a lunch break, an away spell) with breaks in the break log.
2. hour: ``stats_hour_compute`` of several busy hours, each timed (target: < 2 s).
3. backfill: ``stats_backfill`` over the 30 days (720+ hours; target: < 1 minute).

    bench/run stats [--tickets N] [--messages M] [--days D] [--hours H]

Run through bench/run (it starts PostgreSQL, migrates and seeds the demo); ``--url`` is
accepted for bench/run's sake and not used. Without DATABASE_URL it refuses to run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.pages import _copy  # noqa: E402
from configuration.models import (  # noqa: E402
    ActivityCategory,
    BreakReason,
    ChannelAccount,
    OperatorProfile,
)
from customers.models import Customer  # noqa: E402
from reports.models import HourlyAgentStat, HourlyTicketStat, StatsHour  # noqa: E402
from reports.services import hour_floor, stats_backfill, stats_hour_compute  # noqa: E402
from tickets.models import (  # noqa: E402
    PRIORITY_RANK,
    Activity,
    BreakLog,
    Message,
    PresenceLog,
    Ticket,
    TicketEvent,
)

AGENTS = 30


def _agents() -> list[int]:
    users = get_user_model().objects
    ids = []
    for i in range(AGENTS):
        user, made = users.get_or_create(username=f"statsagent{i}")
        if made:
            OperatorProfile.objects.create(user=user, capacity=5)
        ids.append(user.pk)
    return ids


def fill(tickets: int, messages: int, days: int, seed: int = 12) -> dict[str, Any]:
    rng = random.Random(seed)
    began = time.perf_counter()
    now = timezone.now()
    start = hour_floor(now) - timedelta(days=days)
    agents = _agents()
    accounts = list(ChannelAccount.objects.order_by("pk").values_list("pk", "kind"))
    lunch = BreakReason.objects.get_or_create(name="Bench lunch", defaults={"max_minutes": 30})[0]
    category = ActivityCategory.objects.get_or_create(name="Bench question")[0]
    per = messages // tickets
    step = (now - start - timedelta(hours=2)) / tickets
    with transaction.atomic():
        first_customer = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
        _copy(
            Customer,
            ((f"Stats {i}", now, now) for i in range(tickets // 10)),
            ["name", "created_at", "updated_at"],
        )
        customers = list(
            Customer.objects.filter(pk__gt=first_customer or 0).values_list("pk", flat=True)
        )
        plan = []
        for t in range(tickets):
            created = start + step * t
            agent = agents[t % AGENTS]
            assigned = created + timedelta(seconds=rng.randint(5, 900))
            resolved = assigned + timedelta(minutes=rng.randint(5, 240))
            plan.append((created, agent, assigned, resolved, rng.random() < 0.05))
        first_ticket = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        made = _copy(
            Ticket,
            (
                (
                    "resolved",
                    "medium",
                    PRIORITY_RANK["medium"],
                    accounts[t % len(accounts)][1],
                    accounts[t % len(accounts)][0],
                    customers[t % len(customers)],
                    agent,
                    created,
                    resolved,
                    resolved,
                    created,
                    assigned,
                    t % 9 == 0,
                    resolved,
                    rng.randint(1, 5) if t % 5 == 0 else None,
                    resolved + timedelta(minutes=1) if t % 5 == 0 else None,
                )
                for t, (created, agent, assigned, resolved, _r) in enumerate(plan)
            ),
            [
                "status",
                "priority",
                "priority_rank",
                "source",
                "channel_account_id",
                "customer_id",
                "assignee_id",
                "created_at",
                "updated_at",
                "resolved_at",
                "pool_entered_at",
                "assigned_at",
                "is_offline",
                "last_message_at",
                "rating",
                "rated_at",
            ],
        )
        ids = list(
            Ticket.objects.filter(pk__gt=first_ticket).order_by("pk").values_list("pk", flat=True)
        )

        def events():
            for t, (_created, agent, assigned, resolved, reopen) in enumerate(plan):
                yield ids[t], "assignee", {"old": None, "new": agent}, assigned, None
                if reopen:
                    middle = assigned + (resolved - assigned) / 2
                    yield ids[t], "status", {"old": "open", "new": "resolved"}, middle, agent
                    yield (
                        ids[t],
                        "status",
                        {"old": "resolved", "new": "open"},
                        middle + timedelta(minutes=1),
                        None,
                    )
                yield ids[t], "status", {"old": "open", "new": "resolved"}, resolved, agent

        made_events = _copy(
            TicketEvent, events(), ["ticket_id", "kind", "data", "created_at", "actor_id"]
        )

        def message_rows():
            for t, (created, agent, _assigned, resolved, _r) in enumerate(plan):
                gap = (resolved - created) / per
                for m in range(per):
                    when = created + gap * m
                    inbound = m % 2 == 0
                    yield (
                        ids[t],
                        accounts[t % len(accounts)][0],
                        "in" if inbound else "out",
                        None if inbound else agent,
                        "bench",
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
        _copy(
            Activity,
            (
                (
                    "Bench",
                    category.pk,
                    "done",
                    plan[t][1],
                    rng.randint(30, 900),
                    plan[t][3],
                    ids[t],
                    plan[t][3],
                )
                for t in range(0, tickets, 3)
            ),
            [
                "call_reason",
                "category_id",
                "status",
                "agent_id",
                "call_seconds",
                "done_at",
                "ticket_id",
                "created_at",
            ],
        )

        def shifts(kind: str):
            for d in range(days + 1):
                day = start + timedelta(days=d)
                for a, agent in enumerate(agents):
                    begin = day + timedelta(hours=6 + a % 10)
                    lunch_at = begin + timedelta(hours=4)
                    lunch_end = lunch_at + timedelta(minutes=rng.randint(20, 45))
                    away_end = lunch_end + timedelta(minutes=10)
                    end = begin + timedelta(hours=8)
                    if end > now:
                        continue
                    if kind == "breaks":
                        yield agent, lunch.pk, lunch.name, lunch_at, lunch_end
                        continue
                    yield agent, "active", None, "", begin, lunch_at
                    yield agent, "passive", lunch.pk, lunch.name, lunch_at, lunch_end
                    yield agent, "away", None, "", lunch_end, away_end
                    yield agent, "active", None, "", away_end, end

        _copy(
            PresenceLog,
            shifts("presence"),
            ["agent_id", "state", "reason_id", "reason_text", "started_at", "ended_at"],
        )
        _copy(
            BreakLog,
            shifts("breaks"),
            ["agent_id", "reason_id", "reason_text", "started_at", "ended_at"],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "tickets": made,
        "messages": made_messages,
        "events": made_events,
        "from": start.isoformat(),
        "seconds": round(time.perf_counter() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="unused (bench/run passes it)")
    parser.add_argument("--out", default="bench/results/stats.json")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--hours", type=int, default=10, help="single hours to time")
    parser.add_argument("--skip-fill", action="store_true", help="the database is big already")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/stats.py needs PostgreSQL: run it through bench/run stats")
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    if not args.skip_fill:
        print(
            f"filling {args.tickets:,} tickets and {args.messages:,} messages "
            f"over {args.days} days..."
        )
        results["fill"] = fill(args.tickets, args.messages, args.days)
        print(f"  done in {results['fill']['seconds']} s")
    print(f"database: {Ticket.objects.count():,} tickets, {Message.objects.count():,} messages")

    now = timezone.now()
    noon = hour_floor(now).replace(hour=12)  # every agent's shift is on at 12:00 UTC
    busy = [noon - timedelta(days=d) for d in range(1, args.hours + 1)]
    times = []
    for hour in busy:
        began = time.perf_counter()
        stats_hour_compute(hour=hour)
        times.append(time.perf_counter() - began)
    rows = HourlyTicketStat.objects.filter(hour__in=busy).count()
    results["hour"] = {
        "hours": len(busy),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "rows": rows,
    }
    print(
        f"one hour: median {results['hour']['median_s']} s, "
        f"max {results['hour']['max_s']} s over {len(busy)} hours ({rows} ticket rows)"
    )

    last = timezone.localdate(now)
    first = last - timedelta(days=args.days - 1)
    began = time.perf_counter()
    hours = sum(n for _day, n in stats_backfill(first=first, last=last))
    took = time.perf_counter() - began
    results["backfill"] = {
        "days": args.days,
        "hours": hours,
        "seconds": round(took, 1),
        "ms_per_hour": round(1000 * took / max(hours, 1), 1),
        "ticket_rows": HourlyTicketStat.objects.count(),
        "agent_rows": HourlyAgentStat.objects.count(),
        "stats_hours": StatsHour.objects.count(),
    }
    print(
        f"backfill {first}..{last}: {hours} hours in {results['backfill']['seconds']} s "
        f"({results['backfill']['ms_per_hour']} ms/hour), "
        f"{results['backfill']['ticket_rows']:,} ticket rows, "
        f"{results['backfill']['agent_rows']:,} agent rows"
    )
    results["load_after"] = os.getloadavg()
    results["when"] = datetime.now(UTC).isoformat()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    print(
        "targets: one hour < 2 s: "
        + ("ok" if results["hour"]["max_s"] < 2 else "MISSED")
        + "; 30-day backfill < 60 s: "
        + ("ok" if took < 60 else "MISSED")
    )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, default=str)


if __name__ == "__main__":
    main()
