"""omnico.core.postgres: after a PostgreSQL restart the pool hands out a working connection at
once; with the server down, a short ``pool_wait`` gives up within it. Against a throwaway
cluster of its own, stopped and restarted here."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.db import connection
from psycopg_pool import PoolTimeout

from omnico.core.db import pool_wait
from omnico.core.postgres.base import CheckedPool
from tests.omnico.throwaway_postgres import ThrowawayPostgres

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"),
        reason="needs the PostgreSQL binaries scripts/test uses (OMNICO_TEST_SERVICES=1)",
    ),
]


@pytest.fixture(scope="module")
def server():
    pg = ThrowawayPostgres()
    yield pg
    pg.remove()


@pytest.fixture
def pool(server):
    pool = CheckedPool(conninfo=server.dsn, min_size=4, max_size=8, timeout=10, open=True)
    pool.wait(timeout=30)
    yield pool
    pool.close()


def _fill_idle(pool: CheckedPool, n: int) -> None:
    held = [pool.getconn() for _ in range(n)]
    for conn in held:
        pool.putconn(conn)


def test_after_a_restart_the_pool_hands_out_a_working_connection_at_once(server, pool):
    _fill_idle(pool, 6)  # six idle connections, all killed by the restart
    server.restart()

    started = time.monotonic()
    with pool.connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    took = time.monotonic() - started

    # psycopg_pool's own check sleeps 1 s, 2 s, 4 s... between dead connections (7 s and more
    # here); this one drops them all at the first and waits for one new connection only.
    assert took < 3, f"{took:.2f} s"


def test_after_a_restart_every_concurrent_caller_gets_a_working_connection(server, pool):
    _fill_idle(pool, 8)
    server.restart()
    errors: list[BaseException] = []

    def query() -> None:
        try:
            with pool.connection() as conn:
                conn.execute("SELECT pg_sleep(0.05)")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=query) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []


def test_with_the_server_down_a_short_wait_gives_up_within_it(server, pool):
    _fill_idle(pool, 2)
    server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout), pool_wait(0.5):
            pool.getconn()
        took = time.monotonic() - started
        assert took < 3, f"{took:.2f} s"  # not the pool's 10 s timeout
    finally:
        server.start()

    with pool.connection(timeout=30) as conn:  # back as soon as the server is
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_django_uses_the_checked_pool_with_the_settings_health_checks(db):
    assert isinstance(connection.pool, CheckedPool)
    assert connection.pool.check_before_use is True  # CONN_HEALTH_CHECKS


def test_after_an_outage_the_pool_reconnects_within_seconds_of_the_server_s_return(server, pool):
    _fill_idle(pool, 4)
    server.stop()
    try:
        down_until = time.monotonic() + 8.5
        while time.monotonic() < down_until:  # requests keep coming, and are refused at once
            with pytest.raises(PoolTimeout), pool_wait(0.3):
                pool.getconn()
            time.sleep(0.1)
        # psycopg_pool's own back-off has its next attempts 15 s and 31 s after the first by now
    finally:
        server.start()

    started = time.monotonic()
    with pool.connection(timeout=30) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    took = time.monotonic() - started
    print("reconnected after", took)  # noqa: T201
    assert took < 4, f"{took:.2f} s"
