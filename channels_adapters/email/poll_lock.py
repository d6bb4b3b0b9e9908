"""One poll of a mail account at a time, with a lock that dies with its holder.

Beat's poll task, ``manage.py poll_mail`` and a slow earlier poll may overlap; two polls of one
account would FETCH the same mails (the cursor and the dedupe key keep them from being *stored*
twice, but not from being downloaded twice). So a poll first takes the account's lock.

On PostgreSQL the lock is a session-level advisory lock, ``pg_try_advisory_lock('mail',
account id)``, taken on a connection of its own: not the request connection, which goes back to
the pool (and would keep the lock there) and which a batch's rollback must not touch. It is
released by ``pg_advisory_unlock`` when the poll ends, and by the server when the holder dies:
a process killed with SIGKILL has its socket closed by the kernel, its backend sees the end of
the stream and exits, and the lock goes with it, so the next poll runs at once. A host that
vanishes without closing the socket is noticed by the server's TCP keepalives, set on that
session to give up after about 25 seconds. The poller checks the lock's connection before each
batch (``PollLock.check``): a lock lost with its connection (a database restart, an
administrator's ``pg_terminate_backend``) stops the poll instead of letting a second one fetch
beside it.

Why not a lease (a key with a TTL renewed while the poll works): a killed holder still blocks
every poll until the TTL runs out, and a single FETCH of a large batch can outlast a short TTL
unless a heartbeat thread renews it. The advisory lock needs neither.

Behind PgBouncer in transaction pooling (``OMNICO_DB_PGBOUNCER``) a session-level lock would
stay on whichever server connection ran the ``pg_try_advisory_lock``, and the unlock could run
on another: the lock would outlive the poll. There the lock is transaction-level
(``pg_try_advisory_xact_lock``) in a transaction held open for the poll, which pins one server
connection; it ends with the transaction (rolled back on release, or by PgBouncer when the
client's socket closes). The server-side keepalives are not set then: they would watch
PgBouncer's socket, not the poller's (PgBouncer's own ``tcp_keepalive`` watches the client).

Embedded (SQLite, one process) a process-local lock is enough: it goes with the process too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from configuration.models import MailAccount

logger = logging.getLogger(__name__)

#: First key of the advisory lock, "mail" in ASCII (it shows as ``classid`` in ``pg_locks``);
#: the second is the account's id. Advisory locks belong to one database, so installations
#: (and parallel test runs) sharing a PostgreSQL server do not meet.
ADVISORY_NAMESPACE = 0x6D61696C
#: Server-side TCP keepalives of the lock's session (seconds, count): a holder whose host is
#: gone releases the lock after about idle + interval x count.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3
CONNECT_TIMEOUT = 10


class PollLockLost(Exception):
    """The poll's lock went away while it worked (its connection died): stop polling."""


class PollLock:
    """A held lock. ``check()`` raises ``PollLockLost`` when it is no longer held."""

    def check(self) -> None:
        return None

    def release(self) -> None:
        return None


class _AdvisoryLock(PollLock):
    def __init__(self, conn, key: tuple[int, int]) -> None:
        self.conn = conn
        self.key = key

    def check(self) -> None:
        try:
            self.conn.execute("SELECT 1")
        except Exception as exc:
            raise PollLockLost("the mail poll's lock connection was lost") from exc

    def release(self) -> None:
        # Unlock first: closing alone returns before the server has ended the session, and a
        # poll right after this one could still find the lock held.
        with contextlib.suppress(Exception):  # a dead connection released it already
            self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
        with contextlib.suppress(Exception):
            self.conn.close()


class _TransactionAdvisoryLock(_AdvisoryLock):
    def release(self) -> None:
        # The rollback ends the transaction and with it the lock, on the server connection
        # that holds it.
        with contextlib.suppress(Exception):
            self.conn.rollback()
        with contextlib.suppress(Exception):
            self.conn.close()


class _LocalLock(PollLock):
    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock

    def release(self) -> None:
        self.lock.release()


_local_locks: dict[tuple[str, int], threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _transaction_advisory_lock(account: MailAccount) -> PollLock | None:
    params = connection.get_connection_params()
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    conn = connection.Database.connect(**params, autocommit=False)  # type: ignore[attr-defined]
    key = (ADVISORY_NAMESPACE, int(account.pk))
    try:
        row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", key).fetchone()
    except BaseException:
        conn.close()
        raise
    if not row[0]:
        conn.close()
        return None
    return _TransactionAdvisoryLock(conn, key)


def _advisory_lock(account: MailAccount) -> PollLock | None:
    if settings.OMNICO_DB_PGBOUNCER:
        return _transaction_advisory_lock(account)
    params = connection.get_connection_params()
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    # Every backend's wrapper has its driver module as ``Database``; the stubs leave it out.
    conn = connection.Database.connect(**params, autocommit=True)  # type: ignore[attr-defined]
    key = (ADVISORY_NAMESPACE, int(account.pk))
    try:
        row = conn.execute(
            "SELECT set_config('tcp_keepalives_idle', %s, false),"
            " set_config('tcp_keepalives_interval', %s, false),"
            " set_config('tcp_keepalives_count', %s, false),"
            " pg_try_advisory_lock(%s, %s)",
            (str(KEEPALIVE_IDLE), str(KEEPALIVE_INTERVAL), str(KEEPALIVE_COUNT), *key),
        ).fetchone()
    except BaseException:
        conn.close()
        raise
    if not row[-1]:
        conn.close()
        return None
    return _AdvisoryLock(conn, key)


def _local_lock(account: MailAccount) -> PollLock | None:
    with _local_locks_guard:
        lock = _local_locks.setdefault(
            (str(connection.settings_dict["NAME"]), int(account.pk)), threading.Lock()
        )
    if not lock.acquire(blocking=False):
        return None
    return _LocalLock(lock)


@contextlib.contextmanager
def mail_poll_lock(*, account: MailAccount) -> Iterator[PollLock | None]:
    """Hold the account's poll lock for the ``with`` block; yields None (and holds nothing)
    when another poll of the account holds it. Raises when the database cannot be reached."""
    lock = _advisory_lock(account) if connection.vendor == "postgresql" else _local_lock(account)
    try:
        yield lock
    finally:
        if lock is not None:
            lock.release()
