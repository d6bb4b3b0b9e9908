"""omnico.core.db: insert_unless_duplicate stores a row once, whoever comes twice;
retry_on_lost_connection runs a task once more after a database error."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from channels_adapters.models import InboundEvent
from omnico.core.db import insert_unless_duplicate, retry_on_lost_connection
from tests.factories import make_account, make_ticket
from tests.omnico.helpers import end_this_connection_from_the_server
from tickets.models import Message

pytestmark = pytest.mark.django_db


def test_a_row_is_stored_once_and_the_duplicate_is_reported_not_raised():
    account = make_account()
    first = InboundEvent(channel_account=account, dedupe_key="update:1", body=b"{}")
    again = InboundEvent(channel_account=account, dedupe_key="update:1", body=b"{}")

    with CaptureQueriesContext(connection) as ctx:
        assert insert_unless_duplicate(first, conflict_fields=("channel_account", "dedupe_key"))
    assert not insert_unless_duplicate(again, conflict_fields=("channel_account", "dedupe_key"))

    assert len(ctx.captured_queries) == 1
    stored = InboundEvent.objects.get()
    assert stored.pk == first.pk and again.pk is None
    assert stored.received_at is not None and stored.status == InboundEvent.Status.PENDING
    assert first._state.adding is False


def test_without_a_conflict_target_a_partial_unique_index_counts_as_a_duplicate():
    ticket = make_ticket()

    def message(external_id):
        return Message(
            ticket=ticket,
            channel_account=ticket.channel_account,
            direction=Message.Direction.INBOUND,
            external_id=external_id,
            body="Merhaba",
            sent_at=ticket.created_at,
            meta={"k": "v"},
        )

    assert insert_unless_duplicate(message("x-1"))
    assert not insert_unless_duplicate(message("x-1"))
    assert insert_unless_duplicate(message(None)) and insert_unless_duplicate(message(None))
    assert Message.objects.get(external_id="x-1").meta == {"k": "v"}


# --- retry_on_lost_connection ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # outside any transaction, as a worker runs a task
def test_a_task_that_fails_twice_on_the_database_raises_the_second_error():
    calls = []

    @retry_on_lost_connection
    def task():
        calls.append(1)
        raise OperationalError(f"server closed the connection unexpectedly ({len(calls)})")

    with pytest.raises(OperationalError, match=r"\(2\)"):
        task()
    assert len(calls) == 2


def test_a_task_run_inside_its_caller_s_transaction_is_not_run_again():
    calls = []

    @retry_on_lost_connection
    def task():
        calls.append(1)
        raise OperationalError("deadlock detected")

    with pytest.raises(OperationalError), transaction.atomic():
        task()
    assert len(calls) == 1  # the caller's transaction is broken; it is the caller's to retry


@pytest.mark.django_db(transaction=True)
def test_other_errors_are_not_retried():
    calls = []

    @retry_on_lost_connection
    def task():
        calls.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        task()
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_connection_the_server_ends_runs_once_more_and_logs_no_server_text(caplog):
    """As in a PostgreSQL restart: the server ends the task's connection ("terminating
    connection due to administrator command"); the task runs again on a fresh connection, and
    the warning names the error's class and SQLSTATE, not the server's words, so a recovered
    task does not read as a failed one in the worker's log."""
    calls = []

    @retry_on_lost_connection
    def task():
        calls.append(1)
        if len(calls) == 1:
            end_this_connection_from_the_server()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    with caplog.at_level(logging.WARNING, logger="omnico.core.db"):
        pid = task()
    assert len(calls) == 2 and pid
    assert "SQLSTATE 57P01" in caplog.text
    assert "terminating connection" not in caplog.text
