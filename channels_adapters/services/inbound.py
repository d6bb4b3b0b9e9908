"""Inbound events: store the raw body once, queue its ingest (the kick), sweep what is stuck.

The webhook or poller stores the raw body with ``event_record``; after commit ``ingest_kick``
queues an ``ingest_pending`` task, which works the pending events with
``events_ingest_pending`` and hands them to ``channels_adapters.services.ingest``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from channels_adapters.models import InboundEvent
from channels_adapters.services.ingest import _ingest_together, event_ingest
from configuration.models import ChannelAccount
from omnico.core.db import PreparedQuery, QueryValues, insert_unless_duplicate

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

#: Cache key whose presence means "an ingest_pending task for this slot is queued". It names
#: the database: installations (and test runs) sharing one Redis must not take each other's
#: kick for their own, or an event would find the key set by a task that never reads its table.
KICK_KEY = "channels_adapters:ingest-kick:{db}:{slot}"
#: How long a kick stays set when its task never runs (dead broker): the next event kicks again
#: after that, and the periodic sweep picks up whatever is left in between.
KICK_TTL_SECONDS = 10
#: A busy ingest task kicks the next slot after this many events in a row, so a burst is worked
#: by up to ``INGEST_SLOTS`` tasks in parallel while a trickle costs one task.
INGEST_FANOUT_AFTER = 20
#: Pending event ids read per query by ``events_ingest_pending``.
INGEST_BATCH = 100
#: A task hands over to a fresh one after this many events (bounded redelivery, fairness).
INGEST_TASK_LIMIT = 500
#: Events ingested in one transaction by ``events_ingest_pending`` (one claim, one status
#: update, one commit and one routing pass for all of them).
INGEST_TXN_EVENTS = 20
#: A task that failed (database or Redis error) kicks its slot again, this many seconds later.
INGEST_RETRY_SECONDS = 5
#: Suffix of slot 0's wake-up list (beside its kick key): a kick that finds the key held pushes
#: an item there, which the task holding the key pops (``events_ingest_pending``).
WAKE_SUFFIX = ":wake"
#: Slot 0's task hands over to a fresh one after this many seconds of lingering and ingesting.
INGEST_TASK_SECONDS = 30

#: The kick of slot 0, atomic in Redis: take the key (the caller then queues a task), or, when
#: a task holds it, leave a wake-up in the list (at most one item: one wake reads everything).
_KICK_LUA = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then return 1 end
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], 1) end
return 0
"""
#: Slot 0's task lets go of the key, atomic in Redis, only when no wake-up waits; a waiting
#: one is taken (the caller reads the queue again from the start) and the key kept.
_RELEASE_LUA = """
if redis.call('LLEN', KEYS[2]) > 0 then
    redis.call('DEL', KEYS[2])
    return 0
end
redis.call('DEL', KEYS[1])
return 1
"""


def _enqueue_ingest(event_id: int) -> None:
    transaction.on_commit(lambda: ingest_kick(event_id=event_id))


def _eager() -> bool:
    """Embedded mode: Celery runs tasks in the caller (the project's app is Celery's current
    one; asked through Celery so that apps never import omnico's wiring)."""
    from celery import current_app

    return bool(current_app.conf.task_always_eager)


@functools.cache
def _redis() -> redis.Redis:
    """One client (and connection pool) per process. Django's cache is not used for the kick:
    its client is per async context, so every webhook request would open a Redis connection."""
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def _scripts() -> tuple[Any, Any]:
    """The kick and the release of slot 0 as Redis scripts (sent once, then by their hash)."""
    client = _redis()
    return client.register_script(_KICK_LUA), client.register_script(_RELEASE_LUA)


def _kick_key(slot: int) -> str:
    return KICK_KEY.format(db=connection.settings_dict["NAME"], slot=slot)


def _waking(slot: int) -> bool:
    """Slot 0 in the full stack keeps its key while its task runs and lingers (the wake-up
    list); the other slots, and a stack without Redis, clear the key when their task starts."""
    return slot == 0 and bool(settings.REDIS_URL)


def _kick_set(key: str) -> bool:
    """SET NX with a TTL: True when this call set it."""
    if settings.REDIS_URL:
        return bool(_redis().set(key, 1, nx=True, ex=KICK_TTL_SECONDS))
    return cache.add(key, 1, timeout=KICK_TTL_SECONDS)


