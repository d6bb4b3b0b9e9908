"""The full stack for real: a web process and a separate Celery worker on PostgreSQL + Redis."""

import sys
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.omnico.helpers import NEEDS_SERVICES, Process, clean_env, free_port, wait_until_ok

pytestmark = NEEDS_SERVICES

# Its own Redis database: the broker, results and channel layer of this test stay apart from
# whatever the other tests (and xdist workers) put into the shared test Redis.
SMOKE_REDIS_DB = 15


def live_database_url() -> str:
    db = connection.settings_dict
    assert connection.vendor == "postgresql"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"


def smoke_redis_url() -> str:
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    return f"{base}/{SMOKE_REDIS_DB}"


@pytest.mark.django_db(transaction=True)
def test_web_and_a_separate_worker_answer_their_health_checks(tmp_path):
    env = clean_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=smoke_redis_url(),
        OMNICO_DB_POOL_MIN="0",
        OMNICO_DB_POOL_MAX="4",
    )
    port = free_port()
    worker = Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "omnico",
            "worker",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "info",
            "--hostname",
            f"smoke-{port}@%h",
        ],
        env=env,
        log=tmp_path / "worker.log",
    )
    web = Process(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        log=tmp_path / "web.log",
    )
    try:
        status, health = wait_until_ok(f"http://127.0.0.1:{port}/healthz", web)
        assert (status, health["database"], health["redis"]) == (200, "ok", "ok")

        status, answer = wait_until_ok(f"http://127.0.0.1:{port}/healthz/worker", worker, 90)
        assert status == 200
        assert answer["worker"].startswith("pong:")
        assert "omnico.ping" in worker.output()  # answered by the separate worker process
        assert "Embedded scheduler" not in web.output()  # beat's job in the full stack
    finally:
        web.stop()
        worker.stop()
