"""Waiting in the pool in a real browser: with every agent full, two customers see their places
and an estimated wait; a slot frees and the first is taken (joined line, panel gone) while the
second moves up to first, live, without a reload."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import off_loop
from tests.e2e.test_agent_screen import eventually
from tests.e2e.test_support_page import support, visitor_opens_the_chat  # noqa: F401
from tests.factories import make_ticket, make_user
from tickets.models import Ticket, TicketStatus
from tickets.routing import agent_go_active
from tickets.services import ticket_set_status

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = re.compile(r"Estimated wait: about \d+ minutes?\.")


def recent_departures() -> None:
    """Three tickets left the pool for an agent in the last few minutes: a pace to estimate
    from (resolved since, so they hold no slot)."""
    now = timezone.now()
    for minutes in (9, 6, 3):
        done = off_loop(make_ticket)
        Ticket.objects.filter(pk=done.pk).update(
            status=TicketStatus.RESOLVED,
            assignee=make_user(capacity=None),
            assigned_at=now - timedelta(minutes=minutes),
            pool_entered_at=now - timedelta(minutes=minutes + 2),
        )


def writes(customer, text: str) -> None:
    box = customer.locator("textarea[name=text]")
    box.fill(text)
    box.press("Enter")
    expect(customer.locator("li.entry-in").last).to_contain_text("Delivered")


def test_every_agent_full_customers_see_their_place_and_move_up_live(
    live,
    support,  # noqa: F811
    new_page,
):
    recent_departures()
    ayla = make_user("ayla", first_name="Ayla", last_name="Demir", capacity=1)
    off_loop(agent_go_active, user=ayla)
    held = off_loop(make_ticket)  # Ayla's one slot is taken
    assert eventually(lambda: Ticket.objects.filter(pk=held.pk, assignee=ayla).exists())

    first = new_page(width=390, height=800)
    visitor_opens_the_chat(first, name="Zeynep Kaya")
    queue_one = first.locator("[data-queue]")
    expect(queue_one).to_be_hidden()  # nothing written yet: not waiting
    writes(first, "I need help with my bill")
    expect(queue_one).to_be_visible()
    expect(queue_one).to_contain_text("All our agents are busy right now.")
    expect(queue_one.locator("[data-queue-position]")).to_have_text(
        "You are number 1 in the queue."
    )
    expect(queue_one.locator("[data-queue-wait]")).to_have_text(WAIT)

    second = new_page()
    visitor_opens_the_chat(second, name="Mehmet Yılmaz")
    writes(second, "Hello, anyone?")
    queue_two = second.locator("[data-queue]")
    expect(queue_two.locator("[data-queue-position]")).to_have_text(
        "You are number 2 in the queue."
    )
    expect(queue_two.locator("[data-queue-wait]")).to_have_text(WAIT)
    second.reload()  # server-rendered the same way
    expect(second.locator("[data-queue] [data-queue-position]")).to_have_text(
        "You are number 2 in the queue."
    )
    first.evaluate("window.__marker = 'not reloaded'")
    second.evaluate("window.__marker = 'not reloaded'")

    # Ayla resolves the ticket she holds: her slot goes to the head of the pool.
    off_loop(ticket_set_status, ticket=held, status=TicketStatus.RESOLVED, actor=ayla)

    expect(first.locator("li.entry-system").last).to_contain_text("Ayla Demir joined the chat.")
    expect(first.locator("[data-queue]")).to_be_hidden()
    expect(second.locator("[data-queue] [data-queue-position]")).to_have_text(
        "You are number 1 in the queue."
    )
    expect(second.locator("[data-queue]")).to_be_visible()
    assert first.evaluate("window.__marker") == "not reloaded"
    assert second.evaluate("window.__marker") == "not reloaded"
