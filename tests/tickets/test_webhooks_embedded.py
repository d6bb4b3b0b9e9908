"""Embedded mode (eager Celery, no worker): a webhook is posted by the scheduler's thread,
never inside the request that caused it."""

from __future__ import annotations

import threading
import time

import pytest

from configuration.models import WebhookEndpoint
from configuration.webhooks import webhook_endpoint_create
from omnico.celery import app as celery_app
from omnico.scheduler import Scheduler
from tests.factories import make_ticket
from tickets import webhooks
from tickets.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)  # the scheduler's thread reads the rows


@pytest.fixture
def scheduler():
    running = Scheduler({}, app=celery_app, max_sleep=0.05)
    running.start()
    yield running
    running.stop()


def test_the_post_runs_on_the_scheduler_thread_not_in_the_request(
    settings, scheduler, webhook_receiver, monkeypatch
):
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    threads: list[str] = []
    post = webhooks._post

    def recording_post(endpoint, delivery):
        threads.append(threading.current_thread().name)
        return post(endpoint, delivery)

    monkeypatch.setattr(webhooks, "_post", recording_post)
    try:
        webhook_endpoint_create(
            endpoint=WebhookEndpoint(
                name="crm", url=webhook_receiver.url, events=["ticket.created"]
            )
        )
        make_ticket()  # commits; its delivery is queued on commit
        deadline = time.monotonic() + 60
        while WebhookDelivery.objects.get().state != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert WebhookDelivery.objects.get().state == "delivered"
        assert threads == ["omnico-scheduler"]
    finally:
        celery_app.conf.task_always_eager = eager
