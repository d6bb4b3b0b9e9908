"""Outgoing webhooks through the real stack: PostgreSQL, Redis and a Celery worker process.

A ticket opened in this process writes its delivery with the change; the worker takes the task
from Redis, posts to a loopback receiver that first answers 500, and the sweep (sent every
second here, as beat would every OMNICO_WEBHOOK_SWEEP_SECONDS) makes it try again after its
backoff (1 s here); repeated tasks send nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time

import pytest
import redis
from celery import Celery

from configuration.models import WebhookEndpoint
from configuration.webhooks import webhook_endpoint_create
from tests.factories import make_ticket
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env
from tests.omnico.test_stack_smoke import live_database_url
from tickets import webhooks
from tickets.models import WebhookDelivery

pytestmark = NEEDS_SERVICES

#: Its own Redis database (9-15 are other worker tests').
WEBHOOK_REDIS_DB = 7
DELIVER = "tickets.deliver_webhook"
SWEEP = "tickets.webhook_sweep"


def _wait(condition, timeout: float, worker: Process, what: str) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return
        if worker.popen.poll() is not None:
            raise AssertionError(f"the worker exited:\n{worker.output()}")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s\n{worker.output()}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_retries_after_a_500_and_never_sends_twice(
    tmp_path, settings, monkeypatch, webhook_receiver
):
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    endpoint = WebhookEndpoint(name="crm", url=webhook_receiver.url, events=["ticket.created"])
    secret = webhook_endpoint_create(endpoint=endpoint)
    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{WEBHOOK_REDIS_DB}"
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    sender = Celery("webhook-test", broker=redis_url, set_as_current=False)
    # The after-commit enqueue, into this test's own broker database.
    monkeypatch.setattr(
        webhooks, "_queue", lambda ids: [sender.send_task(DELIVER, args=[pk]) for pk in ids]
    )
    env = clean_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=redis_url,
        OMNICO_DB_POOL_MIN="0",
        OMNICO_DB_POOL_MAX="2",
        LOG_LEVEL="WARNING",
        OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
        OMNICO_WEBHOOK_ALLOW_PRIVATE="true",
        OMNICO_WEBHOOK_RETRY_SECONDS="1",
    )
    args = [sys.executable, "-m", "celery", "-A", "omnico", "worker", "--pool", "solo"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    args += ["--loglevel", "warning", "--hostname", f"webhooks-{os.getpid()}@%h"]
    worker = Process(args, env=env, log=tmp_path / "worker.log")
    try:
        webhook_receiver.answer(500)
        ticket = make_ticket()  # commits: its delivery is queued after commit
        delivery = WebhookDelivery.objects.get()
        last_sweep = 0.0

        def delivered() -> bool:
            nonlocal last_sweep
            if time.monotonic() - last_sweep >= 1:
                sender.send_task(SWEEP)
                last_sweep = time.monotonic()
            delivery.refresh_from_db()
            return delivery.state == "delivered"

        _wait(delivered, 60, worker, "the webhook delivered")
        assert (delivery.attempts, delivery.last_status) == (2, 200)
        first, second = webhook_receiver.requests
        assert first.body == second.body and first.json["data"]["ticket"]["id"] == ticket.pk
        timestamp = second.headers["X-Omnico-Timestamp"]
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + second.body, hashlib.sha256)
        assert second.headers["X-Omnico-Signature"] == f"sha256={mac.hexdigest()}"

        for _ in range(3):  # a redelivered task and more sweeps: nothing is sent again
            sender.send_task(DELIVER, args=[delivery.pk])
            sender.send_task(SWEEP)
        _wait(lambda: broker.llen("celery") == 0, 30, worker, "the copies taken")
        time.sleep(2)
        assert len(webhook_receiver.requests) == 2
    finally:
        worker.stop()
        sender.close()
        broker.flushdb()
