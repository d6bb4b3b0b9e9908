"""Every process survives a PostgreSQL restart: a web process and a Celery worker on a
throwaway cluster that is restarted, then stopped and started again, under them.

After a restart the next webhook is stored (200, not 500) and the next task ingests it (no
"terminating connection due to administrator command"); with the server down a webhook is
answered 503 with Retry-After at once, and /healthz says so; once the server is back, webhooks
are stored again and ingested."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from email.message import Message

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from channels_adapters.signing import sign
from tests.channels_adapters.conftest import SECRET, make_channel
from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env, free_port, wait_until_ok
from tests.omnico.throwaway_postgres import ThrowawayPostgres

pytestmark = NEEDS_SERVICES

# Its own Redis database (broker, kicks): the other tests that start a worker use 12, 14, 15.
RESTART_REDIS_DB = 10


def _post(url: str, n: int) -> tuple[int, Message, float]:
    body = json.dumps(
        {"id": f"m-{n}", "customer": {"id": "c-1", "name": "Ayşe"}, "text": f"mesaj {n}"}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - a loopback URL of this test
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Omnico-Signature": sign(SECRET, body)},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    return status, headers, time.monotonic() - started


def _get_status(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def _wait_ingested(pg: ThrowawayPostgres, count: int, worker: Process, timeout: float = 45) -> None:
    """Until ``count`` events are processed: only the worker's tasks do it (no beat here)."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(pg.dsn, connect_timeout=2) as conn:
                seen = conn.execute(
                    "SELECT status, count(*) FROM channels_adapters_inboundevent GROUP BY status"
                ).fetchall()
        except psycopg.OperationalError:
            seen = "database not up yet"
        if seen == [("processed", count)]:
            return
        time.sleep(0.2)
    raise AssertionError(f"events: {seen}, expected {count} processed:\n{worker.output()}")


@pytest.fixture
def server(tmp_path):
    """A throwaway cluster holding a copy of this test's database (schema, migrations and the
    channel account made by the test)."""
    pg = ThrowawayPostgres()
    yield pg
    pg.remove()


@pytest.mark.django_db(transaction=True)  # the account is committed, so the dump has it
def test_web_and_worker_survive_a_database_restart_and_answer_503_while_it_is_down(
    server, tmp_path
):
    make_channel("api")
    db = connection.settings_dict
    dump = server.run(
        "pg_dump",
        *("-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "--no-owner", db["NAME"]),
    )
    server.load(dump)

    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{RESTART_REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    env = clean_env(
        tmp_path,
        DATABASE_URL=server.url,
        REDIS_URL=redis_url,
        OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
        OMNICO_DB_POOL_MIN="2",
        OMNICO_DB_POOL_MAX="4",
    )
    port = free_port()
    worker = Process(
        [sys.executable, "-m", "celery", "-A", "omnico", "worker", "--pool", "solo"]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "info"]
        + ["--hostname", f"restart-{port}@%h"],
        env=env,
        log=tmp_path / "worker.log",
    )
    web = Process(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        log=tmp_path / "web.log",
    )
    hook, health = (
        f"http://127.0.0.1:{port}/hooks/api/api-main/",
        f"http://127.0.0.1:{port}/healthz",
    )
    figures: dict[str, float] = {}
    try:
        wait_until_ok(health, web)
        assert _post(hook, 1)[0] == 200
        _wait_ingested(server, 1, worker)

        server.restart()
        status, _headers, figures["first webhook after restart"] = _post(hook, 2)
        assert status == 200, web.output()  # a dead pooled connection is never used
        started = time.monotonic()
        _wait_ingested(server, 2, worker)  # the worker's dead connections too
        figures["its ingest"] = time.monotonic() - started

        server.stop()
        status, headers, figures["webhook while down"] = _post(hook, 3)
        assert status == 503, web.output()
        assert 0 < int(headers["Retry-After"]) <= 60
        assert figures["webhook while down"] < 3  # ~0.8 s: OMNICO_WEBHOOK_DB_WAIT_MS
        status, figures["healthz while down"] = _get_status(health)
        assert status == 503
        assert figures["healthz while down"] < 3

        server.start()
        started = time.monotonic()
        while (status := _post(hook, 3)[0]) != 200 and time.monotonic() - started < 30:
            time.sleep(0.2)
        figures["stored again after start"] = time.monotonic() - started
        assert status == 200, web.output()
        _wait_ingested(server, 3, worker)
    finally:
        web.stop()
        worker.stop()
        print({name: round(value, 3) for name, value in figures.items()})  # noqa: T201

    worker_log = worker.log.read_text(errors="replace")
    web_log = web.log.read_text(errors="replace")
    assert "raised unexpected" not in worker_log  # no task failed
    assert "terminating connection" not in worker_log + web_log
    assert " 500 " not in web_log
