"""Celery beat is one at a time by construction (omnico/beat.py): the scheduler that holds the
Redis lock sends the periodic tasks, any other stands by and takes over when the lock frees;
beat answers Celery's ping while its loop ticks (the compose health check). Real Redis."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import redis
from celery import Celery
from django.conf import settings

from omnico import beat
from omnico.beat import LOCK_NAME, LockedScheduler
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env

pytestmark = NEEDS_SERVICES

#: A Redis database of its own (10: restart test, 11: poll lock, 12: outbound recovery,
#: 14: burst, 15: smoke), so parallel tests never share the lock.
BEAT_REDIS_DB = 13


@pytest.fixture
def redis_url() -> str:
    url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{BEAT_REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


def _scheduler(app: Celery, name: str, sent: list[str]) -> LockedScheduler:
    scheduler = LockedScheduler(app=app)
    scheduler.send_task = lambda task, *args, **kwargs: sent.append(name)  # type: ignore[method-assign]
    return scheduler


def _run(schedulers: list[LockedScheduler], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for scheduler in schedulers:
            scheduler.tick()
        time.sleep(0.05)


@pytest.fixture
def app(redis_url) -> Celery:
    app = Celery("beat-test", broker=redis_url, set_as_current=False)
    app.conf.beat_schedule = {"often": {"task": "beat-test.often", "schedule": 0.2}}
    return app


def test_only_the_beat_holding_the_lock_sends_and_the_other_takes_over_when_it_stops(app):
    sent: list[str] = []
    first, second = _scheduler(app, "first", sent), _scheduler(app, "second", sent)

    _run([first, second], 1.0)
    assert (first.leading, second.leading) == (True, False)
    assert sent and set(sent) == {"first"}

    first.close()  # a clean stop hands over at once
    sent.clear()
    _run([second], 1.0)

    assert second.leading
    assert sent and set(sent) == {"second"}
    second.close()
    assert redis.Redis.from_url(app.conf.broker_url).get(LOCK_NAME) is None


def test_a_dead_beats_lock_expires_and_it_stands_by_if_it_comes_back(app, monkeypatch):
    monkeypatch.setattr(beat, "LOCK_TIMEOUT", 1.0)
    sent: list[str] = []
    first, second = _scheduler(app, "first", sent), _scheduler(app, "second", sent)
    _run([first, second], 0.5)
    assert first.leading

    time.sleep(1.2)  # first stalls (or dies) past the lock's timeout without releasing it
    sent.clear()
    _run([second, first], 1.0)

    assert (first.leading, second.leading) == (False, True)
    assert sent and set(sent) == {"second"}


def test_a_beat_process_answers_the_health_ping_and_a_second_one_stands_by(redis_url, tmp_path):
    env = clean_env(tmp_path, REDIS_URL=redis_url)
    command = [sys.executable, "-m", "celery", "-A", "omnico", "beat", "--loglevel", "INFO"]
    first = Process(command, env=env, log=tmp_path / "beat-1.log")
    second = None
    try:
        _wait_for(lambda: f"took {LOCK_NAME}" in first.output(), first)
        second = Process(command, env=env, log=tmp_path / "beat-2.log")
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "omnico", "inspect", "ping"]
            + ["--destination", f"celerybeat@{socket.gethostname()}", "--timeout", "10"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "pong" in ping.stdout
        assert f"took {LOCK_NAME}" not in second.output()

        first.stop()  # SIGTERM: releases the lock
        _wait_for(lambda: f"took {LOCK_NAME}" in second.output(), second)
        _wait_for(lambda: "Sending due task" in second.output(), second)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def _wait_for(condition, process: Process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.popen.poll() is not None:
            raise AssertionError(f"beat exited:\n{process.output()}")
        time.sleep(0.2)
    raise AssertionError(f"beat never got there:\n{process.output()}")
