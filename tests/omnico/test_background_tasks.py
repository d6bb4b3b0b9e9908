"""Embedded (eager Celery): a task that talks to another server runs on the scheduler's thread,
never in the request that queued it; a delayed task waits for its time."""

import pytest

from channels_adapters.webchat import tasks as webchat_tasks
from omnico.celery import app
from omnico.core import tasks


@pytest.fixture(autouse=True)
def eager():
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True  # embedded: no broker, no worker
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def deferred(monkeypatch):
    jobs: list[tuple[float, object]] = []

    def take(delay, job):
        jobs.append((delay, job))
        return True

    monkeypatch.setattr(tasks, "_deferrer", take)
    return jobs


def test_the_offline_acknowledgement_is_sent_later_not_in_the_request(deferred, monkeypatch):
    sent = []
    monkeypatch.setattr(
        webchat_tasks.offline, "offline_acknowledge_send", lambda **kw: sent.append(kw["email"])
    )

    webchat_tasks.offline_acknowledge.delay(email="ayse@example.com")

    assert sent == [] and [delay for delay, _job in deferred] == [0.0]
    deferred[0][1]()  # the scheduler's thread, later
    assert sent == ["ayse@example.com"]


def test_a_plain_task_still_runs_at_once_and_a_delayed_one_waits(deferred):
    from omnico.tasks import ping

    assert ping.delay("now").result == "pong:now"  # ran here, at once
    assert deferred == []
    ping.apply_async(("later",), countdown=30)
    assert [delay for delay, _job in deferred] == [pytest.approx(30, abs=1)]


def test_without_a_scheduler_a_background_task_runs_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks, "_deferrer", lambda delay, job: False)  # none running
    monkeypatch.setattr(
        webchat_tasks.offline, "offline_acknowledge_send", lambda **kw: sent.append(kw["email"])
    )

    webchat_tasks.offline_acknowledge.delay(email="ayse@example.com")

    assert sent == ["ayse@example.com"]
