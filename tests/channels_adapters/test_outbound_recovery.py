"""Replies after a worker dies, for real: PostgreSQL, Redis and Celery worker processes.

Issue 15 measured 61 minutes: the worker was killed while it held the replies' retry tasks
(a task waiting for its countdown stays unacknowledged in the worker), Redis gave them back only
after its visibility timeout, and the sweep left attempted replies alone. Here the first worker
takes a reply's retry the same way and is killed with SIGKILL; a second worker, with the
outbound sweep queued every few seconds as beat would (beat's 30 s is checked by
``test_outbound_sweep``), must send it once the provider is back, within a minute of its retry
being due, and only once, however many copies of its task come back.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.utils import timezone

from configuration.models import ChannelAccount, ChannelKind
from customers.services import customer_resolve
from tests.factories import make_user
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env
from tests.omnico.test_stack_smoke import live_database_url
from tickets.delivery import message_delivery_claim
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive
from tickets.services import message_add_outbound

pytestmark = NEEDS_SERVICES

#: Its own Redis database (the stack smoke test uses 15, the ingest burst 14).
RECOVERY_REDIS_DB = 12
DELIVER = "channels_adapters.deliver_message"
SWEEP = "channels_adapters.sweep_outbound"


def _reply(account: ChannelAccount, customer_id: str) -> Message:
    customer = customer_resolve(kind=account.kind, external_id=customer_id)
    ticket = ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Soru", external_id=f"in-{customer_id}"),
    ).ticket
    return message_add_outbound(ticket=ticket, author=make_user(), body=f"Yanıt {customer_id}")


def _wait(condition, timeout: float, worker: Process, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        if worker.popen.poll() is not None:
            raise AssertionError(f"the worker exited:\n{worker.output()}")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s\n{worker.output()}")


def _worker(name: str, env: dict[str, str], tmp_path) -> Process:
    args = [sys.executable, "-m", "celery", "-A", "omnico", "worker", "--pool", "solo"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    args += ["--loglevel", "warning", "--hostname", f"{name}-{os.getpid()}@%h"]
    return Process(args, env=env, log=tmp_path / f"{name}.log")


@pytest.mark.django_db(transaction=True)
def test_replies_held_by_a_killed_worker_are_sent_once_within_a_minute(tmp_path, fake):
    account = ChannelAccount.objects.create(
        kind=ChannelKind.API,
        name="recovery",
        secret="recovery-s3cret",
        callback_url=f"{fake.url}/callback",
    )
    retried = _reply(account, "c-1")
    claimed = _reply(account, "c-2")
    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{RECOVERY_REDIS_DB}"
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    sender = Celery("recovery-test", broker=redis_url, set_as_current=False)
    env = clean_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=redis_url,
        OMNICO_DB_POOL_MIN="0",
        OMNICO_DB_POOL_MAX="4",
        LOG_LEVEL="WARNING",
        OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
    )
    first = second = None
    try:
        # The provider is down; the first worker tries once and holds the retry's countdown.
        fake.fail_next(1000, status=500)
        first = _worker("first", env, tmp_path)
        sender.send_task(DELIVER, args=[retried.pk], kwargs={"attempt": 0})

        def holding_the_retry() -> bool:
            row = Message.objects.get(pk=retried.pk)
            return (
                row.delivery_attempts == 1
                and row.delivery_next_at is not None
                and broker.llen("celery") == 0
                and broker.hlen("unacked") == 1
            )

        _wait(holding_the_retry, 60, first, "the first worker holding the retry")
        first.popen.kill()
        first.popen.wait(10)
        fake.stop_failing()
        retry_due = Message.objects.get(pk=retried.pk).delivery_next_at
        assert Message.objects.get(pk=retried.pk).delivery_attempts == 1  # killed in time
        assert broker.hlen("unacked") == 1  # the retry died with the worker, unacknowledged
        # Another reply was claimed by a worker that died before it called the provider; its
        # claim (60 s) is made to end in 2 s, to keep the test short.
        assert message_delivery_claim(message_id=claimed.pk, attempt=0) is not None
        claim_end = timezone.now() + timedelta(seconds=2)
        Message.objects.filter(pk=claimed.pk).update(
            delivery_claimed_until=claim_end, delivery_next_at=claim_end
        )
        requests_before = len(fake.requests)

        second = _worker("second", env, tmp_path)
        due = {retried.pk: retry_due, claimed.pk: claim_end}
        seen: dict[int, float] = {}
        last_sweep = 0.0

        def sweep_and_check() -> bool:
            nonlocal last_sweep
            if time.monotonic() - last_sweep >= 2:  # beat, every 2 s instead of 30
                sender.send_task(SWEEP)
                last_sweep = time.monotonic()
            now = timezone.now()
            for pk in Message.objects.filter(
                pk__in=list(due), delivery=Message.Delivery.SENT
            ).values_list("pk", flat=True):
                seen.setdefault(pk, (now - due[pk]).total_seconds())
            return len(seen) == len(due)

        _wait(sweep_and_check, 120, second, "both replies sent")
        print(f"sent this many seconds after their task was due: {seen}")
        assert seen[retried.pk] < 60, f"the lost retry went out {seen[retried.pk]:.0f} s late"
        assert seen[claimed.pk] < 60, f"the dead claim went out {seen[claimed.pk]:.0f} s late"

        # The lost retry comes back after all (the visibility timeout, at the earliest 340 s:
        # sent here by hand), and the sweep's copies are redelivered: nothing more is sent.
        sender.send_task(DELIVER, args=[retried.pk], kwargs={"attempt": 1})
        sender.send_task(DELIVER, args=[claimed.pk], kwargs={"attempt": 1})
        sender.send_task(DELIVER, args=[retried.pk], kwargs={"attempt": 0})
        _wait(lambda: broker.llen("celery") == 0, 30, second, "the copies taken")
        time.sleep(3)
        callbacks = fake.calls("callback")[requests_before:]
        assert sorted(c.data["id"] for c in callbacks) == sorted(due)
        assert set(
            Message.objects.filter(pk__in=list(due)).values_list("delivery", "delivery_attempts")
        ) == {(Message.Delivery.SENT, 2)}
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        sender.close()
        broker.flushdb()
