"""What receiving and routing cost per message: queries, savepoints, locks, routing passes."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from customers.services import customer_resolve
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets import routing, tasks
from tickets.models import AgentPresence, Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive, tickets_lock_active

pytestmark = pytest.mark.django_db


def _sql(ctx: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"] for q in ctx.captured_queries)


def test_a_known_customers_message_into_their_open_ticket_costs_four_queries_no_savepoint():
    account = make_account()
    customer = make_customer(kind=account.kind, external_id="42")
    ticket = make_ticket(account=account, customer=customer)

    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:  # as ingest runs it
        known = customer_resolve(kind=account.kind, external_id="42", name="Ayşe")
        got = ticket_receive(
            channel_account=account,
            customer=known,
            incoming=Incoming(body="Hâlâ bekliyorum", external_id="m-2"),
        )

    assert got.ticket.pk == ticket.pk and not got.ticket_created
    # identity, ticket locked, INSERT message ON CONFLICT DO NOTHING, ticket update
    assert len(ctx.captured_queries) == 4, _sql(ctx)
    assert "SAVEPOINT" not in _sql(ctx).upper()


def test_a_redelivered_message_into_an_open_ticket_is_stored_once_without_a_savepoint():
    account = make_account()
    customer = make_customer(kind=account.kind)
    first = make_ticket(account=account, customer=customer)
    stored = ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Kargo?", external_id="dup-1"),
    )

    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        again = ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="Kargo?", external_id="dup-1"),
        )

    assert again.duplicate and again.message.pk == stored.message.pk
    assert again.ticket.pk == first.pk
    assert first.messages.filter(external_id="dup-1").count() == 1
    assert "SAVEPOINT" not in _sql(ctx).upper()


def test_routing_with_every_agent_full_takes_no_lock():
    agent = make_user("full", capacity=1)
    AgentPresence.objects.create(user=agent, is_active=True)
    make_ticket()
    routing.pool_drain()  # the agent's one slot is taken
    waiting = make_ticket()

    with CaptureQueriesContext(connection) as ctx:
        assert routing.pool_drain() == []

    assert len(ctx.captured_queries) == 1, _sql(ctx)
    assert "FOR UPDATE" not in _sql(ctx).upper()
    assert Ticket.objects.get(pk=waiting.pk).assignee_id is None


def test_a_pool_ticket_that_missed_a_freed_slot_is_assigned_by_the_periodic_drain():
    agent = make_user("late", capacity=1)
    AgentPresence.objects.create(user=agent, is_active=True)
    first = make_ticket()
    routing.pool_drain()
    waiting = make_ticket()
    routing.pool_drain()
    # The slot frees without the drain that normally follows (a lost race, a crashed worker).
    Ticket.objects.filter(pk=first.pk).update(status="resolved")

    assert tasks.pool_drain() == 1  # what beat runs every 30 s

    assert Ticket.objects.get(pk=waiting.pk).assignee_id == agent.pk
    entry = next(
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "tickets.pool_drain"
    )
    assert float(entry["schedule"]) <= 30


def test_new_tickets_received_in_one_transaction_are_routed_in_one_pass(
    django_capture_on_commit_callbacks,
):
    agent = make_user("roomy", capacity=5)
    AgentPresence.objects.create(user=agent, is_active=True)
    account = make_account()
    customers = [make_customer(kind=account.kind) for _ in range(3)]

    with (
        mock.patch.object(routing, "pool_drain", wraps=routing.pool_drain) as drain,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        received = [
            ticket_receive(channel_account=account, customer=c, incoming=Incoming(body="Merhaba"))
            for c in customers
        ]

    assert drain.call_count == 1
    assert set(
        Ticket.objects.filter(pk__in=[r.ticket.pk for r in received]).values_list(
            "assignee_id", flat=True
        )
    ) == {agent.pk}


def test_many_customers_active_tickets_are_locked_in_one_query_across_accounts():
    first, second = make_account(), make_account()
    ayse, mehmet = make_customer(kind=first.kind), make_customer(kind=first.kind)
    ayse_first = make_ticket(account=first, customer=ayse)
    ayse_second = make_ticket(account=second, customer=ayse)
    mehmet_first = make_ticket(account=first, customer=mehmet)
    Ticket.objects.filter(pk=mehmet_first.pk).update(status=TicketStatus.RESOLVED)
    make_ticket(account=second, customer=mehmet)  # not asked for: neither returned nor locked

    pairs = [(ayse.pk, first.pk), (ayse.pk, second.pk), (mehmet.pk, first.pk)]
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        locked = tickets_lock_active(pairs=pairs)

    assert {pair: t.pk for pair, t in locked.items()} == {
        (ayse.pk, first.pk): ayse_first.pk,
        (ayse.pk, second.pk): ayse_second.pk,
    }  # Mehmet's ticket on the first account is resolved: he has no active one there
    queries = [q["sql"] for q in ctx.captured_queries if "ticket" in q["sql"]]
    assert len(queries) == 1 and "FOR UPDATE" in queries[0]
    assert "ORDER BY" in queries[0]  # one lock order for every parallel ingest


def test_the_check_after_each_new_ticket_is_not_built_again_through_the_orm():
    # Every commit that opens a ticket asks whether a pool ticket may go to someone: building
    # that one query through the ORM cost milliseconds of the worker's CPU each time, for SQL
    # that never changes. It is compiled once per process; its answer still follows the data.
    agent = make_user("hint", capacity=1)
    presence = AgentPresence.objects.create(user=agent, is_active=False)
    make_ticket()
    assert routing.any_free_slot() is False  # nobody active

    presence.is_active = True
    presence.save(update_fields=["is_active"])
    with mock.patch("django.db.models.sql.compiler.SQLCompiler.as_sql", side_effect=AssertionError):
        assert routing.any_free_slot() is True
    routing.pool_drain()
    assert routing.any_free_slot() is False  # the one slot is taken


def test_a_returning_customers_new_ticket_opens_inside_one_savepoint_not_two():
    # The ticket and its first message share one savepoint (a duplicate message leaves no empty
    # ticket behind); the ticket's own INSERT needs none: it ignores a conflict with the
    # customer's active ticket and then uses that one.
    account = make_account()
    customer = make_customer(kind=account.kind, external_id="77")
    old = make_ticket(account=account, customer=customer)
    Ticket.objects.filter(pk=old.pk).update(status=TicketStatus.RESOLVED)

    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        got = ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="Yeni bir sorum var", external_id="m-9"),
        )

    assert got.ticket_created and got.ticket.pk != old.pk
    assert got.ticket.previous_ticket_id == old.pk
    assert got.ticket.messages.get().body == "Yeni bir sorum var"
    assert got.ticket.events.filter(kind="created").count() == 1
    savepoints = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1, _sql(ctx)
