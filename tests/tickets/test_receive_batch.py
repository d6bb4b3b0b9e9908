"""tickets_receive: a batch of messages locks its customers' tickets once, and a first-time
customer's messages of one batch share the ticket the first one opens."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from customers.services import Contact, customers_create_many
from tests.factories import make_account, make_customer, make_ticket
from tickets.models import Message, Ticket, TicketStatus
from tickets.receiving import Arrival, Incoming, tickets_receive

pytestmark = pytest.mark.django_db


def test_known_customers_messages_go_to_their_active_tickets_with_one_locking_query():
    account = make_account()
    customers = [make_customer(kind=account.kind) for _ in range(3)]
    tickets = [make_ticket(account=account, customer=c) for c in customers]
    arrivals = [
        Arrival(account, c, Incoming(body=f"tekrar {n}", external_id=f"b-{n}"))
        for n, c in enumerate(customers + customers)
    ]

    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        received = tickets_receive(arrivals=arrivals)

    assert [r.ticket.pk for r in received] == [t.pk for t in tickets + tickets]
    assert not any(r.ticket_created or r.duplicate for r in received)
    ticket_reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert len(ticket_reads) == 1  # the lock-ahead; each message is then one INSERT, one UPDATE
    assert len(ctx.captured_queries) == 1 + 2 * len(arrivals)


def test_a_new_customers_messages_of_one_batch_share_the_ticket_the_first_one_opens():
    account = make_account()
    with transaction.atomic():
        created, fresh = customers_create_many(
            kind=account.kind, contacts=[Contact(external_id="new-1", name="Yeni")]
        )
        customer = created["new-1"]
        received = tickets_receive(
            arrivals=[
                Arrival(account, customer, Incoming(body="Merhaba", external_id="n-1")),
                Arrival(account, customer, Incoming(body="Orada mısınız?", external_id="n-2")),
            ],
            new_customer_ids={customer.pk},
        )

    assert [r.ticket_created for r in received] == [True, False]
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.OPEN and ticket.last_message_preview == "Orada mısınız?"
    assert set(Message.objects.values_list("external_id", flat=True)) == {"n-1", "n-2"}


def test_a_new_customers_automatic_first_mail_is_closed_and_their_next_message_opens_a_ticket():
    account = make_account()
    with transaction.atomic():
        created, _fresh = customers_create_many(
            kind=account.kind, contacts=[Contact(external_id="new-2")]
        )
        customer = created["new-2"]
        received = tickets_receive(
            arrivals=[
                Arrival(account, customer, Incoming(body="Out of office", is_automatic=True)),
                Arrival(account, customer, Incoming(body="Bir sorum var")),
            ],
            new_customer_ids={customer.pk},
        )

    auto, real = received
    assert auto.ticket.status == TicketStatus.CLOSED
    assert real.ticket.status == TicketStatus.OPEN and real.ticket_created
    assert real.ticket.previous_ticket_id == auto.ticket.pk
