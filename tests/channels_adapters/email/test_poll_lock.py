"""The mail-poll lock dies with its holder: real poller processes killed with SIGKILL.

A poller runs as a subprocess against the test database, through a loopback proxy in front of
Dovecot that holds back one ``FETCH ... BODY.PEEK[]`` command (the poller waits for its answer
while it holds the account's lock), and is killed there. Before the lock died with its holder,
a killed ``poll_mail`` left a Redis lock that made every poll skip the account for 10 minutes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time

import pytest
import redis
from django.conf import settings

from channels_adapters import services
from channels_adapters.email import poller
from channels_adapters.email.poll_lock import mail_poll_lock
from channels_adapters.models import InboundEvent, MailboxCursor
from tests.channels_adapters.email.conftest import append
from tests.channels_adapters.email.test_poller import DroppingClient, mail
from tests.omnico.helpers import Process, clean_env
from tests.omnico.test_stack_smoke import live_database_url
from tickets.models import Message

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"),
        reason="needs the PostgreSQL, Redis and Dovecot that scripts/test starts",
    ),
    pytest.mark.django_db(transaction=True),  # the poller process reads the test's rows
]

#: A Redis database no worker reads: the kicks of a poller sent there are as good as lost.
LOST_KICKS_REDIS_DB = 12
#: How long the next poll may find the account busy after its poller was killed.
BLOCKED_AT_MOST = 5.0


class StallingProxy:
    """TCP proxy to Dovecot that holds back the ``stall_at``-th (0-based) body FETCH it sees,
    over all connections, until ``release()``; ``stalled`` is set when it does."""

    def __init__(self, upstream: tuple[str, int], *, stall_at: int) -> None:
        self.upstream = upstream
        self.stall_at = stall_at
        self.fetches = 0
        self.stalled = threading.Event()
        self.released = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = [self.server]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, commands: bool) -> None:
        try:
            while data := source.recv(65536):
                if commands and b"BODY.PEEK[]" in data:
                    with self.lock:
                        stall = self.fetches == self.stall_at
                        self.fetches += 1
                    if stall:
                        self.stalled.set()
                        self.released.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def proxied_account(mail_account, dovecot):
    def make(*, stall_at: int) -> StallingProxy:
        proxy = StallingProxy((dovecot.host, dovecot.port), stall_at=stall_at)
        proxies.append(proxy)
        type(mail_account).objects.filter(pk=mail_account.pk).update(imap_port=proxy.port)
        mail_account.refresh_from_db()
        return proxy

    proxies: list[StallingProxy] = []
    yield make
    for proxy in proxies:
        proxy.close()


def _poller_process(tmp_path, args: list[str], *, redis_url: str) -> Process:
    env = clean_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=redis_url,
        OMNICO_DB_POOL_MIN="0",
        LOG_LEVEL="INFO",
        # The account's password is encrypted with this process's key.
        OMNICO_ENCRYPTION_KEY=",".join(settings.OMNICO_ENCRYPTION_KEYS),
        DJANGO_SETTINGS_MODULE="omnico.settings",
    )
    return Process([sys.executable, *args], env=env, log=tmp_path / "poller.log")


def _wait_stalled(proxy: StallingProxy, process: Process) -> None:
    deadline = time.monotonic() + 60
    while not proxy.stalled.wait(0.1):
        if process.popen.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the poller never reached its FETCH:\n{process.output()}")


def _kill(process: Process) -> None:
    process.popen.kill()  # SIGKILL: no finally, no atexit, the lock is not released by us
    process.popen.wait(10)
    process.stop()


def _poll_until_not_busy(account) -> tuple[poller.PollResult, float]:
    start = time.monotonic()
    while True:
        result = poller.mailbox_poll(account=account)
        waited = time.monotonic() - start
        if not result.busy or waited > BLOCKED_AT_MOST:
            return result, waited
        time.sleep(0.05)


def test_a_killed_poll_mail_does_not_block_the_next_poll(
    mail_account, dovecot, proxied_account, tmp_path
):
    append(dovecot, mail_account.imap_folder, mail(1), mail(2), mail(3))
    proxy = proxied_account(stall_at=0)
    process = _poller_process(tmp_path, ["manage.py", "poll_mail"], redis_url=settings.REDIS_URL)
    try:
        _wait_stalled(proxy, process)
        # Its poll is running (and holds the lock): an overlapping poll fetches nothing.
        overlapping = poller.mailbox_poll(account=mail_account)
        assert (overlapping.busy, overlapping.fetched) == (True, 0)

        _kill(process)
        result, waited = _poll_until_not_busy(mail_account)
    finally:
        process.stop()

    assert not result.busy, f"still busy {waited:.1f} s after the poller was killed"
    assert (result.error, result.fetched, result.stored) == ("", 3, 3)
    assert InboundEvent.objects.filter(channel_account=mail_account).count() == 3


def test_overlapping_poll_mail_processes_never_fetch_a_mail_twice(
    mail_account, dovecot, proxied_account, tmp_path
):
    append(dovecot, mail_account.imap_folder, *[mail(n) for n in range(1, 5)])
    proxy = proxied_account(stall_at=0)
    first = _poller_process(tmp_path, ["manage.py", "poll_mail"], redis_url=settings.REDIS_URL)
    try:
        _wait_stalled(proxy, first)
        (tmp_path / "second").mkdir()
        second = _poller_process(
            tmp_path / "second", ["manage.py", "poll_mail"], redis_url=settings.REDIS_URL
        )
        assert second.popen.wait(60) == 0, second.output()
        second.stop()
        proxy.release()
        assert first.popen.wait(60) == 0, first.output()
    finally:
        first.stop()

    assert "another poll is running; skipped" in second.output()
    assert f"{mail_account.name}: 4 fetched, 4 new" in first.output()
    assert proxy.fetches == 1  # one body FETCH in all: the second process fetched nothing
    assert InboundEvent.objects.filter(channel_account=mail_account).count() == 4


def test_events_a_killed_poller_committed_are_queued_at_once_by_the_next_poll(
    mail_account, dovecot, proxied_account, tmp_path, monkeypatch
):
    from channels_adapters import tasks
    from channels_adapters.services import inbound
    from omnico.celery import app as celery_app

    append(dovecot, mail_account.imap_folder, *[mail(n) for n in range(1, 6)])
    proxy = proxied_account(stall_at=1)  # the first batch of two is stored, then it hangs
    lost_kicks = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{LOST_KICKS_REDIS_DB}"
    script = (
        "import django; django.setup(); "
        "from channels_adapters.email.poller import mail_accounts_poll; "
        "mail_accounts_poll(batch_size=2)"
    )
    process = _poller_process(tmp_path, ["-c", script], redis_url=lost_kicks)
    celery_app.conf.task_always_eager = False  # the autouse eager_celery fixture restores it
    monkeypatch.setattr(inbound, "KICK_KEY", f"test-kick-{tmp_path.name}:{{db}}:{{slot}}")
    queued: list[int] = []
    monkeypatch.setattr(tasks.ingest_pending, "delay", queued.append)
    queued_at_first_fetch: list[list[int]] = []

    class Watching(DroppingClient):
        def fetch(self, messages, data, *args, **kwargs):
            if data == ["BODY.PEEK[]"] and not queued_at_first_fetch:
                queued_at_first_fetch.append(list(queued))
            return super().fetch(messages, data, *args, **kwargs)

    try:
        _wait_stalled(proxy, process)
        _kill(process)
        pending = InboundEvent.objects.filter(channel_account=mail_account, status="pending")
        assert pending.count() == 2  # committed by the killed poll; its kick went nowhere
        assert MailboxCursor.objects.get(mail_account=mail_account).last_uid == 2

        deadline = time.monotonic() + BLOCKED_AT_MOST
        while True:
            result = poller.mailbox_poll(
                account=mail_account,
                connect=lambda account: Watching(poller.imap_connect(account), fetches=10**6),
            )
            if not result.busy or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (result.busy, result.stored) == (False, 3)
        assert queued_at_first_fetch == [[0]]  # before this poll fetched anything
        assert services.events_ingest_pending(slot=0) == 5
        assert Message.objects.filter(channel_account=mail_account).count() == 5
    finally:
        process.stop()
        inbound._kick_clear(inbound._kick_key(0))
        redis.Redis.from_url(lost_kicks).flushdb()


def test_the_lock_is_held_by_one_session_at_a_time_and_freed_when_it_ends(mail_account):
    with mail_poll_lock(account=mail_account) as first:
        assert first is not None
        with mail_poll_lock(account=mail_account) as second:
            assert second is None
    with mail_poll_lock(account=mail_account) as again:
        assert again is not None


def test_a_poll_whose_lock_was_lost_stops_before_its_next_batch(mail_account, dovecot):
    """A lock gone with its connection (database restart, pg_terminate_backend) may already be
    another poll's: this one stores what it fetched and fetches no more."""
    from django.db import connection

    from channels_adapters.email.poll_lock import ADVISORY_NAMESPACE, PollLockLost

    append(dovecot, mail_account.imap_folder, *[mail(n) for n in range(1, 5)])

    class LosingTheLock(DroppingClient):
        def fetch(self, messages, data, *args, **kwargs):
            if data == ["BODY.PEEK[]"]:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
                        [ADVISORY_NAMESPACE, mail_account.pk],
                    )
                    assert cursor.fetchall() == [(True,)]
            return super().fetch(messages, data, *args, **kwargs)

    with pytest.raises(PollLockLost):
        poller.mailbox_poll(
            account=mail_account,
            batch_size=2,
            connect=lambda account: LosingTheLock(poller.imap_connect(account), fetches=10**6),
        )

    assert MailboxCursor.objects.get(mail_account=mail_account).last_uid == 2
    assert InboundEvent.objects.filter(channel_account=mail_account).count() == 2
    result = poller.mailbox_poll(account=mail_account)
    assert (result.fetched, result.stored) == (2, 2)
