"""The embedded periodic-job driver: runs ``CELERY_BEAT_SCHEDULE`` in-process without beat.

In the full stack Celery beat reads ``settings.CELERY_BEAT_SCHEDULE`` and sends each entry to the
workers. Embedded (no Redis) ``manage.py serve`` starts a :class:`Scheduler` instead: a daemon
thread that calls every entry's task through Celery at its interval (eagerly, in this process).
A failing or unknown task is logged and retried at its next interval; it never stops the thread.

It also runs Celery's delayed tasks when embedded. Eager Celery runs a task the moment it is
sent, so a ``countdown``/``eta`` (and ``self.retry(countdown=...)``, the delivery backoff) would
fire at once; ``omnico.celery.OmnicoTask`` hands such a task to the running scheduler instead
(:func:`defer`), which runs it when it is due. Nothing is persisted: a process that stops with a
delayed reply still to send leaves it ``pending``, and the outbound sweep sends it again.

Entries have beat's shape: ``{"task": "dotted.name", "schedule": seconds | timedelta,
"args": (...), "kwargs": {...}, "options": {...}}``. Like beat, an entry first runs one interval
after start, and runs that are missed while a task is still busy are skipped, not caught up.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.result import EagerResult
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger(__name__)


@dataclass
class ScheduleEntry:
    name: str
    task: str
    interval: float
    args: tuple
    kwargs: dict
    options: dict
    next_run: float = 0.0


def _interval_seconds(name: str, schedule: Any) -> float:
    if isinstance(schedule, timedelta):
        seconds = schedule.total_seconds()
    elif isinstance(schedule, int | float) and not isinstance(schedule, bool):
        seconds = float(schedule)
    elif isinstance(getattr(schedule, "run_every", None), timedelta):  # celery.schedules.schedule
        seconds = schedule.run_every.total_seconds()
    else:
        raise ValueError(
            f"CELERY_BEAT_SCHEDULE[{name!r}]: the embedded scheduler runs intervals only "
            f"(seconds or timedelta), got {schedule!r}"
        )
    if seconds <= 0:
        raise ValueError(f"CELERY_BEAT_SCHEDULE[{name!r}]: the interval must be positive")
    return seconds


def parse_schedule(schedule: Mapping[str, Mapping[str, Any]]) -> list[ScheduleEntry]:
    entries = []
    for name, spec in schedule.items():
        if not spec.get("task"):
            raise ValueError(f"CELERY_BEAT_SCHEDULE[{name!r}] has no 'task'")
        entries.append(
            ScheduleEntry(
                name=name,
                task=spec["task"],
                interval=_interval_seconds(name, spec.get("schedule")),
                args=tuple(spec.get("args") or ()),
                kwargs=dict(spec.get("kwargs") or {}),
                options=dict(spec.get("options") or {}),
            )
        )
    return entries


def _default_app() -> Celery:
    from omnico.celery import app

    return app


#: The scheduler running in this process, which takes delayed tasks (see :func:`defer`).
_running: Scheduler | None = None


def defer(delay: float, job: Callable[[], Any]) -> bool:
    """Run ``job`` in ``delay`` seconds on this process's running scheduler; False when none
    runs (then the caller runs it its own way)."""
    scheduler = _running
    if scheduler is None or not scheduler.running:
        return False
    scheduler.call_later(delay, job)
    return True


class Scheduler:
    """Run schedule entries on their intervals, and delayed jobs when due, in a daemon thread;
    ``stop()`` ends it."""

    def __init__(
        self,
        schedule: Mapping[str, Mapping[str, Any]],
        *,
        app: Celery | None = None,
        max_sleep: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.entries = parse_schedule(schedule)
        self.app = app or _default_app()
        self.max_sleep = max_sleep
        self.clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._delayed: list[tuple[float, int, Callable[[], Any]]] = []
        self._delayed_lock = threading.Lock()
        self._sequence = itertools.count()

    @classmethod
    def from_settings(cls, **kwargs: Any) -> Scheduler:
        from django.conf import settings

        return cls(getattr(settings, "CELERY_BEAT_SCHEDULE", {}), **kwargs)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def call_later(self, delay: float, job: Callable[[], Any]) -> None:
        """Run ``job`` in the scheduler's thread once ``delay`` seconds have passed."""
        with self._delayed_lock:
            heapq.heappush(self._delayed, (self.clock() + delay, next(self._sequence), job))

    def _next_delayed(self) -> float | None:
        with self._delayed_lock:
            return self._delayed[0][0] if self._delayed else None

    def run_delayed(self) -> int:
        """Run every delayed job that is due now; return how many ran."""
        ran = 0
        while not self._stopping.is_set():
            with self._delayed_lock:
                if not self._delayed or self._delayed[0][0] > self.clock():
                    return ran
                _due, _seq, job = heapq.heappop(self._delayed)
            self._run_job(job)
            ran += 1
        return ran

    def _run_job(self, job: Callable[[], Any]) -> None:
        from django.db import close_old_connections

        close_old_connections()
        try:
            job()
        except Exception:
            logger.exception("delayed task failed")
        finally:
            close_old_connections()

    def start(self) -> None:
        global _running
        if self.running:
            return
        # Tasks live in each app's tasks.py: import them all, as a worker would, so names resolve.
        # (Not app.loader.import_default_modules(): Celery's Django fixup would re-run
        # django.setup() and its checks, resetting logging in this running process.)
        autodiscover_modules("tasks")
        now = self.clock()
        for entry in self.entries:
            entry.next_run = now + entry.interval
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="omnico-scheduler", daemon=True)
        self._thread.start()
        _running = self
        logger.info(
            "embedded scheduler started: %s",
            ", ".join(f"{e.name} every {e.interval:g}s" for e in self.entries) or "no entries",
        )

    def stop(self, timeout: float = 10.0) -> None:
        global _running
        if _running is self:
            _running = None
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_pending(self) -> int:
        """Run every entry that is due now; return how many ran."""
        ran = 0
        for entry in self.entries:
            if self._stopping.is_set():
                break
            started = self.clock()
            if started < entry.next_run:
                continue
            self._dispatch(entry)
            ran += 1
            entry.next_run = max(entry.next_run + entry.interval, started + entry.interval)
            if entry.next_run <= self.clock():  # the task outlasted its interval: skip the misses
                entry.next_run = self.clock() + entry.interval
        return ran

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pending()
                self.run_delayed()
            except Exception:  # the loop itself must never die
                logger.exception("embedded scheduler loop error")
            next_due = min((e.next_run for e in self.entries), default=self.clock() + 60)
            delayed = self._next_delayed()
            if delayed is not None:
                next_due = min(next_due, delayed)
            self._stopping.wait(min(max(next_due - self.clock(), 0.0), self.max_sleep))

    def _dispatch(self, entry: ScheduleEntry) -> None:
        from django.db import close_old_connections

        close_old_connections()
        try:
            task = self.app.tasks.get(entry.task)
            if task is None:
                logger.error("scheduled task %s: no task named %s", entry.name, entry.task)
                return
            result = task.apply_async(args=entry.args, kwargs=entry.kwargs, **entry.options)
            if isinstance(result, EagerResult) and result.failed():
                logger.error(
                    "scheduled task %s (%s) failed: %s",
                    entry.name,
                    entry.task,
                    result.result.__class__.__name__,
                )
        except Exception:
            logger.exception("scheduled task %s (%s) failed", entry.name, entry.task)
        finally:
            close_old_connections()
