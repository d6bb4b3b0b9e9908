from __future__ import annotations

import logging
import socket
import time
import uuid
from email.message import EmailMessage

import pytest

from channels_adapters.email import poller
from channels_adapters.email.adapter import mail_dedupe_key
from channels_adapters.email.parser import parse_mail
from channels_adapters.email.poll_lock import mail_poll_lock
from channels_adapters.email.tasks import poll_mail_accounts
from channels_adapters.models import InboundEvent, MailboxCursor
from customers.models import Identity
from tests.channels_adapters.email.conftest import append, corpus_files
from tickets.models import ACTIVE_STATUSES, Message, Ticket

pytestmark = pytest.mark.django_db


def mail(n: int, *, sender="ayse@example.com", subject=None, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ayşe <{sender}>"
    msg["To"] = "destek@omnico.test"
    msg["Subject"] = subject or f"Sipariş {n}"
    msg["Message-ID"] = f"<mail-{n}-{sender}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(f"Merhaba, mesaj {n}")
    return msg.as_bytes()


@pytest.fixture
def poll(django_capture_on_commit_callbacks, eager_celery):
    """Poll every enabled account with ingest run as it is after commit."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return poller.mail_accounts_poll(**kwargs)

    return run


def test_appended_mails_become_tickets(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail(1), mail(2, sender="mehmet@example.com"))

    [result] = poll()

    assert (result.error, result.stored) == ("", 2)
    tickets = Ticket.objects.filter(channel_account=mail_account).order_by("pk")
    assert [t.title for t in tickets] == ["Sipariş 1", "Sipariş 2"]
    assert [t.status for t in tickets] == ["open", "open"]
    assert Message.objects.get(external_id="mail-1-ayse@example.com").body.strip() == (
        "Merhaba, mesaj 1"
    )
    assert Identity.objects.filter(kind="email", external_id="mehmet@example.com").exists()
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_polling_never_marks_mail_read_or_deletes_it(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail(1))
    poll()
    client = dovecot.client()
    client.select_folder(mail_account.imap_folder, readonly=True)
    flags = client.get_flags(client.search("ALL"))
    client.logout()
    assert len(flags) == 1
    assert b"\\Seen" not in next(iter(flags.values()))


def test_polling_twice_brings_nothing_new(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail(1), mail(2))
    poll()
    [again] = poll()

    assert (again.fetched, again.stored) == (0, 0)
    assert Message.objects.filter(channel_account=mail_account).count() == 2

    append(dovecot, mail_account.imap_folder, mail(3))
    [third] = poll()
    assert (third.fetched, third.stored) == (1, 1)
    assert Message.objects.filter(channel_account=mail_account).count() == 3


def _recreate_with_new_uidvalidity(dovecot, folder: str) -> None:
    client = dovecot.client()
    before = client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]
    for _attempt in range(5):
        client.delete_folder(folder)
        client.create_folder(folder)
        if client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"] != before:
            break
        time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock
    client.logout()


def test_uidvalidity_change_rescans_without_duplicates(mail_account, dovecot, poll):
    folder = mail_account.imap_folder
    append(dovecot, folder, mail(1), mail(2))
    poll()
    old = MailboxCursor.objects.get(mail_account=mail_account)

    _recreate_with_new_uidvalidity(dovecot, folder)
    append(dovecot, folder, mail(1), mail(2), mail(3))
    [result] = poll()

    cursor = MailboxCursor.objects.get(mail_account=mail_account)
    assert cursor.uidvalidity != old.uidvalidity
    assert cursor.last_uid == 3
    assert (result.fetched, result.stored) == (3, 1)
    assert Message.objects.filter(channel_account=mail_account).count() == 3
    assert InboundEvent.objects.filter(channel_account=mail_account).count() == 3


class DroppingClient:
    """The real client, whose socket dies after ``fetches`` successful FETCHes."""

    def __init__(self, client, fetches: int):
        self.client = client
        self.fetches = fetches

    def __getattr__(self, name):
        return getattr(self.client, name)

    def fetch(self, *args, **kwargs):
        if self.fetches == 0:
            self.client.socket().shutdown(socket.SHUT_RDWR)
        self.fetches -= 1
        return self.client.fetch(*args, **kwargs)


def test_connection_drop_mid_fetch_loses_nothing_and_duplicates_nothing(
    mail_account, dovecot, django_capture_on_commit_callbacks, eager_celery
):
    append(dovecot, mail_account.imap_folder, *[mail(n) for n in range(1, 6)])

    def dropping(account):  # the sizes, the first batch of two, then the line drops
        return DroppingClient(poller.imap_connect(account), fetches=2)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
        poller.mailbox_poll(account=mail_account, batch_size=2, connect=dropping)

    assert MailboxCursor.objects.get(mail_account=mail_account).last_uid == 2
    assert Message.objects.filter(channel_account=mail_account).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        result = poller.mailbox_poll(account=mail_account, batch_size=2)

    assert (result.fetched, result.stored) == (3, 3)
    ids = list(
        Message.objects.filter(channel_account=mail_account).values_list("external_id", flat=True)
    )
    assert sorted(ids) == sorted(f"mail-{n}-ayse@example.com" for n in range(1, 6))
    # All five are one customer's messages on one conversation.
    assert Ticket.objects.filter(channel_account=mail_account).count() == 1


def test_one_broken_account_does_not_stop_the_others_and_its_password_is_not_logged(
    mail_account, dovecot, poll, caplog
):
    broken = type(mail_account).objects.create(
        name="broken",
        email_address="other@omnico.test",
        username=dovecot.user,
        password="Wr0ng-Secret-Pass",  # noqa: S106
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security="none",
        smtp_host="127.0.0.1",
    )
    type(mail_account).objects.create(
        name="switched-off",
        enabled=False,
        email_address="off@omnico.test",
        imap_host="127.0.0.1",
        imap_port=1,
        smtp_host="127.0.0.1",
    )
    append(dovecot, mail_account.imap_folder, mail(1))

    with caplog.at_level(logging.INFO):
        results = poll()

    by_name = {r.account: r for r in results}
    assert set(by_name) == {mail_account.name, broken.name}  # the disabled one is not polled
    assert "Wrong user name or password" in by_name["broken"].error
    assert by_name[mail_account.name].stored == 1
    assert "broken" in caplog.text
    assert "Wr0ng-Secret-Pass" not in caplog.text


def test_auto_reply_does_not_open_a_ticket(mail_account, dovecot, poll):
    append(
        dovecot,
        mail_account.imap_folder,
        mail(1, sender="away@example.com", subject="Out of office", Auto_Submitted="auto-replied"),
    )
    poll()

    message = Message.objects.get(external_id="mail-1-away@example.com")
    assert message.is_automatic
    assert not Ticket.objects.filter(
        channel_account=mail_account, status__in=ACTIVE_STATUSES
    ).exists()


def test_celery_task_polls_enabled_accounts(
    mail_account, dovecot, django_capture_on_commit_callbacks, eager_celery
):
    append(dovecot, mail_account.imap_folder, mail(1))
    with django_capture_on_commit_callbacks(execute=True):
        stored = poll_mail_accounts.delay().get()
    assert stored == 1
    assert Ticket.objects.filter(channel_account=mail_account).count() == 1


def test_every_corpus_mail_becomes_a_ticket_or_an_automatic_message(mail_account, dovecot, poll):
    raws = [path.read_bytes() for path in corpus_files()]
    append(dovecot, mail_account.imap_folder, *raws)

    [result] = poll(batch_size=25)

    assert result.error == ""
    assert result.fetched == len(raws)
    events = InboundEvent.objects.filter(channel_account=mail_account)
    assert events.filter(status="failed").count() == 0, list(
        events.filter(status="failed").values_list("dedupe_key", "error")
    )
    parsed = [parse_mail(raw) for raw in raws]
    messages = Message.objects.filter(channel_account=mail_account).select_related("ticket")
    assert {m.meta["message_id"] for m in messages} == {p.external_id for p in parsed}
    # Corpus mails that share a Message-ID but say different things are each kept.
    assert len(messages) == len({(p.external_id, p.content_key) for p in parsed})
    for message in messages:
        assert message.is_automatic or message.ticket.status in ACTIVE_STATUSES


def test_poll_mail_command_reports_each_account(mail_account, dovecot, eager_celery):
    from io import StringIO

    from django.core.management import call_command

    append(dovecot, mail_account.imap_folder, mail(1), mail(2))
    out = StringIO()
    call_command("poll_mail", stdout=out)
    assert f"{mail_account.name}: 2 fetched, 2 new" in out.getvalue()
    assert InboundEvent.objects.filter(channel_account=mail_account).count() == 2


def test_a_second_poll_of_an_account_being_polled_waits_its_turn(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail(1), mail(2))
    with mail_poll_lock(account=mail_account) as held:  # a slow poll of this account is running
        assert held is not None
        [busy] = poll()
        assert busy.busy and busy.fetched == 0
        assert not InboundEvent.objects.filter(channel_account=mail_account).exists()

    [result] = poll()
    assert not result.busy and result.stored == 2
    with mail_poll_lock(account=mail_account) as again:
        assert again is not None  # released after the poll


class CountingClient(DroppingClient):
    def __init__(self, client):
        super().__init__(client, fetches=10**6)
        self.batches: list[int] = []

    def fetch(self, messages, data, *args, **kwargs):
        if data == ["BODY.PEEK[]"]:
            self.batches.append(len(messages))
        return super().fetch(messages, data, *args, **kwargs)


def test_big_mails_are_fetched_in_smaller_batches_and_all_stored(
    mail_account, dovecot, django_capture_on_commit_callbacks, eager_celery
):
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "Ayşe <ayse@example.com>", "destek@omnico.test", "PDF"
    big["Message-ID"] = "<big@example.com>"
    big.set_content("Ekte")
    big.add_attachment(b"%PDF" + b"x" * 60_000, maintype="application", subtype="pdf")
    append(dovecot, mail_account.imap_folder, mail(1), big.as_bytes(), mail(2), mail(3))
    clients: list[CountingClient] = []

    def counting(account):
        clients.append(CountingClient(poller.imap_connect(account)))
        return clients[-1]

    with django_capture_on_commit_callbacks(execute=True):
        result = poller.mailbox_poll(
            account=mail_account, batch_size=10, batch_bytes=50_000, connect=counting
        )

    # 100 KB of mail with at most 50 KB per batch: the big one alone, the small ones together.
    assert clients[0].batches == [1, 1, 2]
    assert (result.fetched, result.stored) == (4, 4)
    assert Message.objects.filter(channel_account=mail_account).count() == 4


def test_batches_keep_order_and_bounds():
    sizes = {1: 10, 2: 10, 3: 100, 4: 10, 5: 10, 6: 10}
    assert poller._batches(sizes, [1, 2, 3, 4, 5, 6], count=2, limit=50) == [
        [1, 2],
        [3],
        [4, 5],
        [6],
    ]
    assert poller._batches({}, [], count=2, limit=50) == []


def test_a_poll_that_dies_after_a_batch_leaves_that_batch_queued_for_ingest(
    mail_account, dovecot, django_capture_on_commit_callbacks, monkeypatch
):
    """The full stack (tasks queued, not run): the mails of a committed batch are events with
    an ingest task queued, though the poll itself failed on the next batch."""
    from channels_adapters import services, tasks
    from channels_adapters.services import inbound
    from omnico.celery import app as celery_app

    celery_app.conf.task_always_eager = False  # the autouse eager_celery fixture restores it
    monkeypatch.setattr(inbound, "KICK_KEY", f"test-kick-{uuid.uuid4().hex}:{{db}}:{{slot}}")
    queued: list[int] = []
    monkeypatch.setattr(tasks.ingest_pending, "delay", queued.append)
    append(dovecot, mail_account.imap_folder, *[mail(n) for n in range(1, 6)])

    def dropping(account):  # the sizes, the first batch of two, then the line drops
        return DroppingClient(poller.imap_connect(account), fetches=2)

    try:
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
            poller.mailbox_poll(account=mail_account, batch_size=2, connect=dropping)

        pending = InboundEvent.objects.filter(channel_account=mail_account, status="pending")
        assert pending.count() == 2
        assert queued == [0]  # one ingest task for the batch, queued when it committed
        assert services.events_ingest_pending(slot=0) == 2
        assert Message.objects.filter(channel_account=mail_account).count() == 2
    finally:
        inbound._kick_clear(inbound._kick_key(0))


@pytest.fixture
def queued_ingest(monkeypatch):
    """The full stack's kick (tasks queued, not run): the slots of the ingest_pending tasks
    queued, in order."""
    from channels_adapters import tasks
    from channels_adapters.services import inbound
    from omnico.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    monkeypatch.setattr(inbound, "KICK_KEY", f"test-kick-{uuid.uuid4().hex}:{{db}}:{{slot}}")
    queued: list[int] = []
    monkeypatch.setattr(tasks.ingest_pending, "delay", queued.append)
    monkeypatch.setattr(
        tasks.ingest_pending, "apply_async", lambda args, **kw: queued.append(*args)
    )
    try:
        yield queued
    finally:
        celery_app.conf.task_always_eager = previous
        inbound._kick_clear(inbound._kick_key(0))


def _left_by_a_killed_poll(account, *numbers: int) -> None:
    """Events a poll committed before it was killed, before its after-commit kick ran."""
    from channels_adapters.services import event_record

    for n in numbers:
        raw = mail(n)
        event_record(account=account, body=raw, dedupe_key=mail_dedupe_key(raw))


def test_events_a_killed_poll_committed_are_queued_before_the_next_poll_fetches(
    mail_account, dovecot, queued_ingest
):
    from channels_adapters import services

    _left_by_a_killed_poll(mail_account, 1, 2)
    append(dovecot, mail_account.imap_folder, mail(3))
    queued_at_first_fetch: list[list[int]] = []

    class Watching(DroppingClient):
        def fetch(self, messages, data, *args, **kwargs):
            if data == ["BODY.PEEK[]"] and not queued_at_first_fetch:
                queued_at_first_fetch.append(list(queued_ingest))
            return super().fetch(messages, data, *args, **kwargs)

    result = poller.mailbox_poll(
        account=mail_account,
        connect=lambda account: Watching(poller.imap_connect(account), fetches=10**6),
    )

    assert result.stored == 1
    assert queued_at_first_fetch == [[0]]  # queued at once, not after this poll's own batches
    assert services.events_ingest_pending(slot=0) == 3
    assert Message.objects.filter(channel_account=mail_account).count() == 3


def test_events_left_pending_are_queued_even_when_the_mail_server_is_down(
    mail_account, queued_ingest
):
    _left_by_a_killed_poll(mail_account, 1)
    type(mail_account).objects.filter(pk=mail_account.pk).update(imap_port=1)
    mail_account.refresh_from_db()

    [result] = poller.mail_accounts_poll()

    assert result.error
    assert queued_ingest == [0]


def test_a_poll_with_nothing_pending_queues_no_ingest(mail_account, queued_ingest, dovecot):
    [result] = poller.mail_accounts_poll()

    assert (result.error, result.fetched) == ("", 0)
    assert queued_ingest == []
