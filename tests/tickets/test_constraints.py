"""Database facts hold even when the services are bypassed, and races are settled by them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from configuration.models import ChannelKind
from customers.models import Customer, Identity
from customers.services import customer_resolve
from tests.factories import make_account, make_customer, make_ticket
from tests.tickets.concurrency import postgres_only, run_concurrently
from tickets.models import Activity, Message, Ticket
from tickets.receiving import Incoming, ticket_receive


def _ticket_row(account, customer, **kw) -> Ticket:
    return Ticket.objects.create(
        channel_account=account, customer=customer, source=account.kind, **kw
    )


@pytest.mark.django_db
class TestConstraints:
    def test_invalid_ticket_status_is_rejected(self, account):
        customer = make_customer(kind=account.kind)
        with pytest.raises(IntegrityError), transaction.atomic():
            _ticket_row(account, customer, status="archived")
        assert not Ticket.objects.exists()

    def test_invalid_ticket_priority_is_rejected(self, account):
        customer = make_customer(kind=account.kind)
        with pytest.raises(IntegrityError), transaction.atomic():
            _ticket_row(account, customer, priority="critical")

    def test_duplicate_identity_is_rejected(self):
        first = Customer.objects.create(name="A")
        second = Customer.objects.create(name="B")
        Identity.objects.create(customer=first, kind=ChannelKind.WHATSAPP, external_id="905551")
        with pytest.raises(IntegrityError), transaction.atomic():
            Identity.objects.create(
                customer=second, kind=ChannelKind.WHATSAPP, external_id="905551"
            )
        # The same external id on another channel is another identity.
        Identity.objects.create(customer=second, kind=ChannelKind.TELEGRAM, external_id="905551")

    def test_duplicate_message_per_account_is_rejected(self, account):
        ticket = make_ticket(account=account)
        row = {
            "ticket": ticket,
            "channel_account": account,
            "direction": Message.Direction.INBOUND,
            "sent_at": timezone.now(),
        }
        Message.objects.create(external_id="ext-1", **row)
        with pytest.raises(IntegrityError), transaction.atomic():
            Message.objects.create(external_id="ext-1", **row)
        # Messages without an external id (notes, replies) are not constrained.
        Message.objects.create(external_id=None, **row)
        Message.objects.create(external_id=None, **row)

    def test_two_active_tickets_for_one_customer_and_account_are_rejected(self, account):
        customer = make_customer(kind=account.kind)
        _ticket_row(account, customer, status="open")
        with pytest.raises(IntegrityError), transaction.atomic():
            _ticket_row(account, customer, status="waiting_on_customer")
        # Finished tickets do not count, and another account is another conversation.
        _ticket_row(account, customer, status="resolved")
        _ticket_row(account, customer, status="closed")
        _ticket_row(make_account(), customer, status="open")

    def test_invalid_activity_status_is_rejected(self):
        ticket = make_ticket()
        with pytest.raises(IntegrityError), transaction.atomic():
            Activity.objects.create(ticket=ticket, call_reason="x", status="paused")


# --- races, on PostgreSQL -------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_first_messages_of_a_new_customer_at_once_make_one_customer_and_one_ticket():
    account = make_account(kind=ChannelKind.WHATSAPP)

    def receive(i: int):
        customer = customer_resolve(kind=account.kind, external_id="905550001122", name="Ayşe")
        return ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body=f"msg {i}", external_id=f"w{i}"),
        )

    results = run_concurrently(receive, 2)

    assert Customer.objects.count() == 1
    assert Identity.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 2
    assert sum(r.ticket_created for r in results) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_message_delivered_twice_at_once_is_stored_once():
    account = make_account(kind=ChannelKind.TELEGRAM)
    customer = make_customer(kind=account.kind, external_id="42")

    def receive(_i: int):
        return ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="bir kez", external_id="upd-1"),
        )

    results = run_concurrently(receive, 2)

    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert sorted(r.duplicate for r in results) == [False, True]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_same_automatic_message_twice_at_once_leaves_no_empty_ticket():
    account = make_account(kind=ChannelKind.EMAIL)
    customer = make_customer(kind=account.kind, external_id="a@example.com")

    def receive(_i: int):
        return ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(
                body="Out of office", external_id="<auto-1@example.com>", is_automatic=True
            ),
        )

    run_concurrently(receive, 2)

    assert Message.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert Ticket.objects.get().messages.count() == 1
