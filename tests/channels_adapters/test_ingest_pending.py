"""Coalesced ingest: one queued task works a burst of events; nothing waits on a lost kick."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_adapters import services, tasks
from channels_adapters.models import InboundEvent
from channels_adapters.services import inbound, ingest
from configuration.models import ChannelKind, MailAccount
from customers.models import Customer, Identity
from omnico.celery import app as celery_app
from tickets.models import Message, Ticket, TicketStatus


@pytest.fixture
def queued(monkeypatch):
    """The full stack's behaviour: tasks are queued, not run; records what was queued."""
    celery_app.conf.task_always_eager = False  # the autouse eager_celery fixture restores it
    monkeypatch.setattr(inbound, "KICK_KEY", f"test-kick-{uuid.uuid4().hex}:{{db}}:{{slot}}")
    sent: list[tuple] = []
    monkeypatch.setattr(tasks.ingest_pending, "delay", lambda *a: sent.append(("pending", *a)))
    monkeypatch.setattr(tasks.ingest_event, "delay", lambda *a: sent.append(("event", *a)))
    yield sent
    for slot in range(8):
        inbound._kick_clear(inbound._kick_key(slot))


def _api(n: int, customer: str = "c-1") -> bytes:
    return json.dumps({"id": f"m-{n}", "customer": {"id": customer}, "text": f"mesaj {n}"}).encode()


def _store(account, n: int, customer: str = "c-1", capture=None) -> InboundEvent:
    with capture(execute=True):
        event, created = services.event_record(
            account=account, body=_api(n, customer), dedupe_key=f"message:m-{n}"
        )
    assert created
    return event


