"""Writing the hourly statistics snapshots (``reports.models``): the only writer of those tables.

``stats_hour_compute(hour=...)`` replaces one hour's rows; ``stats_range_compute`` does the same
for a run of whole hours with the same fixed number of queries (a backfill computes a day at a
time); ``stats_refresh`` is the periodic job; ``stats_backfill`` the management command's.

An hour is ``[hour, hour + 1 h)`` in UTC. What each figure means (``HourlyTicketStat`` rows are cut
by agent, channel = the ticket's source, and the ticket's department, group type and subject as
they are when the hour is computed):

- ``created``: tickets created in the hour; agent = the assignee at the end of the hour (the last
  assignment event before it), else none. ``offline_messages``: of those, ``is_offline`` ones.
- ``assigned``: assignment events (``TicketEvent`` "assignee") to an agent in the hour; agent =
  the new assignee. ``pool_wait_*``: of those, the ones from the pool (no previous agent):
  ``Ticket.pool_entered_at`` -> the assignment (skipped when the ticket entered the pool again
  later, since its earlier entry is not kept).
- ``resolved``: status events in the hour into resolved or closed from a status that was neither;
  agent = who did it, else the ticket's assignee. ``resolution_*``: ticket created -> that event.
- ``reopened``: status events in the hour from resolved or closed to any other status; agent =
  the ticket's assignee.
- ``messages_in``: customer messages sent in the hour (agent = the ticket's assignee);
  ``messages_out``: replies written by an agent (an author, not automatic) in the hour (agent =
  the author). Notes and system lines count in neither.
- ``first_response_*``: a ticket's first agent-written, non-automatic reply falls in the hour:
  ticket created -> that reply; agent = who replied. Found in SQL (no earlier such reply).
- ``rating_*``: tickets rated in the hour (``rated_at``); agent = the ticket's assignee.
- ``HourlyActivityStat``: activities marked done in the hour, by category and subcategory, with
  their call seconds; agent = the activity's agent.
- ``HourlyAgentStat``: ``PresenceLog`` intervals clipped to the hour (an open one ends now):
  seconds active, passive, away. ``slot_seconds``: the agent's assignment intervals (from one
  assignment event to the ticket's next one, or, for the last, to when the ticket left
  open/pending: resolved, closed or otherwise its last update; still open: now) clipped to the
  hour, counting at most ``capacity`` tickets at any moment. ``capacity_seconds`` = capacity
  (``OperatorProfile``, today's) x active seconds. A row for every agent who was in a logged
  state or held a ticket in the hour.
- ``HourlyBreakStat``: ``BreakLog`` intervals clipped to the hour, per agent and reason (a break
  over midnight lands in both days). ``started``: breaks that began in the hour;
  ``over_limit``: of those, the ones longer (so far, for one still going) than the reason's
  ``max_minutes``. BreakLog, not the passive rows of PresenceLog: both are written together by
  ``tickets.presence`` today, but BreakLog is the break record from before PresenceLog existed
  (older data has only it) and the one the break list reads, so reports agree with that page.

Reads are a fixed number of queries per computed range, whatever the volume: the message counts
and the activity figures are grouped in SQL by hour and dimensions; the event rows (created,
status, assignment, first reply, rating, presence, break) are read once each and folded here.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Window
from django.db.models.functions import Lead, TruncHour
from django.utils import timezone

from configuration.models import BreakReason, OperatorProfile
from reports.histogram import hist_add
from reports.models import (
    HourlyActivityStat,
    HourlyAgentStat,
    HourlyBreakStat,
    HourlyTicketStat,
    StatsHour,
)
from tickets.models import (
    FINAL_STATUSES,
    SLOT_STATUSES,
    Activity,
    BreakLog,
    Message,
    PresenceLog,
    PresenceState,
    Ticket,
    TicketEvent,
)

HOUR = timedelta(hours=1)
DEFAULT_CAPACITY = 5  # OperatorProfile.capacity's default, for an agent without a profile
_FINAL = {str(s) for s in FINAL_STATUSES}
_SLOT = {str(s) for s in SLOT_STATUSES}

# (hour, agent_id, channel, department_id, group_type_id, subject_id)
DimKey = tuple[datetime, int | None, str, int | None, int | None, int | None]


def hour_floor(moment: datetime) -> datetime:
    """The start (UTC) of the clock hour ``moment`` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hours(start: datetime, end: datetime) -> list[datetime]:
    hours, h = [], start
    while h < end:
        hours.append(h)
        h += HOUR
    return hours


