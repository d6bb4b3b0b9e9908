"""Django's PostgreSQL backend, with a pool that checks a connection before handing it out.

Why not Django's own pool with ``CONN_HEALTH_CHECKS``: that passes psycopg_pool's ``check``,
whose loop sleeps about 1 s after a connection fails its check, then 2 s, 4 s... before the
next one. After a server restart every idle connection is dead, so a request took seconds (and
with several dead ones, the whole pool timeout) to get a working connection. Here a connection
that fails its check makes the pool check all its idle ones at once (dropping the dead ones and
opening new ones), and the request waits only for a new connection: after a restart the next
request gets a working connection as soon as the server accepts one.

``omnico.core.db.pool_wait(seconds)`` bounds how long code in its block waits for a connection
(the pool's ``timeout``, 10 s, otherwise): the webhooks and the health check wait 0.8 s, so
with the database down they answer 503 at once instead of holding the client for the pool
timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from time import monotonic
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.pool import AddConnection

from omnico.core.db import pool_wait_seconds

logger = logging.getLogger(__name__)


class CheckedPool(ConnectionPool):
    """A psycopg pool whose ``getconn`` hands out only a connection that answers.

    ``check_before_use`` (Django's ``CONN_HEALTH_CHECKS``) runs an empty query on the
    connection first (psycopg_pool's ``check_connection``: one round trip, well under a
    millisecond on a local network); a dead one is discarded with every other dead idle
    connection, and the caller waits for a fresh one within its deadline."""

    #: The longest pause between two attempts to reconnect. psycopg_pool doubles its pause
    #: (1 s, 2 s, 4 s...) up to its ``reconnect_timeout`` (5 min): after a 20 s outage its
    #: first attempt after the server's return came 11 s late. Attempts to a server that is
    #: down are refused at once, so one every 2 s per lost connection costs nothing.
    MAX_RECONNECT_DELAY = 2.0

    def __init__(self, *args: Any, check_before_use: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.check_before_use = check_before_use

    def schedule_task(self, task: Any, delay: float) -> None:
        if isinstance(task, AddConnection):  # a reconnection attempt after a failed one
            delay = min(delay, self.MAX_RECONNECT_DELAY)
        super().schedule_task(task, delay)

    def getconn(self, timeout: float | None = None) -> Any:
        if timeout is None:
            timeout = pool_wait_seconds()
        if timeout is None:
            timeout = self.timeout
        deadline = monotonic() + timeout
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise PoolTimeout(f"couldn't get a working connection after {timeout:.2f} sec")
            conn = super().getconn(timeout=left)
            if not self.check_before_use:
                return conn
            try:
                self.check_connection(conn)
            except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
                logger.warning(
                    "database connection failed its check (%s); checking the idle ones",
                    exc.__class__.__name__,
                )
                self.putconn(conn)  # broken: the pool drops it and opens another
                self.check()  # a restart killed the idle ones too: drop them all now
                continue
            return conn


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's own (django/db/backends/postgresql/base.py), unknown to django-stubs.
    _connection_pools: ClassVar[dict[str, ConnectionPool[Any]]]
    _configure_connection: Callable[[Any], Any]

    @property
    def pool(self) -> ConnectionPool[Any] | None:
        # Django's own property, building a CheckedPool (with its own check, not psycopg_pool's).
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets autocommit itself afterwards
            pool = CheckedPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check_before_use=self.settings_dict["CONN_HEALTH_CHECKS"],
                **({} if pool_options is True else pool_options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
