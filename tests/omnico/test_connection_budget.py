"""The connection budget (README, "Connection budget"): a worker holds at most its concurrency
in database connections (one per prefork child), and one setting sizes the worker and the
ingest slots alike."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from omnico.celery import pool_of_one
from tests.omnico.helpers import Process, clean_env, free_port, settings_in_subprocess
from tests.omnico.test_stack_smoke import live_database_url


def test_a_worker_childs_pool_holds_one_connection():
    databases = {
        "default": {"OPTIONS": {"pool": {"min_size": 2, "max_size": 20, "timeout": 10}}},
        "sqlite": {"OPTIONS": {}},
    }

    pool_of_one(databases)

    assert databases["default"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 1, "timeout": 10}
    assert databases["sqlite"] == {"OPTIONS": {}}


def test_every_worker_child_shrinks_the_configured_pools_when_it_starts(monkeypatch):
    from celery.signals import worker_process_init
    from django.conf import settings

    shrunk = []
    monkeypatch.setattr("omnico.celery.pool_of_one", shrunk.append)

    worker_process_init.send(sender=None)

    assert shrunk == [settings.DATABASES]


def test_worker_concurrency_sets_the_ingest_slots_unless_they_are_given(tmp_path):
    names = ("CELERY_WORKER_CONCURRENCY", "OMNICO_INGEST_SLOTS")

    tied = settings_in_subprocess(clean_env(tmp_path, OMNICO_WORKER_CONCURRENCY="6"), *names)
    given = settings_in_subprocess(
        clean_env(tmp_path, OMNICO_WORKER_CONCURRENCY="6", OMNICO_INGEST_SLOTS="12"), *names
    )

    assert json.loads(tied.stdout) == {"CELERY_WORKER_CONCURRENCY": 6, "OMNICO_INGEST_SLOTS": 6}
    assert json.loads(given.stdout) == {"CELERY_WORKER_CONCURRENCY": 6, "OMNICO_INGEST_SLOTS": 12}


#: Its own Redis database (9; 10-15 are other process tests'), so no other test's worker
#: takes these tasks.
BUDGET_REDIS_DB = 9


@pytest.mark.services
@pytest.mark.skipif(
    not os.environ.get("OMNICO_TEST_SERVICES"), reason="needs scripts/test's services"
)
@pytest.mark.django_db(transaction=True)
def test_a_prefork_worker_holds_at_most_its_concurrency_in_connections(tmp_path):
    app_name = f"omnico-budget-{free_port()}"
    redis_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{BUDGET_REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    env = clean_env(
        tmp_path,
        DATABASE_URL=f"{live_database_url()}?application_name={app_name}",
        REDIS_URL=redis_url,
        OMNICO_DB_POOL_MIN="2",  # a web process's pool: each child would open two
        OMNICO_DB_POOL_MAX="20",
        OMNICO_WORKER_CONCURRENCY="2",
    )
    worker = Process(
        [sys.executable, "-m", "celery", "-A", "omnico", "worker", "--loglevel", "info"]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        + ["--hostname", f"{app_name}@%h"],
        env=env,
        log=tmp_path / "worker.log",
    )
    try:
        sender = Celery("budget-test", broker=redis_url, set_as_current=False)
        for _ in range(20):  # a sweep reads the inbound events: a database connection each
            sender.send_task("channels_adapters.sweep_events")
        deadline = time.monotonic() + 120
        while worker.log.read_text(errors="replace").count("succeeded") < 20:
            assert time.monotonic() < deadline, worker.output()
            assert worker.popen.poll() is None, worker.output()
            time.sleep(0.5)
        time.sleep(1)  # a pool fills up to its minimum in the background

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
            )
            (held,) = cursor.fetchone()
    finally:
        worker.stop()

    assert "concurrency: 2 (prefork)" in worker.log.read_text(errors="replace")
    assert 1 <= held <= 2
