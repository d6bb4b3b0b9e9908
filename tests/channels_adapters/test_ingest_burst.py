"""A burst of webhooks end to end: a real web process, PostgreSQL, Redis and a Celery worker.

The webhooks are posted by 16 threads at once to a uvicorn process, whose webhook path runs each
in a thread of its own, so their INSERTs commit in another order than the ``received_at`` each
took before it (the order the ingest task reads in). The first burst lands before the worker
starts: one kick, one queued task, which must work the whole backlog itself. That is how the
last events of ``bench/run ingest`` stayed pending with no task queued (the task's second read
came back short and it returned after one more batch). The second burst lands while the worker
runs, its tasks racing the commits.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from django.conf import settings
from django.urls import reverse

from channels_adapters.models import InboundEvent
from channels_adapters.signing import sign
from configuration.models import ChannelAccount, ChannelKind
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env, free_port, wait_until_ok
from tests.omnico.test_stack_smoke import live_database_url
from tickets.models import Message

pytestmark = NEEDS_SERVICES

#: Its own Redis database (the stack smoke test uses 15): broker, kicks and channel layer of
#: this test stay apart from the other tests'.
BURST_REDIS_DB = 14
#: More than two reads of ``INGEST_BATCH`` (100) and not a multiple of it: the old task read
#: 100, then asked for 200, got 160, took 100 and stopped, leaving 60.
BURST = 260
SECRET = "burst-s3cret"


def _post_all(url: str, bodies: list[bytes], threads: int = 16) -> Counter:
    def post(chunk: list[bytes]) -> list[int]:
        with httpx.Client(timeout=30) as client:
            return [
                client.post(
                    url,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Omnico-Signature": sign(SECRET, body),
                    },
                ).status_code
                for body in chunk
            ]

    chunks = [bodies[n::threads] for n in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return Counter(code for codes in pool.map(post, chunks) for code in codes)


def _bodies(start: int, stop: int) -> list[bytes]:
    return [
        json.dumps(
            {"id": f"burst-{n}", "customer": {"id": f"c-{n % 37}"}, "text": f"mesaj {n}"}
        ).encode()
        for n in range(start, stop)
    ]


def _wait_for_no_pending(expected: int, timeout: float, worker: Process) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()
        if not pending and Message.objects.count() >= expected:
            return
        if worker.popen.poll() is not None:
            raise AssertionError(f"the worker exited:\n{worker.output()}")
        time.sleep(0.2)


def _out_of_order_commits() -> int:
    """Events that were INSERTed (took their id) after one with a later ``received_at``."""
    times = list(InboundEvent.objects.order_by("pk").values_list("received_at", flat=True))
    return sum(1 for before, after in zip(times, times[1:], strict=False) if after < before)


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_webhooks_becomes_messages_to_the_last_event(tmp_path):
    ChannelAccount.objects.create(kind=ChannelKind.API, name="burst", secret=SECRET)
    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{BURST_REDIS_DB}"
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    env = clean_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=redis_url,
        # One slot: the task a burst's kick queued must finish the burst alone. With more, a
        # helper task of another slot that happens to start later can hide a stranded event.
        OMNICO_INGEST_SLOTS="1",
        OMNICO_DB_POOL_MIN="0",
        OMNICO_DB_POOL_MAX="4",
        LOG_LEVEL="WARNING",
        # The account's secret is encrypted with this process's key.
        OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
    )
    port = free_port()
    web = Process(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"]
        + ["--no-collectstatic", "--log-level", "warning"],
        env=env,
        log=tmp_path / "web.log",
    )
    worker_args = [sys.executable, "-m", "celery", "-A", "omnico", "worker", "--pool", "solo"]
    worker_args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker_args += ["--loglevel", "warning", "--hostname", f"burst-{port}@%h"]
    worker = None
    path = reverse("hooks:webhook", kwargs={"kind": "api", "name": "burst"})
    hook = f"http://127.0.0.1:{port}{path}"
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/healthz", web)

        assert _post_all(hook, _bodies(0, BURST)) == {200: BURST}, web.output()
        assert broker.llen("celery") == 1  # the whole burst coalesced into one queued task
        worker = Process(worker_args, env=env, log=tmp_path / "worker.log")
        _wait_for_no_pending(BURST, 45, worker)
        pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).count()
        assert (pending, Message.objects.count()) == (0, BURST), worker.output()

        assert _post_all(hook, _bodies(BURST, 2 * BURST)) == {200: BURST}, web.output()
        _wait_for_no_pending(2 * BURST, 45, worker)
        statuses = Counter(InboundEvent.objects.values_list("status", flat=True))
        assert statuses == {InboundEvent.Status.PROCESSED: 2 * BURST}, (
            f"{statuses}; {_out_of_order_commits()} out-of-order commits\n{worker.output()}"
        )
        assert Message.objects.count() == 2 * BURST
        assert _out_of_order_commits() > 0  # the commits did race the ingest task's order
    finally:
        web.stop()
        if worker is not None:
            worker.stop()
        broker.flushdb()