def _kick_clear(key: str) -> None:
    if settings.REDIS_URL:
        _redis().delete(key)
    else:
        cache.delete(key)


def ingest_kick(*, event_id: int | None = None, slot: int = 0, countdown: float = 0) -> bool:
    """Make sure a worker looks at the pending events soon; True when a task was queued.

    Embedded (eager Celery) the event is ingested here and now. In the full stack the kick is
    coalesced: one Redis ``SET NX`` per stored event, and a Celery message
    only when no ``ingest_pending`` task of that slot is already queued. The task clears the
    kick before it starts picking events, so an event stored after that kicks again and one
    stored before is picked by that task. ``countdown`` delays the task (a retry after an
    error). A failure here loses nothing: the event is stored and the periodic sweep queues it;
    a kick set for a task the broker refused is taken back, so the next event kicks again.
    """
    from channels_adapters.tasks import ingest_event, ingest_pending

    try:
        if _eager():
            if event_id is not None:
                ingest_event.delay(event_id)
                return True
            ingest_pending.delay(slot)
            return True
        key = _kick_key(slot)
        if _waking(slot):
            kick, _release = _scripts()
            if not kick(keys=[key, key + WAKE_SUFFIX], args=[KICK_TTL_SECONDS]):
                return False  # a task holds the key: it was woken, or is queued
        elif not _kick_set(key):
            return False
    except Exception as exc:  # cache down: the sweep takes over
        logger.warning("could not queue ingest (slot %s): %s", slot, type(exc).__name__)
        return False
    return _queue_task(slot=slot, key=key, countdown=countdown)


def _queue_task(*, slot: int, key: str, countdown: float = 0) -> bool:
    """Queue the slot's ``ingest_pending`` task for a kick key just set (or held); when the
    broker refuses it, take the key back so the next event kicks again."""
    from channels_adapters.tasks import ingest_pending

    try:
        if countdown:
            ingest_pending.apply_async((slot,), countdown=countdown)
        else:
            ingest_pending.delay(slot)
    except Exception as exc:  # broker down: no task behind the kick, so take it back
        logger.warning("could not queue ingest (slot %s): %s", slot, type(exc).__name__)
        with contextlib.suppress(Exception):
            _kick_clear(key)
        return False
    return True


def event_record(
    *, account: ChannelAccount, body: bytes, dedupe_key: str
) -> tuple[InboundEvent, bool]:
    """Store a raw inbound body once; a second delivery of the same event changes nothing.

    Returns ``(event, created)``. One ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: in
    autocommit (a webhook) the row is durable when this returns; inside a caller's transaction
    (the IMAP poller's batch) it commits with it. A new event is queued for ingest after commit.
    """
    event = InboundEvent(
        channel_account=account,
        dedupe_key=dedupe_key[:255],
        body=body,
        status=InboundEvent.Status.PENDING,
    )
    if not insert_unless_duplicate(event, conflict_fields=("channel_account", "dedupe_key")):
        existing = InboundEvent.objects.get(channel_account=account, dedupe_key=event.dedupe_key)
        return existing, False
    _enqueue_ingest(event.pk)
    return event, True


@transaction.atomic
def event_retry(*, event_id: int) -> bool:
    """Put a failed (or ignored) event back in the queue; True when it was."""
    changed = InboundEvent.objects.filter(
        pk=event_id,
        status__in=[InboundEvent.Status.FAILED, InboundEvent.Status.IGNORED],
    ).update(status=InboundEvent.Status.PENDING, error="", processed_at=None)
    if changed:
        _enqueue_ingest(event_id)
    return bool(changed)


#: An event still pending this long after it was stored has lost the task that was to take it.
SWEEP_AFTER = timedelta(seconds=15)


