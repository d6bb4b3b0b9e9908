"""Tickets and customers in the admin: looked up and searched, changed only via services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Customer
from tests.factories import make_account, make_customer, make_ticket
from tickets import services as ticket_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(agent):
    account = make_account()
    customer = make_customer(kind=account.kind, name="Ayşe <Kaya>")
    ticket = make_ticket(account=account, customer=customer, body="Merhaba, faturam?")
    ticket_services.ticket_set_priority(ticket=ticket, priority="urgent", actor=agent)
    return ticket


def test_ticket_page_shows_history_read_only(admin_client, ticket):
    response = admin_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Priority changed" in page  # the history inline
    assert "Merhaba, faturam?" in page  # the message inline
    assert 'name="_save"' not in page  # nothing to save
    assert "Ayşe <Kaya>" not in page
    assert "Ayşe &lt;Kaya&gt;" in page


def test_tickets_are_not_added_or_edited_in_the_admin(admin_client, ticket):
    assert admin_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    admin_client.post(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), {"status": "closed"}
    )
    ticket.refresh_from_db()
    assert ticket.status == "open"


@pytest.mark.parametrize(
    ("query", "found"),
    [("ayşe", True), ("faturam", True), ("nobody", False), ("{pk}", True)],
)
def test_ticket_search_by_customer_text_or_number(admin_client, ticket, query, found):
    response = admin_client.get(
        reverse("admin:tickets_ticket_changelist"), {"q": query.format(pk=ticket.pk)}
    )
    assert response.status_code == 200
    assert (ticket in response.context["cl"].result_list) is found


def test_ticket_list_filters_by_status_priority_and_source(admin_client, ticket):
    url = reverse("admin:tickets_ticket_changelist")
    assert list(admin_client.get(url, {"priority": "urgent"}).context["cl"].result_list) == [ticket]
    assert not admin_client.get(url, {"status": "closed"}).context["cl"].result_list
    assert list(admin_client.get(url, {"source": ticket.source}).context["cl"].result_list)


def test_editing_a_customer_goes_through_the_service(admin_client, ticket):
    customer = ticket.customer
    response = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        {
            "name": "Ayşe Kaya",
            "gender": "female",
            "age": "",
            "size": "",
            "location": "İzmir",
            "email": "",
            "phone": "",
            "attributes": "{}",
            # the read-only inlines' management forms, as the page posts them
            "identities-TOTAL_FORMS": "1",
            "identities-INITIAL_FORMS": "1",
            "identities-0-id": str(customer.identities.get().pk),
            "identities-0-customer": str(customer.pk),
            "carts-TOTAL_FORMS": "0",
            "carts-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    customer = Customer.objects.get(pk=customer.pk)
    assert (customer.name, customer.location, customer.gender) == ("Ayşe Kaya", "İzmir", "female")