def test_a_burst_queues_one_task_that_turns_every_event_into_a_message(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    for n in range(5):
        _store(account, n, f"c-{n % 2}", django_capture_on_commit_callbacks)

    assert queued == [("pending", 0)]  # five events, one Celery message

    assert services.events_ingest_pending(slot=0) == 5
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Message.objects.count() == 5
    assert Ticket.objects.count() == 2  # two customers, one active ticket each


def test_an_event_stored_after_the_task_started_kicks_again(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    services.events_ingest_pending(slot=0)

    _store(account, 2, capture=django_capture_on_commit_callbacks)

    assert queued == [("pending", 0), ("pending", 0)]
    assert services.events_ingest_pending(slot=0) == 1
    assert Message.objects.count() == 2


def test_a_failing_event_is_marked_failed_and_the_rest_are_processed(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        bad, _ = services.event_record(account=account, body=b"[]", dedupe_key="broken")
    _store(account, 3, capture=django_capture_on_commit_callbacks)

    assert services.events_ingest_pending(slot=0) == 3

    bad.refresh_from_db()
    assert bad.status == InboundEvent.Status.FAILED
    assert "JSON object" in bad.error
    assert Message.objects.count() == 2


def test_a_long_backlog_adds_a_parallel_task_and_hands_over_past_the_limit(
    channel, queued, django_capture_on_commit_callbacks, settings
):
    settings.OMNICO_INGEST_SLOTS = 2
    account = channel("api")
    for n in range(services.INGEST_FANOUT_AFTER + 5):
        _store(account, n, capture=django_capture_on_commit_callbacks)
    queued.clear()

    handled = services.events_ingest_pending(slot=0, limit=services.INGEST_FANOUT_AFTER + 2)

    assert handled == services.INGEST_FANOUT_AFTER + 2
    assert queued == [("pending", 1), ("pending", 0)]  # a helper, then its own successor
    assert InboundEvent.objects.filter(status="pending").count() == 3


def test_a_dead_broker_loses_nothing_and_the_sweep_queues_the_event(
    channel, queued, monkeypatch, django_capture_on_commit_callbacks
):
    account = channel("api")

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.ingest_pending, "delay", broker_down)
    event = _store(account, 1, capture=django_capture_on_commit_callbacks)  # no exception

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PENDING
    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    # The broker is back (beat's sweep reaches a worker through it).
    monkeypatch.setattr(tasks.ingest_pending, "delay", lambda *a: queued.append(("pending", *a)))
    assert services.events_sweep() == 1
    assert queued == [("pending", 0)]  # a task that works every pending event, this one first
    assert services.events_ingest_pending(slot=0) == 1
    assert Message.objects.count() == 1


def _store_many(account, customers: list[str], capture, start: int = 0) -> list[int]:
    ids = []
    for n, customer in enumerate(customers, start=start):
        ids.append(_store(account, n, customer, capture).pk)
    return ids


def test_a_batch_reads_its_customers_and_locks_their_tickets_once_not_per_message(
    channel, queued, django_capture_on_commit_callbacks
):
    """Known customers with open tickets: each further event in a batch costs its message's
    INSERT and its ticket's UPDATE, nothing more (customers and tickets are read ahead)."""
    account = channel("api")
    customers = [f"c-{n}" for n in range(10)]
    # First contact: every customer gets a ticket.
    ingest._ingest_together(_store_many(account, customers, django_capture_on_commit_callbacks))
    assert Ticket.objects.count() == 10

    costs = {}
    for size, start in ((5, 100), (10, 200)):
        ids = _store_many(account, customers[:size], django_capture_on_commit_callbacks, start)
        with (
            django_capture_on_commit_callbacks() as callbacks,
            CaptureQueriesContext(connection) as ctx,
        ):
            assert ingest._ingest_together(ids) == size
        costs[size] = len(ctx.captured_queries)
        assert callbacks  # realtime and routing after commit
        sql = "\n".join(q["sql"] for q in ctx.captured_queries).upper()
        assert sql.count("FOR UPDATE") == 2  # the events claimed, the tickets locked: once each
        # Only the batch's own transaction (a savepoint here, inside the test's transaction).
        assert sum(q["sql"].startswith("SAVEPOINT") for q in ctx.captured_queries) == 1

    assert costs[10] - costs[5] == 2 * 5  # INSERT message + UPDATE ticket per event
    assert Message.objects.count() == 25
    assert Ticket.objects.count() == 10  # every later message joined its sender's ticket


def test_a_new_customer_writing_twice_in_one_batch_gets_one_ticket(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    ids = _store_many(account, ["new", "known", "new"], django_capture_on_commit_callbacks)

    assert ingest._ingest_together(ids) == 3

    assert Ticket.objects.filter(customer__identities__external_id="new").count() == 1
    ticket = Ticket.objects.get(customer__identities__external_id="new")
    assert list(ticket.messages.order_by("pk").values_list("body", flat=True)) == [
        "mesaj 0",
        "mesaj 2",
    ]


def test_a_batch_ignores_a_resolved_ticket_and_opens_a_new_one(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    ingest._ingest_together(_store_many(account, ["c-1"], django_capture_on_commit_callbacks))
    first = Ticket.objects.get()
    Ticket.objects.filter(pk=first.pk).update(status=TicketStatus.RESOLVED)

    ids = _store_many(account, ["c-1", "c-1"], django_capture_on_commit_callbacks, start=10)
    assert ingest._ingest_together(ids) == 2

    second = Ticket.objects.exclude(pk=first.pk).get()
    assert second.status == TicketStatus.OPEN
    assert second.messages.count() == 2 and first.messages.count() == 1


def test_each_further_first_contact_in_a_batch_costs_its_ticket_event_and_message(
    channel, queued, django_capture_on_commit_callbacks
):
    """First-time senders are created for the whole batch in a few statements; each one's
    first message then opens a ticket without checks or savepoints."""
    account = channel("api")
    costs = {}
    for size, prefix in ((5, "a"), (10, "b")):
        senders = [f"{prefix}-{n}" for n in range(size)]
        ids = _store_many(account, senders, django_capture_on_commit_callbacks, start=size * 100)
        with CaptureQueriesContext(connection) as ctx:
            assert ingest._ingest_together(ids) == size
        costs[size] = len(ctx.captured_queries)
        assert sum(q["sql"].startswith("SAVEPOINT") for q in ctx.captured_queries) == 1

    assert costs[10] - costs[5] == 3 * 5  # INSERT ticket, its "created" event, the message
    assert Ticket.objects.count() == 15
    assert Customer.objects.count() == Identity.objects.count() == 15
    assert set(Ticket.objects.values_list("unread", flat=True)) == {True}
    assert not Ticket.objects.filter(last_message_at__isnull=True).exists()


def test_a_first_time_senders_auto_reply_then_real_mail_in_one_batch(
    queued, django_capture_on_commit_callbacks, db
):
    account = MailAccount.objects.create(
        kind=ChannelKind.EMAIL, name="mail", email_address="support@example.com"
    )
    head = "From: Elif <elif@example.com>\r\nTo: support@example.com\r\n"
    auto = head + "Subject: Out of office\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <a@x>\r\n"
    real = head + "Subject: Siparis\r\nMessage-ID: <b@x>\r\n"
    ids = []
    for n, raw in enumerate((auto, real)):
        with django_capture_on_commit_callbacks(execute=True):
            event, _created = services.event_record(
                account=account, body=(raw + "\r\nMerhaba\r\n").encode(), dedupe_key=f"mail-{n}"
            )
        ids.append(event.pk)

    assert ingest._ingest_together(ids) == 2

    closed, opened = Ticket.objects.order_by("pk")
    assert closed.status == TicketStatus.CLOSED and closed.messages.get().is_automatic
    assert opened.status == TicketStatus.OPEN and opened.previous_ticket_id == closed.pk
    assert Customer.objects.count() == 1


def test_a_lone_event_is_ingested_with_one_read_of_the_pending_queue(
    channel, queued, django_capture_on_commit_callbacks
):
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1

    pending_reads = 'SELECT "channels_adapters_inboundevent"."id" AS "pk"'
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(pending_reads)]
    assert len(reads) == 1, reads
    assert Message.objects.count() == 1


def test_a_lone_message_from_a_known_customer_costs_seven_queries(
    channel, queued, django_capture_on_commit_callbacks
):
    """The trickle case (a webhook every few ms, each ingested alone): the pending read, the
    claim with its account, the customer, the locked ticket, the message, the ticket's
    preview and the event's status; its own transaction around them (a savepoint here)."""
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    services.events_ingest_pending(slot=0)  # first contact: customer and ticket
    _store(account, 2, capture=django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1

    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 7, "\n".join(sql)
    assert not any(s.startswith('SELECT "configuration_channelaccount"') for s in sql)
    assert Message.objects.filter(ticket__customer__identities__external_id="c-1").count() == 2


def test_a_lone_message_from_a_first_time_sender_costs_nine_queries(
    channel, queued, django_capture_on_commit_callbacks
):
    """Half the webhooks of a contact centre come from new senders: the pending read, the
    claim with its account, the identity look-up, the customer, the identity (its insert says
    whether another ingest made it first: no second look-up), the ticket, its "created" event,
    the message and the event's status."""
    account = channel("api")
    _store(account, 1, customer="first-timer", capture=django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1

    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 9, "\n".join(sql)
    assert sum(s.startswith('SELECT "customers_identity"') for s in sql) == 1
    assert Identity.objects.get(external_id="first-timer").customer.tickets.count() == 1


def test_a_backlog_of_more_than_two_reads_is_worked_to_the_last_event(
    channel, queued, django_capture_on_commit_callbacks
):
    # 260 events before the task starts, all coalesced into its one kick. The second read
    # returned 160 rows, fewer than the 200 it asked for, and the task took 100 of them and
    # stopped as if the queue were empty: 60 events stayed pending with no task queued.
    account = channel("api")
    bodies = [_api(n, f"c-{n % 7}") for n in range(260)]
    with django_capture_on_commit_callbacks(execute=True):
        for n, body in enumerate(bodies):
            services.event_record(account=account, body=body, dedupe_key=f"message:m-{n}")
    assert queued == [("pending", 0)]

    assert services.events_ingest_pending(slot=0) == 260

    assert not InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()
    assert Message.objects.count() == 260


def test_a_task_that_dies_mid_way_kicks_its_slot_again_and_the_retry_finishes(
    channel, queued, monkeypatch, django_capture_on_commit_callbacks
):
    # The task clears its kick first; when the database failed under it after one chunk, the
    # other events stayed pending with no task queued and no kick left for the next event.
    account = channel("api")
    for n in range(3 * services.INGEST_TXN_EVENTS):
        _store(account, n, capture=django_capture_on_commit_callbacks)
    queued.clear()
    monkeypatch.setattr(
        tasks.ingest_pending,
        "apply_async",
        lambda args, countdown: queued.append(("pending later", *args, countdown)),
    )
    real = inbound._ingest_together
    calls = []

    def database_gone_after_one_chunk(ids):
        calls.append(ids)
        if len(calls) > 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(ids)

    monkeypatch.setattr(inbound, "_ingest_together", database_gone_after_one_chunk)
    monkeypatch.setattr(inbound, "event_ingest", database_gone_after_one_chunk)
    with pytest.raises(OperationalError):
        services.events_ingest_pending(slot=0)

    assert queued[-1] == ("pending later", 0, inbound.INGEST_RETRY_SECONDS)
    assert Message.objects.count() == services.INGEST_TXN_EVENTS
    monkeypatch.setattr(inbound, "_ingest_together", real)
    assert services.events_ingest_pending(slot=0) == 2 * services.INGEST_TXN_EVENTS
    assert not InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()


def test_a_kick_the_broker_refused_is_taken_back_so_the_next_event_kicks_again(
    channel, queued, monkeypatch, django_capture_on_commit_callbacks
):
    account = channel("api")
    recorded = tasks.ingest_pending.delay

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.ingest_pending, "delay", broker_down)
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    monkeypatch.setattr(tasks.ingest_pending, "delay", recorded)  # the broker is back

    _store(account, 2, capture=django_capture_on_commit_callbacks)

    assert queued == [("pending", 0)]  # not suppressed for KICK_TTL_SECONDS by a dead kick
    assert services.events_ingest_pending(slot=0) == 2


def test_another_installations_kick_on_a_shared_redis_does_not_hold_back_this_ones(
    channel, queued, monkeypatch, django_capture_on_commit_callbacks
):
    # One Redis for two databases (two installations, or a test run beside the bench): the
    # other one's queued task never reads this table, so its kick must not count here.
    monkeypatch.setattr(inbound, "KICK_KEY", f"test-kick-{uuid.uuid4().hex}:{{db}}:{{slot}}")
    account = channel("api")
    with monkeypatch.context() as m:
        m.setitem(connection.settings_dict, "NAME", "another_installation")
        assert services.ingest_kick(slot=0)
    queued.clear()

    _store(account, 1, capture=django_capture_on_commit_callbacks)

    assert queued == [("pending", 0)]
    for name in ("another_installation", connection.settings_dict["NAME"]):
        inbound._kick_clear(inbound.KICK_KEY.format(db=name, slot=0))


def test_events_behind_the_kick_of_a_task_lost_with_its_worker_are_swept_within_seconds(
    channel, queued, django_capture_on_commit_callbacks
):
    # The worker died holding the queued task: the slot's kick stays set for its TTL, so the
    # events stored meanwhile queue nothing. Once they are older than SWEEP_AFTER, the sweep
    # takes the dead kick back and queues a task that works them all.
    account = channel("api")
    for n in range(3):
        _store(account, n, capture=django_capture_on_commit_callbacks)
    assert queued == [("pending", 0)]  # the task the dead worker took with it
    queued.clear()
    assert services.events_sweep() == 0  # not stuck yet: the task may still come

    InboundEvent.objects.update(received_at=timezone.now() - inbound.SWEEP_AFTER)
    assert services.events_sweep() == 3

    assert queued == [("pending", 0)]
    assert services.events_ingest_pending(slot=0) == 3
    assert Message.objects.count() == 3


def _store_committed(account, n: int) -> None:
    """A webhook's store in autocommit, from its own thread (its own connection): durable and
    kicked when this returns, as the webhook path does."""

    def store() -> None:
        try:
            services.event_record(account=account, body=_api(n), dedupe_key=f"message:m-{n}")
        finally:
            connection.close()

    thread = threading.Thread(target=store)
    thread.start()
    thread.join()


@pytest.mark.django_db(transaction=True)
def test_webhooks_at_a_trickle_are_taken_by_the_task_already_there_not_a_task_each(
    channel, queued, settings
):
    # Each webhook alone (one every 50 ms) used to queue a task of its own: the task cleared
    # the kick, drained the one event and ended, so the next webhook kicked again (a Celery
    # message from the web, a dispatch and an ack in the worker, a fresh read per webhook).
    if not settings.REDIS_URL:
        pytest.skip("the wake-up list is the full stack's (Redis)")
    settings.OMNICO_INGEST_LINGER_MS = 1000
    account = channel("api")
    _store_committed(account, 0)
    assert queued == [("pending", 0)]
    handled: list[int] = []

    def run_the_queued_task() -> None:
        try:
            handled.append(tasks.ingest_pending(0))
        finally:
            connection.close()

    worker = threading.Thread(target=run_the_queued_task)
    worker.start()
    for n in range(1, 12):
        time.sleep(0.05)
        _store_committed(account, n)
    worker.join(timeout=30)

    assert queued == [("pending", 0)]  # twelve webhooks, one task
    assert handled == [12]
    assert not InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()
    assert Message.objects.count() == 12
    _store_committed(account, 12)  # the task has let go: the next webhook queues a task again
    assert queued == [("pending", 0), ("pending", 0)]


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_behind_the_tasks_read_is_read_again_before_the_task_ends(
    channel, queued, monkeypatch, settings
):
    # The task holds its kick while it runs: an event committed during its pass, with a
    # received_at older than what the pass has reached, queues no task of its own. Its kick
    # leaves a wake-up, and the task reads again from the start before it lets go.
    if not settings.REDIS_URL:
        pytest.skip("the wake-up list is the full stack's (Redis)")
    account = channel("api")
    _store_committed(account, 1)
    late = InboundEvent(
        channel_account=account,
        dedupe_key="message:m-late",
        body=_api(99, "c-late"),
        status=InboundEvent.Status.PENDING,
        received_at=timezone.now() - timedelta(minutes=1),  # took its time before the commit
    )
    real = inbound._ingest_together

    def a_webhook_commits_meanwhile(ids):
        if late.pk is None:

            def store() -> None:
                try:
                    late.save(force_insert=True)
                    inbound.ingest_kick(event_id=late.pk)
                finally:
                    connection.close()

            thread = threading.Thread(target=store)
            thread.start()
            thread.join()
        return real(ids)

    monkeypatch.setattr(inbound, "_ingest_together", a_webhook_commits_meanwhile)

    assert services.events_ingest_pending(slot=0) == 2

    assert queued == [("pending", 0)]
    assert not InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).exists()
    assert Message.objects.count() == 2


def _visitor_message(n: int, visitor: str, group_type: int, subject: int) -> bytes:
    return json.dumps(
        {
            "id": f"0b0e2f9c-4444-4c4c-9d9d-{n:012d}",
            "visitor": f"visitor-{visitor}-0123456789abcdef",
            "text": f"merhaba {n}",
            "name": "Ayşe",
            "group_type": group_type,
            "subject": subject,
        }
    ).encode()


def test_a_lone_web_chat_message_costs_what_a_webhook_does(
    channel, queued, django_capture_on_commit_callbacks
):
    """A visitor's first message with the group type and subject they chose: the same nine
    statements as a first-time sender's webhook (the ticket's department comes from the
    remembered settings, not two reads of its own); the next message the same seven as a
    known customer's."""
    from configuration.models import Department, GroupType, Subject

    account = channel("webchat")
    sales = Department.objects.create(name="Sales")
    group_type = GroupType.objects.create(name="AXA", department=sales)
    subject = Subject.objects.create(name="Billing")
    visitors = ["warm-up", "first-time", "first-time"]
    bodies = [_visitor_message(n, v, group_type.pk, subject.pk) for n, v in enumerate(visitors)]

    def store(n: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.event_record(account=account, body=bodies[n], dedupe_key=f"visitor:{n}")

    store(0)
    services.events_ingest_pending(slot=0)  # warm: the settings are read once per process
    store(1)
    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1
    first = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    store(2)
    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1
    next_ = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]

    ticket = Ticket.objects.get(customer__identities__external_id__startswith="visitor-first")
    assert (ticket.department_id, ticket.messages.count()) == (sales.pk, 2)
    assert len(first) == 9, "\n".join(first)
    assert len(next_) == 7, "\n".join(next_)


@pytest.fixture
def orm_builds(monkeypatch):
    """How many statements Django's query compilers build (SELECT, INSERT, UPDATE, DELETE)."""
    from django.db.models.sql import compiler

    built: list[str] = []
    for name in ("SQLCompiler", "SQLInsertCompiler", "SQLUpdateCompiler", "SQLDeleteCompiler"):
        cls = getattr(compiler, name)
        original = cls.__dict__.get("as_sql")
        if original is None:
            continue

        def counting(self, *args, _original=original, _name=name, **kwargs):
            built.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "as_sql", counting)
    return built


@pytest.mark.services
@pytest.mark.skipif(
    not os.environ.get("OMNICO_TEST_SERVICES"),
    reason="the statements are built once on PostgreSQL only (scripts/test starts it)",
)
def test_a_lone_message_from_a_known_customer_builds_no_statement_through_the_orm(
    channel, queued, django_capture_on_commit_callbacks, orm_builds
):
    """At a trickle every webhook is ingested alone, and building its statements through the
    ORM cost the worker more CPU than running them: the pending read, the claim, the
    sender's identity, the ticket's lock, the ticket's new preview and the event's status are
    built once per process, so a known customer's message builds none; it lands the same."""
    account = channel("api")
    _store(account, 1, capture=django_capture_on_commit_callbacks)
    services.events_ingest_pending(slot=0)  # first contact, and every statement built once
    _store(account, 2, capture=django_capture_on_commit_callbacks)
    services.events_ingest_pending(slot=0)
    _store(account, 3, capture=django_capture_on_commit_callbacks)
    before = Ticket.objects.get().updated_at
    orm_builds.clear()

    with CaptureQueriesContext(connection) as ctx:
        assert services.events_ingest_pending(slot=0) == 1

    assert orm_builds == [], orm_builds
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 7, "\n".join(sql)
    ticket = Ticket.objects.get(customer__identities__external_id="c-1")
    assert list(ticket.messages.order_by("pk").values_list("body", flat=True)) == [
        "mesaj 1",
        "mesaj 2",
        "mesaj 3",
    ]
    assert ticket.last_message_preview == "mesaj 3" and ticket.unread
    assert ticket.updated_at > before and ticket.last_message_at is not None
    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
