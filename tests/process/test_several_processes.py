"""Omnico as on several hosts: two web processes and two Celery workers on the real services,
PostgreSQL reached through PgBouncer in transaction pooling (``OMNICO_DB_PGBOUNCER=1``).

Every webhook of a burst is delivered twice, once to each web process (a provider's retry that
a balancer sends elsewhere), while both workers ingest: each lands exactly once. An agent whose
screen's socket is on web B sees the row of a message posted to web A. ``bench/run ingest
--cluster`` (and ``realtime``, ``support``) measure the same at scale; README, "Several
processes".
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection
from django.urls import reverse
from websockets.sync.client import connect

from channels_adapters.models import InboundEvent
from channels_adapters.signing import sign
from configuration.models import ChannelAccount, ChannelKind
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env, free_port, wait_until_ok
from tests.omnico.pgbouncer import running_pgbouncer
from tickets.models import Message

pytestmark = NEEDS_SERVICES

#: Its own Redis database: broker, kicks and channel layer of these processes only.
CLUSTER_REDIS_DB = 7
SECRET = "cluster-s3cret"
BURST = 120


def _post(url: str, body: bytes) -> int:
    """POST as a provider does: a 503 (no database connection within the webhook's short wait,
    seen on a busy machine) is sent again, which can only make a duplicate likelier."""
    with httpx.Client(timeout=30) as client:
        for _attempt in range(5):
            status = client.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Omnico-Signature": sign(SECRET, body),
                },
            ).status_code
            if status != 503:
                break
            time.sleep(1)
        return status


def _agent_session(django_user_model) -> str:
    user = django_user_model.objects.create_user(username="cluster-agent", password=None)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_workers_ingest_once_and_push_to_every_socket(
    tmp_path, django_user_model
):
    ChannelAccount.objects.create(kind=ChannelKind.API, name="cluster", secret=SECRET)
    session = _agent_session(django_user_model)
    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{CLUSTER_REDIS_DB}"
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    db = connection.settings_dict
    processes: list[Process] = []
    with running_pgbouncer(
        host=db["HOST"] or "127.0.0.1", port=int(db["PORT"]), user=db["USER"], pool_size=10
    ) as bouncer:
        env = clean_env(
            tmp_path,
            DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{bouncer}/{db['NAME']}",
            OMNICO_DB_PGBOUNCER="1",
            REDIS_URL=redis_url,
            OMNICO_DB_POOL_MIN="0",
            OMNICO_DB_POOL_MAX="4",
            OMNICO_INGEST_SLOTS="2",
            LOG_LEVEL="WARNING",
            SECRET_KEY=settings.SECRET_KEY,  # the agent's session hash
            OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
        )
        try:
            ports = [free_port(), free_port()]
            webs = [
                Process(
                    [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"]
                    + ["--no-collectstatic", "--log-level", "warning"],
                    env=env,
                    log=tmp_path / f"web{n}.log",
                )
                for n, port in enumerate(ports)
            ]
            processes += webs
            for n in range(2):
                processes.append(
                    Process(
                        [sys.executable, "-m", "celery", "-A", "omnico", "worker"]
                        + ["--pool", "prefork", "--concurrency", "2", "--loglevel", "warning"]
                        + ["--hostname", f"cluster{n}-{ports[0]}@%h"],
                        env=env,
                        log=tmp_path / f"worker{n}.log",
                    )
                )
            for port, web in zip(ports, webs, strict=True):
                # Four processes import Django at once: slow on a busy 2-core machine.
                wait_until_ok(f"http://127.0.0.1:{port}/healthz", web, timeout=180)
            path = reverse("hooks:webhook", kwargs={"kind": "api", "name": "cluster"})
            hooks = [f"http://127.0.0.1:{port}{path}" for port in ports]

            with connect(
                f"ws://127.0.0.1:{ports[1]}/ws/agent/",
                additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
                origin=f"http://127.0.0.1:{ports[1]}",
                open_timeout=30,
            ) as socket_on_b:
                assert 'data-live="hello"' in socket_on_b.recv(timeout=30)

                # Each webhook twice, to A and to B, from 16 threads; 40 customers.
                bodies = [
                    json.dumps(
                        {"id": f"cl-{n}", "customer": {"id": f"c-{n % 40}"}, "text": f"m{n}"}
                    ).encode()
                    for n in range(BURST)
                ]
                jobs = [(hook, body) for body in bodies for hook in hooks]
                with ThreadPoolExecutor(16) as pool:
                    statuses = Counter(pool.map(lambda job: _post(*job), jobs))
                assert statuses == {200: 2 * BURST}, webs[0].output()

                # Through web A only: its row must reach the socket on web B.
                marker = b'{"id": "cl-marker", "customer": {"id": "c-new"}, "text": "clmarkerx"}'
                assert _post(hooks[0], marker) == 200
                deadline = time.monotonic() + 60
                frames = ""
                while "clmarkerx" not in frames and time.monotonic() < deadline:
                    with contextlib.suppress(TimeoutError):
                        frames += socket_on_b.recv(timeout=1)
                assert "clmarkerx" in frames, webs[1].output()

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                Message.objects.count() < BURST + 1
                or InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()
            ):
                time.sleep(0.2)
            assert Message.objects.count() == BURST + 1, processes[2].output()
            assert InboundEvent.objects.count() == BURST + 1
            assert Counter(InboundEvent.objects.values_list("status", flat=True)) == {
                InboundEvent.Status.PROCESSED: BURST + 1
            }
            assert all(p.popen.poll() is None for p in processes)  # nobody died on the way
        finally:
            for process in processes:
                process.stop()
            broker.flushdb()