def _clip(
    a: datetime, b: datetime, start: datetime, end: datetime
) -> Iterator[tuple[datetime, int]]:
    """(hour, seconds) of the interval ``[a, b)`` in each hour of ``[start, end)``."""
    a, b = max(a, start), min(b, end)
    h = hour_floor(a) if a > start else start
    while h < b:
        seconds = int((min(b, h + HOUR) - max(a, h)).total_seconds())
        if seconds > 0:
            yield h, seconds
        h += HOUR


@dataclass
class _TicketRow:
    created: int = 0
    assigned: int = 0
    resolved: int = 0
    reopened: int = 0
    messages_in: int = 0
    messages_out: int = 0
    offline_messages: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    pool_wait: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)

    def to_model(self, key: DimKey) -> HourlyTicketStat:
        hour, agent, channel, department, group_type, subject = key
        row = HourlyTicketStat(
            hour=hour,
            agent_id=agent,
            channel=channel,
            department_id=department,
            group_type_id=group_type,
            subject_id=subject,
            created=self.created,
            assigned=self.assigned,
            resolved=self.resolved,
            reopened=self.reopened,
            messages_in=self.messages_in,
            messages_out=self.messages_out,
            offline_messages=self.offline_messages,
        )
        for name, values in (
            ("first_response", self.first_response),
            ("resolution", self.resolution),
            ("pool_wait", self.pool_wait),
        ):
            hist: dict[str, int] = {}
            for value in values:
                hist_add(hist, value)
            setattr(row, f"{name}_count", len(values))
            setattr(row, f"{name}_seconds", int(sum(values)))
            setattr(row, f"{name}_hist", hist)
        row.pool_wait_max = int(max(self.pool_wait, default=0))
        row.rating_count = len(self.ratings)
        row.rating_sum = sum(self.ratings)
        rating_hist: dict[str, int] = {}
        for rating in self.ratings:
            rating_hist[str(rating)] = rating_hist.get(str(rating), 0) + 1
        row.rating_hist = rating_hist
        return row


_DIMS = ("ticket__source", "ticket__department_id", "ticket__group_type_id", "ticket__subject_id")
_OWN_DIMS = ("source", "department_id", "group_type_id", "subject_id")


