import logging
import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery import Celery

from omnico.scheduler import Scheduler


def unique(label: str) -> str:
    """A fresh task name: Celery keeps the first callable registered under a name."""
    return f"tests.scheduler.{label}.{uuid.uuid4().hex}"


def eager_app(*, propagate: bool = False) -> Celery:
    app = Celery("scheduler-test", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = propagate
    return app


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def scheduler_factory():
    started: list[Scheduler] = []

    def make(schedule, **kwargs) -> Scheduler:
        scheduler = Scheduler(schedule, max_sleep=0.05, **kwargs)
        started.append(scheduler)
        return scheduler

    yield make
    for scheduler in started:
        scheduler.stop()


def test_scheduler_runs_a_registered_task_on_its_interval_with_its_args(scheduler_factory):
    app = eager_app()
    names = {label: unique(label) for label in ("tick",)}
    calls: list[tuple[str, float]] = []

    @app.task(name=names["tick"])
    def tick(label):
        calls.append((label, time.monotonic()))

    scheduler = scheduler_factory(
        {"tick": {"task": names["tick"], "schedule": 0.1, "args": ("mail",)}}, app=app
    )
    started = time.monotonic()
    scheduler.start()
    assert wait_for(lambda: len(calls) >= 4)
    scheduler.stop()

    assert {label for label, _ in calls} == {"mail"}
    # Like beat: the first run comes one interval after start, then one per interval. The runs
    # keep to the grid laid from the start (the n-th near start + n intervals): a slow first
    # dispatch (Celery's first connection setup) delays that run but not the ones after it, so
    # the gap right after it can be short, and the grid, not the gaps, is what is measured.
    assert calls[0][1] - started >= 0.09
    runs = len(calls)
    elapsed = calls[-1][1] - started
    assert runs * 0.1 - 0.01 <= elapsed <= runs * 0.1 + 0.5, (runs, elapsed)


def test_scheduler_accepts_a_timedelta_interval(scheduler_factory):
    app = eager_app()
    names = {label: unique(label) for label in ("delta",)}
    ran = threading.Event()

    @app.task(name=names["delta"])
    def delta():
        ran.set()

    scheduler_factory(
        {"d": {"task": names["delta"], "schedule": timedelta(milliseconds=50)}}, app=app
    ).start()

    assert ran.wait(5)


@pytest.mark.parametrize("propagate", [False, True], ids=["failure-in-result", "raised"])
def test_a_failing_task_is_logged_and_the_scheduler_keeps_running(
    scheduler_factory, caplog, propagate
):
    app = eager_app(propagate=propagate)
    names = {label: unique(label) for label in ("boom", "ok")}
    failures: list[int] = []
    successes: list[int] = []

    @app.task(name=names["boom"])
    def boom():
        failures.append(1)
        raise RuntimeError("mailbox unreachable")

    @app.task(name=names["ok"])
    def ok():
        successes.append(1)

    scheduler = scheduler_factory(
        {
            "boom": {"task": names["boom"], "schedule": 0.05},
            "ok": {"task": names["ok"], "schedule": 0.05},
        },
        app=app,
    )
    with caplog.at_level(logging.ERROR, logger="omnico.scheduler"):
        scheduler.start()
        assert wait_for(lambda: len(failures) >= 3 and len(successes) >= 3)

    assert scheduler.running
    assert any(
        "boom" in record.getMessage() and record.name == "omnico.scheduler"
        for record in caplog.records
    )


def test_an_unknown_task_is_logged_and_does_not_stop_the_others(scheduler_factory, caplog):
    app = eager_app()
    names = {label: unique(label) for label in ("does_not_exist", "known")}
    ran = threading.Event()

    @app.task(name=names["known"])
    def known():
        ran.set()

    scheduler = scheduler_factory(
        {
            "ghost": {"task": names["does_not_exist"], "schedule": 0.05},
            "known": {"task": names["known"], "schedule": 0.05},
        },
        app=app,
    )
    with caplog.at_level(logging.ERROR, logger="omnico.scheduler"):
        scheduler.start()
        assert ran.wait(5)

    assert scheduler.running
    assert any(names["does_not_exist"] in record.getMessage() for record in caplog.records)


def test_stop_ends_the_thread_and_no_task_runs_afterwards(scheduler_factory):
    app = eager_app()
    names = {label: unique(label) for label in ("count",)}
    calls: list[int] = []

    @app.task(name=names["count"])
    def count():
        calls.append(1)

    scheduler = scheduler_factory({"c": {"task": names["count"], "schedule": 0.05}}, app=app)
    scheduler.start()
    assert wait_for(lambda: len(calls) >= 1)
    scheduler.stop(timeout=2)

    assert not scheduler.running
    stopped_at = len(calls)
    time.sleep(0.2)
    assert len(calls) == stopped_at


@pytest.mark.parametrize(
    "spec",
    [{"task": "x", "schedule": 0}, {"task": "x", "schedule": "often"}, {"schedule": 5}],
    ids=["zero-interval", "not-an-interval", "no-task"],
)
def test_a_malformed_entry_is_refused_at_start_with_its_name(spec):
    with pytest.raises(ValueError, match="poll-mail|task"):
        Scheduler({"poll-mail": spec}, app=eager_app())


def test_the_settings_schedule_is_valid_for_the_embedded_scheduler(settings):
    scheduler = Scheduler.from_settings(app=eager_app())

    assert {entry.name for entry in scheduler.entries} == set(settings.CELERY_BEAT_SCHEDULE)
