"""Assignment on the agent screen obeys routing's rules: the panel's agent picker and the bulk
action refuse an agent on a break or at capacity (a supervisor confirms to override), and an
agent takes a ticket from the pool."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import make_ticket, make_user
from tests.tickets.test_routing import make_agent, works
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def assign(client, ticket, agent, **extra):
    url = reverse("ticket-assignee", args=[ticket.pk])
    return client.post(url, {"assignee": agent.pk, **extra}, **HTMX).content.decode()


def test_the_panel_refuses_an_agent_on_a_break_and_offers_a_supervisor_to_override(
    admin_client, admin_user
):
    resting = make_agent("resting", capacity=4, active=False)
    ticket = make_ticket()

    content = assign(admin_client, ticket, resting)
    assert "toast-error" in content and "resting is not active" in content
    assert "data-assign-override" in content and "Assign to resting anyway" in content
    assert Ticket.objects.get(pk=ticket.pk).assignee is None

    content = assign(admin_client, ticket, resting, override="1")
    assert Ticket.objects.get(pk=ticket.pk).assignee == resting
    assert "over the routing rules: the agent was not active" in content  # the history
    event = TicketEvent.objects.get(ticket=ticket, kind="assignee")
    assert (event.actor, event.data["override"]) == (admin_user, "not_active")


def test_an_agent_is_refused_without_an_override(agent_client):
    full = make_agent("full", capacity=0)
    ticket = make_ticket()

    content = assign(agent_client, ticket, full, override="1")

    assert "toast-error" in content and "data-assign-override" not in content
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def _bulk(client, tickets, agent, **extra):
    data = {"ids": [t.pk for t in tickets], "action": "assign", "assignee": agent.pk, **extra}
    return client.post(reverse("tickets-bulk"), data, follow=True).content.decode()


def test_bulk_gives_an_agent_on_a_break_none_of_17_tickets(agent_client):
    resting = make_agent("resting", capacity=4, active=False)
    tickets = [make_ticket() for _ in range(17)]

    content = _bulk(agent_client, tickets, resting)

    assert works(resting) == 0
    assert "0 tickets updated." in content and "17 refused" in content
    assert "resting is not active" in content


def test_bulk_over_capacity_asks_a_supervisor_to_confirm_and_then_assigns(admin_client):
    agent = make_agent("ayse", capacity=4)
    tickets = [make_ticket() for _ in range(6)]

    content = _bulk(admin_client, tickets, agent)
    assert works(agent) == 4
    assert "data-bulk-override" in content and "at capacity (4 of 4 tickets)" in content
    assert "Assign 2 tickets to ayse anyway" in content

    refused = [t for t in tickets if Ticket.objects.get(pk=t.pk).assignee_id is None]
    content = _bulk(admin_client, refused, agent, override="on")
    assert works(agent) == 6
    assert "2 tickets updated." in content
    assert TicketEvent.objects.filter(data__override="at_capacity").count() == 2


def test_an_agent_takes_the_next_ticket_from_the_homepage(client):
    agent = make_agent("ayse", capacity=2, active=False)
    first, _second = make_ticket(), make_ticket()
    agent.presence.is_active = True
    agent.presence.save()
    client.force_login(agent)

    assert "Take the next ticket" in client.get(reverse("home")).content.decode()
    response = client.post(reverse("pool-take"), {"next": reverse("home")})

    assert response.status_code == 302
    assert response["Location"] == reverse("ticket-detail", args=[first.pk])
    assert Ticket.objects.get(pk=first.pk).assignee == agent


def test_an_agent_on_a_break_cannot_take_and_is_told_why(client):
    agent = make_agent("ayse", capacity=2, active=False)
    ticket = make_ticket()
    client.force_login(agent)

    content = client.post(
        reverse("pool-take"), {"ticket": ticket.pk, "next": "https://evil.example/"}, follow=True
    ).content.decode()

    assert "Go active to take tickets" in content
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_a_pool_ticket_offers_take_this_ticket_in_its_panel(agent_client):
    ticket = make_ticket()
    url = reverse("ticket-panel", args=[ticket.pk])
    assert "Take this ticket" in agent_client.get(url).content.decode()
    Ticket.objects.filter(pk=ticket.pk).update(assignee=make_user())
    assert "Take this ticket" not in agent_client.get(url).content.decode()