def _key(
    hour: datetime, agent: int | None, row: dict[str, Any], prefix: str = "ticket__"
) -> DimKey:
    return (
        hour,
        agent,
        row[f"{prefix}source"],
        row[f"{prefix}department_id"],
        row[f"{prefix}group_type_id"],
        row[f"{prefix}subject_id"],
    )


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds())


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _ticket_figures(start: datetime, end: datetime) -> dict[DimKey, _TicketRow]:
    rows: dict[DimKey, _TicketRow] = defaultdict(_TicketRow)

    # Created (and offline): the assignee at the end of the hour is the last assignment event
    # of the ticket before then; the ticket's events in the range are read in the same pass.
    created = list(
        Ticket.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("id", "created_at", "is_offline", *_OWN_DIMS)
    )
    assignments_of: dict[int, list[tuple[datetime, int | None]]] = defaultdict(list)
    for event in (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.ASSIGNEE,
            created_at__gte=start,
            created_at__lt=end + HOUR,
            ticket__created_at__gte=start,
            ticket__created_at__lt=end,
        )
        .order_by("created_at", "id")
        .values_list("ticket_id", "created_at", "data")
    ):
        assignments_of[event[0]].append((event[1], _as_int((event[2] or {}).get("new"))))
    for ticket in created:
        h = hour_floor(ticket["created_at"])
        agent = None
        for at, new in assignments_of.get(ticket["id"], ()):
            if at >= h + HOUR:
                break
            agent = new
        row = rows[_key(h, agent, ticket, prefix="")]
        row.created += 1
        row.offline_messages += int(ticket["is_offline"])

    # Assignments and pool waits.
    for event in (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.ASSIGNEE, created_at__gte=start, created_at__lt=end
        )
        .order_by()
        .values("created_at", "data", "ticket__pool_entered_at", *_DIMS)
    ):
        data = event["data"] or {}
        agent = _as_int(data.get("new"))
        if agent is None:
            continue
        row = rows[_key(hour_floor(event["created_at"]), agent, event)]
        row.assigned += 1
        entered = event["ticket__pool_entered_at"]
        if data.get("old") is None and entered is not None and entered <= event["created_at"]:
            row.pool_wait.append(_seconds(event["created_at"], entered))

    # Resolved and reopened.
    for event in (
        TicketEvent.objects.filter(
            kind=TicketEvent.Kind.STATUS, created_at__gte=start, created_at__lt=end
        )
        .order_by()
        .values(
            "created_at", "data", "actor_id", "ticket__assignee_id", "ticket__created_at", *_DIMS
        )
    ):
        data = event["data"] or {}
        old_status, new_status = str(data.get("old")), str(data.get("new"))
        h = hour_floor(event["created_at"])
        if new_status in _FINAL and old_status not in _FINAL:
            agent = event["actor_id"] or event["ticket__assignee_id"]
            row = rows[_key(h, agent, event)]
            row.resolved += 1
            row.resolution.append(_seconds(event["created_at"], event["ticket__created_at"]))
        elif old_status in _FINAL and new_status not in _FINAL:
            rows[_key(h, event["ticket__assignee_id"], event)].reopened += 1

    # Messages in and out, grouped in SQL.
    replies = Q(direction=Message.Direction.OUTBOUND, author__isnull=False, is_automatic=False)
    for group in (
        Message.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .filter(Q(direction=Message.Direction.INBOUND) | replies)
        .annotate(h=TruncHour("sent_at", tzinfo=UTC))
        .order_by()
        .values("h", "direction", "author_id", "ticket__assignee_id", *_DIMS)
        .annotate(n=Count("id"))
    ):
        h = group["h"].astimezone(UTC)
        if group["direction"] == Message.Direction.INBOUND:
            rows[_key(h, group["ticket__assignee_id"], group)].messages_in += group["n"]
        else:
            rows[_key(h, group["author_id"], group)].messages_out += group["n"]

    # First responses: a reply with no earlier reply on its ticket.
    earlier = Message.objects.filter(replies, ticket_id=OuterRef("ticket_id")).filter(
        Q(sent_at__lt=OuterRef("sent_at")) | Q(sent_at=OuterRef("sent_at"), id__lt=OuterRef("id"))
    )
    for reply in (
        Message.objects.filter(replies, sent_at__gte=start, sent_at__lt=end)
        .filter(~Exists(earlier))
        .order_by()
        .values("sent_at", "author_id", "ticket__created_at", *_DIMS)
    ):
        row = rows[_key(hour_floor(reply["sent_at"]), reply["author_id"], reply)]
        row.first_response.append(_seconds(reply["sent_at"], reply["ticket__created_at"]))

    # Ratings.
    for ticket in (
        Ticket.objects.filter(rated_at__gte=start, rated_at__lt=end, rating__isnull=False)
        .order_by()
        .values("rated_at", "rating", "assignee_id", *_OWN_DIMS)
    ):
        row = rows[_key(hour_floor(ticket["rated_at"]), ticket["assignee_id"], ticket, prefix="")]
        row.ratings.append(ticket["rating"])
    return rows


