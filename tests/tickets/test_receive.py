"""ticket_receive: every customer message lands in exactly one ticket, never twice."""

from __future__ import annotations

import pytest

from configuration.models import ChannelKind
from tests.factories import make_account, make_customer
from tickets.models import Message, Ticket, TicketEvent, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.services import ticket_set_status

pytestmark = pytest.mark.django_db


def _receive(account, customer, body="Merhaba", **kw):
    return ticket_receive(
        channel_account=account, customer=customer, incoming=Incoming(body=body, **kw)
    )


def test_first_message_opens_a_ticket(account, clock):
    customer = make_customer(kind=account.kind)

    got = _receive(account, customer, "Siparişim   nerede?\n", external_id="1")

    assert got.ticket_created is True and got.duplicate is False
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.source, ticket.customer) == ("open", "telegram", customer)
    assert ticket.last_message_preview == "Siparişim nerede?"
    assert ticket.last_message_at == clock.now
    assert ticket.unread is True
    assert ticket.previous_ticket is None
    assert ticket.events.filter(kind=TicketEvent.Kind.CREATED).count() == 1


def test_next_message_on_the_same_account_is_appended(account):
    customer = make_customer(kind=account.kind)
    first = _receive(account, customer, "bir", external_id="1")

    second = _receive(account, customer, "iki", external_id="2")

    assert second.ticket_created is False
    assert second.ticket.pk == first.ticket.pk
    assert list(first.ticket.messages.values_list("body", flat=True)) == ["bir", "iki"]
    assert Ticket.objects.count() == 1


def test_same_customer_on_another_account_gets_another_ticket(account):
    customer = make_customer(kind=account.kind)
    other_account = make_account(kind=ChannelKind.TELEGRAM)
    a = _receive(account, customer, external_id="1")
    b = _receive(other_account, customer, external_id="1")
    assert a.ticket.pk != b.ticket.pk


@pytest.mark.parametrize("final", [TicketStatus.RESOLVED, TicketStatus.CLOSED])
def test_message_after_resolve_opens_a_new_ticket_linked_to_the_previous(account, final):
    customer = make_customer(kind=account.kind)
    old = _receive(account, customer, "eski", external_id="1").ticket
    ticket_set_status(ticket=old, status=final)

    got = _receive(account, customer, "yeni soru", external_id="2")

    assert got.ticket_created is True
    assert got.ticket.pk != old.pk
    assert got.ticket.previous_ticket_id == old.pk
    old.refresh_from_db()
    assert old.status == final  # nothing reopened
    assert old.messages.count() == 1


def test_same_external_id_twice_stores_one_message(account):
    customer = make_customer(kind=account.kind)
    first = _receive(account, customer, "bir kez", external_id="wamid.1")

    again = _receive(account, customer, "bir kez", external_id="wamid.1")

    assert again.duplicate is True
    assert again.message.pk == first.message.pk
    assert again.ticket.pk == first.ticket.pk
    assert Message.objects.count() == 1


def test_duplicate_after_resolve_does_not_open_a_new_ticket(account):
    customer = make_customer(kind=account.kind)
    first = _receive(account, customer, external_id="7")
    ticket_set_status(ticket=first.ticket, status=TicketStatus.RESOLVED)

    again = _receive(account, customer, external_id="7")

    assert again.duplicate is True
    assert Ticket.objects.count() == 1


def test_automatic_message_without_active_ticket_is_kept_in_a_closed_ticket(account, clock):
    customer = make_customer(kind=account.kind)

    got = _receive(account, customer, "Out of office", external_id="a1", is_automatic=True)

    assert got.ticket.status == TicketStatus.CLOSED
    assert got.ticket.closed_at == clock.now
    assert not Ticket.objects.filter(status=TicketStatus.OPEN).exists()
    # A real message afterwards opens an ordinary open ticket.
    real = _receive(account, customer, "Aslında bir sorum var", external_id="a2")
    assert real.ticket.status == TicketStatus.OPEN
    assert real.ticket.pk != got.ticket.pk


def test_automatic_message_on_an_active_ticket_keeps_its_preview(account):
    customer = make_customer(kind=account.kind)
    first = _receive(account, customer, "Soru", external_id="1")

    auto = _receive(account, customer, "Auto-reply", external_id="2", is_automatic=True)

    assert auto.ticket.pk == first.ticket.pk
    first.ticket.refresh_from_db()
    assert first.ticket.last_message_preview == "Soru"


def test_thread_ticket_id_appends_only_to_an_active_ticket_of_that_customer(account):
    customer = make_customer(kind=account.kind)
    stranger = make_customer(kind=account.kind)
    theirs = _receive(account, stranger, external_id="s1").ticket

    got = _receive(account, customer, external_id="c1", thread_ticket_id=theirs.pk)

    assert got.ticket.pk != theirs.pk
    assert got.ticket.customer == customer