def events_sweep(*, older_than: timedelta = SWEEP_AFTER, limit: int = 500) -> int:
    """Queue a task for events still pending after ``older_than``; returns how many there are
    (up to ``limit``).

    The backstop of the kick protocol (``events_ingest_pending``): a worker killed while it held
    the queued ``ingest_pending`` task, or a dead broker. Every event stored in the kick's TTL
    after it found the slot's kick set and queued nothing, so the kick is cleared here (it
    stands for a task that will not come) and set again with a fresh task, which works every
    pending event from the oldest. A backlog that is merely slow costs one extra task a sweep.
    """
    cutoff = timezone.now() - older_than
    stuck = list(
        InboundEvent.objects.filter(status=InboundEvent.Status.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    if stuck:
        with contextlib.suppress(Exception):  # cache down: ingest_kick logs it below
            _kick_clear(_kick_key(0))
        ingest_kick(slot=0)
    return len(stuck)


def events_ingest_pending(
    *, slot: int = 0, limit: int = INGEST_TASK_LIMIT, linger: float = 0
) -> int:
    """Work the pending events oldest first, ``INGEST_TXN_EVENTS`` per transaction, until none
    is left; returns how many this task handled. ``linger`` (seconds, slot 0 in the full stack,
    the ``ingest_pending`` task passes ``OMNICO_INGEST_LINGER_MS``): once none is left, wait
    that long for the next event and work it too, instead of ending.

    Run by the ``ingest_pending`` task that ``ingest_kick`` queues. Why an event committed as
    pending always has a task coming for it (the kick protocol). Every stored event kicks
    slot 0 after its commit. Slot 0 in the full stack has a kick key K and a wake-up list W in
    Redis; the kick is one atomic script: ``SET K NX`` and, when it set K, queue a Celery
    task; when K was held, push an item to W (unless W has one already). K stays held while
    its task runs and lingers, so at a trickle the task that is already there takes webhook
    after webhook (a Redis pop each) where each used to cost a Celery message, a dispatch, an
    ack and a task of its own.

    - K is deleted only by: the task's *release*, one atomic script that deletes K only when W
      is empty (else it empties W and the task reads again); its TTL; a kick whose task the
      broker refused (taken back); the sweep; a task that failed (before it queues its retry).
      W is emptied only by the holding task's pop (``BLPOP``) or its release, and after either
      the task reads the queue again *from the start*. Each read sees every commit before it.
    - An event whose kick set K: its task's first read comes after the event's commit.
    - An event whose kick found K held: the script left W non-empty after the event's commit.
      The task behind K (queued, running or lingering; a failed one queues its retry, one past
      its limit or time queues its successor, both of which find W the same way) ends only
      through the release, which finds W non-empty: it reads again from the start, after the
      event's commit, and sees it. Two tasks of slot 0 at once (a TTL that expired under a
      long run, the sweep) only share the work: whichever pops W reads from the start.
    - Within a read pass a task goes on from the last event it took (``since``, oldest
      ``received_at`` first). ``received_at`` is set before the INSERT commits, so concurrent
      webhooks can commit out of clock order: an event may commit after a read with a
      ``received_at`` below ``since``. Such an event committed after the pass began, so its
      kick set K (a new task) or left W non-empty (this task reads again from the start).
      A pass stops early only when a read came back short (that was every pending event from
      ``since`` on) and its batch takes all the rows it had not seen. Events another task
      holds (``SKIP LOCKED``) are that task's: it ingests them, or one by one if its batch fails.
    - Slots 1.. (and every slot without Redis: the embedded and SQLite runs) are kicked only by
      a busy task (``INGEST_FANOUT_AFTER``) as extra hands: their task clears its key first,
      before its first read, so an event that found the key set is seen by that read.
    - A task that raises (database or Redis error) lets go of its key and kicks its own slot
      again ``INGEST_RETRY_SECONDS`` later, so what it held and what it was to read are read
      again. A worker process that dies mid-task gives the message back to the queue
      (``reject_on_worker_lost``). Only a dead broker, or a whole worker host lost with its
      messages, is left to the periodic ``events_sweep``: the backstop, not the mechanism.

    The reads are a batch at a time (an index range scan from where the last batch ended: rows
    just marked processed stay in the partial index until vacuum, and scanning them once per
    event made ingest quadratic), ingested a few at a time in one transaction, locked ``SKIP
    LOCKED`` so parallel runs never handle one twice; when one of them fails, that transaction
    rolls back and its events are ingested one per transaction instead. After
    ``INGEST_FANOUT_AFTER`` events a task kicks the next slot (up to
    ``settings.OMNICO_INGEST_SLOTS``) to add a parallel worker. Past ``limit`` events (or
    ``INGEST_TASK_SECONDS``) it queues a fresh task and returns.
    """
    waking = _waking(slot) and not _eager()
    key = _kick_key(slot)
    try:
        if waking:
            return _ingest_and_linger(key=key, limit=limit, linger=linger)
        _kick_clear(key)  # events stored from now on kick again
        handled, drained = _ingest_pending_run(slot=slot, limit=limit)
        if not drained:
            ingest_kick(slot=slot)  # more may be waiting: continue in a fresh task
        return handled
    except Exception:
        if not _eager():  # embedded: no queue to lose a task in; the scheduler's sweep runs
            if waking:
                with contextlib.suppress(Exception):
                    _kick_clear(key)  # not held any more: the retry's kick takes it
            ingest_kick(slot=slot, countdown=INGEST_RETRY_SECONDS)
        raise


def _ingest_and_linger(*, key: str, limit: int, linger: float) -> int:
    """Slot 0 holding its kick key: read passes until one drains the queue, then wait up to
    ``linger`` for a wake-up, and end only through the release (see ``events_ingest_pending``)."""
    wake = key + WAKE_SUFFIX
    _kick, release = _scripts()
    deadline = time.monotonic() + INGEST_TASK_SECONDS
    handled = 0
    while True:
        done, drained = _ingest_pending_run(slot=0, limit=limit - handled)
        handled += done
        if not drained or handled >= limit:
            _queue_task(slot=0, key=key)  # the successor holds the key from here
            return handled
        if linger > 0 and time.monotonic() < deadline:
            if not connection.in_atomic_block:
                # Back to the pool while waiting: a database restart meanwhile must not leave
                # this task holding a dead connection (the pool checks the one it hands out).
                connection.close()
            _redis().set(key, 1, ex=KICK_TTL_SECONDS)  # held while waiting (a long run aged it)
            if _redis().blpop([wake], timeout=linger) is not None:
                continue  # an event was committed: read again from the start
        if release(keys=[key, wake]):
            return handled
        if time.monotonic() >= deadline:  # a wake-up was waiting: a fresh task reads it
            _queue_task(slot=0, key=key)
            return handled


def _pending(values: QueryValues, *, since: bool) -> QuerySet[InboundEvent, tuple[Any, ...]]:
    pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING)
    if since:
        pending = pending.filter(received_at__gte=values.one("since"))
    return pending.order_by("received_at").values_list("pk", "received_at")


#: The read of the pending queue, oldest first (from ``since``): its SQL built once per
#: process (``PreparedQuery``), not for every webhook at a trickle.
_PENDING = PreparedQuery(functools.partial(_pending, since=False))
_PENDING_SINCE = PreparedQuery(functools.partial(_pending, since=True))


def _ingest_pending_run(*, slot: int, limit: int) -> tuple[int, bool]:
    """One read pass from the oldest pending event: (how many were handled, whether the pass
    found the queue drained before ``limit``)."""
    slots = max(1, getattr(settings, "OMNICO_INGEST_SLOTS", 1))
    handled = 0
    since = None
    seen: set[int] = set()
    while handled < limit:
        window = INGEST_BATCH + len(seen)
        if since is None:
            rows = _PENDING.rows(limit=window)
        else:
            rows = _PENDING_SINCE.rows(since=since, limit=window)
        fresh = [(pk, received) for pk, received in rows if pk not in seen]
        if not fresh:
            return handled, True
        batch = fresh[:INGEST_BATCH]
        # The read returned fewer rows than it asked for and this batch takes every one of them
        # not seen before: that was every pending event when the query ran, and every event
        # stored since the kick was cleared has kicked a task of its own, so this task may stop
        # after the batch. A lone webhook costs one read instead of two. Both conditions are
        # needed: events this task already processed are no longer pending, so a short read
        # can still hold more new events than one batch takes (260 waiting: the second read
        # asks for 200, gets 160 and takes 100).
        drained = len(rows) < window and len(fresh) == len(batch)
        last_ids = {pk for pk, _received in batch}
        while batch and handled < limit:
            size = min(INGEST_TXN_EVENTS, limit - handled)
            chunk, batch = batch[:size], batch[size:]
            ids = [pk for pk, _received in chunk]
            seen.update(ids)
            since = chunk[-1][1]
            done = _ingest_together(ids)
            if done is None:  # one of them failed: each alone, the failure kept with its event
                done = sum(1 for pk in ids if event_ingest(event_id=pk) is not None)
            before, handled = handled, handled + done
            if before < INGEST_FANOUT_AFTER <= handled and slot + 1 < slots:
                ingest_kick(slot=slot + 1)
        if drained and handled < limit:
            return handled, True
        if len(seen) > 10 * INGEST_BATCH:  # keep the exclusion list short
            seen = last_ids
    return handled, False  # more may be waiting