def _activity_figures(start: datetime, end: datetime) -> list[HourlyActivityStat]:
    return [
        HourlyActivityStat(
            hour=group["h"].astimezone(UTC),
            agent_id=group["agent_id"],
            channel=group["ticket__source"],
            department_id=group["ticket__department_id"],
            group_type_id=group["ticket__group_type_id"],
            subject_id=group["ticket__subject_id"],
            category_id=group["category_id"],
            subcategory_id=group["subcategory_id"],
            count=group["n"],
            call_seconds=group["call"] or 0,
        )
        for group in Activity.objects.filter(
            status=Activity.Status.DONE, done_at__gte=start, done_at__lt=end
        )
        .annotate(h=TruncHour("done_at", tzinfo=UTC))
        .order_by()
        .values("h", "agent_id", "category_id", "subcategory_id", *_DIMS)
        .annotate(n=Count("id"), call=Sum("call_seconds"))
    ]


def _overlapping(model: Any, start: datetime, end: datetime) -> Any:
    return model.objects.filter(started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )


def _event_intervals(
    kind: str, start: datetime, end: datetime
) -> Iterable[tuple[int, Any, datetime, datetime | None]]:
    """(ticket, data, from, until) of ``kind`` events of the tickets changed since ``start``:
    each lasts until the ticket's next event of that kind (None: still); only those overlapping
    ``[start, end)``."""
    return (
        # Tickets changed since ``start`` (every change moves ``updated_at``); the others are
        # as they are now all through the range (``_steady_slots``).
        TicketEvent.objects.filter(kind=kind, created_at__lt=end, ticket__updated_at__gte=start)
        .annotate(
            next_at=Window(
                Lead("created_at"),
                partition_by=[F("ticket_id")],
                order_by=[F("created_at").asc(), F("id").asc()],
            )
        )
        .filter(Q(next_at__isnull=True) | Q(next_at__gt=start))
        .order_by()
        .values_list("ticket_id", "data", "created_at", "next_at")
    )


