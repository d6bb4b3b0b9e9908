"""Coalesced ingest: one queued task works a burst of events; nothing waits on a lost kick."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_adapters import services, tasks
from channels_adapters.models import InboundEvent
from omnico.celery import app as celery_app
from tickets.models import Message, Ticket


@pytest.fixture
def queued(monkeypatch):
    """The full stack's behaviour: tasks are queued, not run; records what was queued."""
    celery_app.conf.task_always_eager = False  # the autouse eager_celery fixture restores it
    monkeypatch.setattr(services, "KICK_KEY", f"test-kick-{uuid.uuid4().hex}:{{slot}}")
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.ingest_pending, "delay", lambda *a: sent.append(("pending", *a)))
    monkeypatch.setattr(tasks.ingest_event, "delay", lambda *a: sent.append(("event", *a)))
    yield sent
    for slot in range(8):
        services._kick_clear(services.KICK_KEY.format(slot=slot))


def _api(n: int, customer: str = "c-1") -> bytes:
    return json.dumps({"id": f"m-{n}", "customer": {"id": customer}, "text": f"mesaj {n}"}).encode()


def _store(account, n: int, customer: str = "c-1", capture=None) -> InboundEvent:
    with capture(execute=True):
        event, created = services.event_record(
            account=account, body=_api(n, customer), dedupe_key=f"message:m-{n}"
        )
    assert created
    return event


def test_a_burst_queues_one_task_that_turns_every_event_into_a_message(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    for n in range(5):
        _store(account, n, f"c-{n % 2}", django_capture_on_commit_callbacks)

    assert queued == [("pending", 0)]  # five events, one Celery message

    assert services.events_ingest_pending(slot=0) == 5
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Message.objects.count() == 5
    assert Ticket.objects.count() == 2  # two customers, one active ticket each


def test_an_event_stored_after_the_task_started_kicks_again(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    services.events_ingest_pending(slot=0)

    _store(account, 2, capture=django_capture_on_commit_callbacks)

    assert queued == [("pending", 0), ("pending", 0)]
    assert services.events_ingest_pending(slot=0) == 1
    assert Message.objects.count() == 2


def test_a_failing_event_is_marked_failed_and_the_rest_are_processed(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bad, _ = services.event_record(account=account, body=b"[]", dedupe_key="broken")
    _store(account, 3, capture=django_capture_on_commit_callbacks)

    assert services.events_ingest_pending(slot=0) == 3

    bad.refresh_from_db()
    assert bad.status == InboundEvent.Status.FAILED
    assert "JSON object" in bad.error
    assert Message.objects.count() == 2


def test_a_long_backlog_adds_a_parallel_task_and_hands_over_past_the_limit(
    channel, queued, django_capture_on_commit_callbacks, settings
):
    settings.OMNICO_INGEST_SLOTS = 2
    account = channel("api")
    for n in range(services.INGEST_FANOUT_AFTER + 5):
        _store(account, n, capture=django_capture_on_commit_callbacks)
    queued.clear()

    handled = services.events_ingest_pending(slot=0, limit=services.INGEST_FANOUT_AFTER + 2)

    assert handled == services.INGEST_FANOUT_AFTER + 2
    assert queued == [("pending", 1), ("pending", 0)]  # a helper, then its own successor
    assert InboundEvent.objects.filter(status="pending").count() == 3


def test_a_dead_broker_loses_nothing_and_the_sweep_queues_the_event(
    channel, queued, monkeypatch, django_capture_on_commit_callbacks
):
    account = channel("api")

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.ingest_pending, "delay", broker_down)
    event = _store(account, 1, capture=django_capture_on_commit_callbacks)  # no exception

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PENDING
    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.events_sweep() == 1
    assert queued == [("event", event.pk)]
