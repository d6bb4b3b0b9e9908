"""Embedded mode (eager Celery): delayed tasks and retries wait their time on the scheduler."""

from __future__ import annotations

import time

import pytest

from channels_adapters import services
from channels_adapters.services import outbound
from customers.services import customer_resolve
from omnico.celery import app as celery_app
from omnico.scheduler import Scheduler
from tests.factories import make_user
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive

pytestmark = pytest.mark.django_db(transaction=True)  # retries run in the scheduler's thread


@pytest.fixture
def scheduler():
    running = Scheduler({}, app=celery_app, max_sleep=0.05)
    running.start()
    yield running
    running.stop()


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _reply(account, django_capture_on_commit_callbacks) -> Message:
    customer = customer_resolve(kind=account.kind, external_id="905551112233")
    ticket = ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Soru", external_id="in-1"),
    ).ticket
    with django_capture_on_commit_callbacks(execute=True):
        return services.reply_send(ticket=ticket, author=make_user(), body="Kargonuz yolda.")


def test_delivery_retries_wait_their_backoff_then_fail_visibly(
    channel, fake, scheduler, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(outbound, "delivery_backoff", lambda attempts: 0.4)
    fake.fail_next(10, status=503)
    started = time.monotonic()

    message = _reply(channel("whatsapp"), django_capture_on_commit_callbacks)

    assert len(fake.requests) == 1  # the first try; the retries wait
    message.refresh_from_db()
    assert message.delivery == Message.Delivery.PENDING
    assert _wait_for(lambda: Message.objects.get(pk=message.pk).delivery == Message.Delivery.FAILED)
    assert len(fake.requests) == 6  # the first try and five retries
    assert time.monotonic() - started >= 5 * 0.4


def test_a_retry_that_succeeds_sends_the_reply_once(
    channel, fake, scheduler, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(outbound, "delivery_backoff", lambda attempts: 0.3)
    fake.fail_next(1, status=500)

    message = _reply(channel("telegram"), django_capture_on_commit_callbacks)

    assert len(fake.requests) == 1
    assert _wait_for(lambda: Message.objects.get(pk=message.pk).delivery == "sent")
    assert len(fake.requests) == 2


def test_a_task_sent_with_a_countdown_runs_when_due(scheduler):
    ran: list[float] = []

    @celery_app.task(name="tests.embedded_delays.stamp")
    def stamp() -> None:
        ran.append(time.monotonic())

    sent = time.monotonic()
    stamp.apply_async(countdown=0.5)

    assert ran == []
    assert _wait_for(lambda: ran, timeout=5)
    assert ran[0] - sent >= 0.5