def _minus(
    span: tuple[datetime, datetime], holes: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """``span`` less the ``holes`` in it."""
    pieces = [span]
    for hole_a, hole_b in holes:
        pieces = [
            piece
            for a, b in pieces
            for piece in ((a, min(b, hole_a)), (max(a, hole_b), b))
            if piece[0] < piece[1]
        ]
    return pieces


def _capped_seconds(intervals: list[tuple[datetime, datetime]], capacity: int) -> int:
    """Seconds of ``intervals`` summed, counting at most ``capacity`` of them at any moment."""
    if len(intervals) <= capacity:
        return int(sum((b - a).total_seconds() for a, b in intervals))
    edges = sorted([(a, 1) for a, _b in intervals] + [(b, -1) for _a, b in intervals])
    total, level, last = 0.0, 0, edges[0][0]
    for moment, step in edges:
        total += min(level, capacity) * (moment - last).total_seconds()
        level, last = level + step, moment
    return int(total)


def _agent_figures(
    start: datetime, end: datetime, now: datetime
) -> tuple[list[HourlyAgentStat], list[HourlyBreakStat]]:
    horizon = min(end, now)
    states: dict[tuple[datetime, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for agent_id, state, a, b in _overlapping(PresenceLog, start, end).values_list(
        "agent_id", "state", "started_at", "ended_at"
    ):
        for h, seconds in _clip(a, b or now, start, horizon):
            states[(h, agent_id)][state] += seconds

    # Assignment intervals (each assignment event to the ticket's next one) less the times the
    # ticket was out of open/pending (each status event to the next): two SQL windows.
    off: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for ticket_id, data, a, b in _event_intervals(TicketEvent.Kind.STATUS, start, end):
        if str((data or {}).get("new")) not in _SLOT:
            off[ticket_id].append((a, b or now))
    slots: dict[tuple[datetime, int], list[tuple[datetime, datetime]]] = defaultdict(list)
    for ticket_id, data, a, b in _event_intervals(TicketEvent.Kind.ASSIGNEE, start, end):
        agent = _as_int((data or {}).get("new"))
        if agent is None:
            continue
        for piece_a, piece_b in _minus((a, b or now), off.get(ticket_id, [])):
            for h, _secs in _clip(piece_a, piece_b, start, horizon):
                slots[(h, agent)].append((max(piece_a, h), min(piece_b, h + HOUR, horizon)))

    # Tickets unchanged since before the range, open or pending and assigned: a slot all along.
    for agent in Ticket.objects.filter(
        status__in=_SLOT, assignee__isnull=False, updated_at__lt=start, created_at__lt=start
    ).values_list("assignee_id", flat=True):
        for h, _secs in _clip(start, horizon, start, horizon):
            slots[(h, agent)].append((h, min(h + HOUR, horizon)))

    agents = {agent for _h, agent in states} | {agent for _h, agent in slots}
    capacity = dict(
        OperatorProfile.objects.filter(user_id__in=agents).values_list("user_id", "capacity")
    )
    agent_rows = []
    for key in sorted(set(states) | set(slots)):
        h, agent = key
        in_state = states.get(key, {})
        cap = capacity.get(agent, DEFAULT_CAPACITY)
        active = in_state.get(PresenceState.ACTIVE, 0)
        agent_rows.append(
            HourlyAgentStat(
                hour=h,
                agent_id=agent,
                active_seconds=active,
                passive_seconds=in_state.get(PresenceState.PASSIVE, 0),
                away_seconds=in_state.get(PresenceState.AWAY, 0),
                slot_seconds=_capped_seconds(slots.get(key, []), cap),
                capacity_seconds=cap * active,
            )
        )

    breaks: dict[tuple[datetime, int, int | None, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    limits = dict(BreakReason.objects.values_list("id", "max_minutes"))
    for agent_id, reason_id, text, a, b in _overlapping(BreakLog, start, end).values_list(
        "agent_id", "reason_id", "reason_text", "started_at", "ended_at"
    ):
        for h, seconds in _clip(a, b or now, start, horizon):
            breaks[(h, agent_id, reason_id, text)][0] += seconds
        if start <= a < end:
            figures = breaks[(hour_floor(a), agent_id, reason_id, text)]
            figures[1] += 1
            limit = limits.get(reason_id) if reason_id is not None else None
            if limit is not None and _seconds(b or now, a) > limit * 60:
                figures[2] += 1
    break_rows = [
        HourlyBreakStat(
            hour=h,
            agent_id=agent,
            reason_id=reason,
            reason_text=text,
            seconds=seconds,
            started=started,
            over_limit=over,
        )
        for (h, agent, reason, text), (seconds, started, over) in sorted(
            breaks.items(), key=lambda item: (item[0][0], item[0][1], item[0][3])
        )
    ]
    return agent_rows, break_rows


def _check_hour(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        raise ValueError("an hour must be an aware datetime")
    moment = moment.astimezone(UTC)
    if moment != hour_floor(moment):
        raise ValueError(f"{moment.isoformat()} is not the start of an hour")
    return moment


@transaction.atomic
def stats_range_compute(
    *, start: datetime, end: datetime, now: datetime | None = None
) -> list[datetime]:
    """Replace the snapshot rows of every hour in ``[start, end)`` (whole UTC hours) and mark
    them computed; returns the hours. One transaction; a fixed number of queries."""
    began = time.monotonic()
    start, end = _check_hour(start), _check_hour(end)
    now = now or timezone.now()
    hours = _hours(start, end)
    if not hours:
        return []
    for model in (HourlyTicketStat, HourlyActivityStat, HourlyAgentStat, HourlyBreakStat):
        model.objects.filter(hour__gte=start, hour__lt=end).delete()
    ticket_rows = _ticket_figures(start, end)
    HourlyTicketStat.objects.bulk_create(
        (ticket_rows[key].to_model(key) for key in sorted(ticket_rows, key=_sort_key)),
        batch_size=1000,
    )
    HourlyActivityStat.objects.bulk_create(_activity_figures(start, end), batch_size=1000)
    agent_rows, break_rows = _agent_figures(start, end, now)
    HourlyAgentStat.objects.bulk_create(agent_rows, batch_size=1000)
    HourlyBreakStat.objects.bulk_create(break_rows, batch_size=1000)
    took = int((time.monotonic() - began) * 1000 / len(hours))
    StatsHour.objects.bulk_create(
        [StatsHour(hour=h, computed_at=now, took_ms=took) for h in hours],
        update_conflicts=True,
        unique_fields=["hour"],
        update_fields=["computed_at", "took_ms"],
    )
    return hours


def _sort_key(key: DimKey) -> tuple[Any, ...]:
    return tuple((value is None, value) for value in key)


def stats_hour_compute(*, hour: datetime, now: datetime | None = None) -> None:
    """Replace one hour's rows in all four tables and upsert its ``StatsHour`` (idempotent)."""
    hour = _check_hour(hour)
    stats_range_compute(start=hour, end=hour + HOUR, now=now)


def stats_refresh(*, now: datetime | None = None, catch_up: int | None = None) -> list[datetime]:
    """The periodic job: every finished hour not computed since it ended, from the newest
    finished one (a missed hour is filled; at most ``catch_up`` per run, the rest next run),
    then the current hour again so the homepage is fresh. Returns the hours computed."""
    now = now or timezone.now()
    catch_up = catch_up or settings.OMNICO_STATS_CATCH_UP_HOURS
    current = hour_floor(now)
    final = (
        StatsHour.objects.filter(hour__lt=current, computed_at__gte=F("hour") + HOUR)
        .order_by("-hour")
        .values_list("hour", flat=True)
        .first()
    )
    if final is not None:
        first = final + HOUR
    else:
        oldest = Ticket.objects.order_by("created_at").values_list("created_at", flat=True).first()
        first = hour_floor(oldest) if oldest is not None else current
    stop = min(current, first + catch_up * HOUR)
    computed: list[datetime] = []
    for chunk_start in range(0, len(_hours(first, stop)), 24):
        a = first + chunk_start * HOUR
        computed += stats_range_compute(start=a, end=min(stop, a + 24 * HOUR), now=now)
    for hour in _hours_of_breaks_since_computed(before=first, now=now):
        computed += stats_range_compute(start=hour, end=hour + HOUR, now=now)
    if stop == current:  # caught up: the current hour too
        computed += stats_range_compute(start=current, end=current + HOUR, now=now)
    return computed


def _hours_of_breaks_since_computed(*, before: datetime, now: datetime) -> list[datetime]:
    """Finished hours (of the last day, before ``before``) in which a break began that was still
    going when the hour was computed: its ``over_limit`` may have changed since (two queries)."""
    starts = list(
        BreakLog.objects.filter(started_at__gte=now - timedelta(days=1), started_at__lt=before)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")))
        .values_list("started_at", "ended_at")
    )
    computed = dict(
        StatsHour.objects.filter(hour__in={hour_floor(a) for a, _b in starts}).values_list(
            "hour", "computed_at"
        )
    )
    return sorted(
        {
            hour_floor(a)
            for a, b in starts
            if hour_floor(a) in computed and (b is None or b > computed[hour_floor(a)])
        }
    )


def local_day_bounds(day: date, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight of ``day`` (``TIME_ZONE``), in UTC: 24 hours,
    or 23/25 on a daylight-saving day."""
    tz = tz or ZoneInfo(settings.TIME_ZONE)
    first = datetime.combine(day, dtime(0), tzinfo=tz).astimezone(UTC)
    last = datetime.combine(day + timedelta(days=1), dtime(0), tzinfo=tz).astimezone(UTC)
    return first, last


def stats_backfill(
    *, first: date, last: date, now: datetime | None = None
) -> Iterable[tuple[date, int]]:
    """Recompute every hour from local midnight of ``first`` to the local midnight ending
    ``last`` (both days included), a day per transaction; yields (day, hours) as it goes."""
    if last < first:
        raise ValueError("the last day is before the first")
    day = first
    while day <= last:
        start, end = local_day_bounds(day)
        # A zone whose offset is not whole hours: the hours that touch the day.
        start = hour_floor(start)
        end = hour_floor(end) + (HOUR if end != hour_floor(end) else timedelta(0))
        yield day, len(stats_range_compute(start=start, end=end, now=now))
        day += timedelta(days=1)
