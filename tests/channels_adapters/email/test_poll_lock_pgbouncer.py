"""The mail-poll lock behind PgBouncer in transaction pooling (``OMNICO_DB_PGBOUNCER``).

There, consecutive statements of one client connection may run on different server
connections, and a server connection goes from client to client between transactions. A
session-level advisory lock taken in autocommit stays on the server connection that ran it:
the next client handed that connection holds it too (advisory locks are re-entrant within a
session), so two polls of one account would run at once. The lock is held in an open
transaction instead, which pins its server connection until the poll ends.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from django.db import connection

from channels_adapters.email import poll_lock
from channels_adapters.email.poll_lock import ADVISORY_NAMESPACE, mail_poll_lock
from tests.omnico.pgbouncer import running_pgbouncer

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"),
        reason="needs the PostgreSQL that scripts/test starts (and Debian's pgbouncer)",
    ),
    pytest.mark.django_db,
]

ACCOUNT = SimpleNamespace(pk=987_654)


@pytest.fixture
def through_pgbouncer(settings, monkeypatch):
    """The poll lock's connections go through a PgBouncer with two server connections."""
    params = connection.get_connection_params()
    with running_pgbouncer(
        host=params.get("host") or "127.0.0.1",
        port=int(params.get("port") or 5432),
        user=params["user"],
        pool_size=2,
    ) as port:
        settings.OMNICO_DB_PGBOUNCER = True
        original = connection.get_connection_params
        monkeypatch.setattr(
            connection,
            "get_connection_params",
            lambda: {**original(), "host": "127.0.0.1", "port": port},
        )
        yield


def _advisory_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND objid = %s AND granted",
            [ADVISORY_NAMESPACE, ACCOUNT.pk],
        )
        return cursor.fetchone()[0]


def test_a_second_poll_through_pgbouncer_finds_the_account_busy(through_pgbouncer):
    with mail_poll_lock(account=ACCOUNT) as first:  # type: ignore[arg-type]
        assert first is not None
        with mail_poll_lock(account=ACCOUNT) as second:  # type: ignore[arg-type]
            assert second is None
        first.check()  # still held, on its own server connection


def test_the_lock_is_gone_when_the_poll_through_pgbouncer_ends(through_pgbouncer):
    with mail_poll_lock(account=ACCOUNT) as first:  # type: ignore[arg-type]
        assert first is not None
        assert _advisory_locks_held() == 1
    assert _advisory_locks_held() == 0
    with mail_poll_lock(account=ACCOUNT) as again:  # type: ignore[arg-type]
        assert again is not None


def test_without_pgbouncer_the_lock_is_the_session_lock_as_before(settings):
    settings.OMNICO_DB_PGBOUNCER = False
    with mail_poll_lock(account=ACCOUNT) as first:  # type: ignore[arg-type]
        assert isinstance(first, poll_lock._AdvisoryLock)
        assert not isinstance(first, poll_lock._TransactionAdvisoryLock)
        assert _advisory_locks_held() == 1
    assert _advisory_locks_held() == 0
