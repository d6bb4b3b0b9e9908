"""Presence in a real browser: an agent on a break gets no new customers and comes back to what
arrived meanwhile; an agent who closes the browser becomes away and nobody routes to them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from configuration.models import BreakReason
from tests.e2e.conftest import login, off_loop
from tests.e2e.test_agent_screen import customer_writes, eventually, open_inbox
from tests.factories import make_user
from tickets.models import AgentPresence, Ticket
from tickets.presence import presence_away_sweep
from tickets.routing import agent_go_active

pytestmark = pytest.mark.django_db(transaction=True)


def assignee_of(chat_id: int) -> str | None:
    """The agent of the newest ticket of the Telegram customer ``chat_id`` (None: pool)."""
    ticket = (
        Ticket.objects.filter(customer__identities__external_id=str(chat_id))
        .select_related("assignee")
        .order_by("-id")
        .first()
    )
    if ticket is None:
        return "-"
    return ticket.assignee.get_username() if ticket.assignee else None


def state_of(username: str) -> str:
    return AgentPresence.objects.get(user__username=username).current_state


def test_an_agent_on_a_break_gets_no_new_customer_and_comes_back_to_what_arrived(
    live, telegram, new_page
):
    BreakReason.objects.create(name="Lunch", max_minutes=30)
    ayla = make_user("ayla", first_name="Ayla", capacity=2)
    burak = make_user("burak", first_name="Burak", capacity=1)
    off_loop(agent_go_active, user=ayla)
    customer_writes(live, telegram, chat_id=501, name="Zeynep Kaya", text="Kargom nerede?")
    assert eventually(lambda: assignee_of(501) == "ayla")  # the only active agent

    page_a, page_b = new_page(), new_page()
    login(page_a, "ayla")
    login(page_b, "burak")
    open_inbox(page_a)
    open_inbox(page_b)
    off_loop(agent_go_active, user=burak)

    # Ayla goes on a break with a reason, from the top bar.
    page_a.select_option("#break-reason", label="Lunch")
    page_a.get_by_role("button", name="Take a break").click()
    expect(page_a.locator(".topbar .presence-state")).to_have_text(re.compile("Passive: Lunch"))
    assert state_of("ayla") == "passive"

    # A new customer goes to Burak; the next one waits in the pool (Burak is full).
    customer_writes(live, telegram, chat_id=502, name="Mert Can", text="İade istiyorum")
    assert eventually(lambda: assignee_of(502) == "burak")
    customer_writes(live, telegram, chat_id=503, name="Elif Su", text="Fatura lazım")
    assert eventually(lambda: assignee_of(503) is None)
    assert assignee_of(503) is None  # not Ayla: she is on a break
    # Ayla's own customer writes again meanwhile.
    customer_writes(live, telegram, chat_id=501, name="Zeynep Kaya", text="Hâlâ bekliyorum")

    # Ayla comes back: she takes the pool head, and the Tickets list opens on what arrived.
    page_a.get_by_role("button", name="Go active").click()
    page_a.wait_for_url(re.compile(r"/tickets/\?missed=1$"))
    assert eventually(lambda: assignee_of(503) == "ayla")
    ayla_ticket = Ticket.objects.filter(assignee__username="ayla").order_by("id").first()
    assert ayla_ticket is not None
    expect(page_a.locator(f"#list-row-{ayla_ticket.pk}")).to_be_visible()
    expect(page_a.locator("#ticket-rows tr")).to_have_count(1)
    expect(page_a.locator("[data-presence-missed]")).to_have_text(
        re.compile("1 new while you were away")
    )
    assert state_of("ayla") == "active"


def test_an_agent_who_closes_the_browser_becomes_away_and_nobody_routes_to_them(
    live, telegram, new_page, settings
):
    settings.OMNICO_AWAY_SECONDS = 3
    settings.OMNICO_SCREEN_HEARTBEAT_SECONDS = 0.5
    ayla = make_user("ayla", first_name="Ayla", capacity=3)
    burak = make_user("burak", first_name="Burak", capacity=3)
    off_loop(agent_go_active, user=ayla)
    off_loop(agent_go_active, user=burak)

    page_a, page_b = new_page(), new_page()
    login(page_a, "ayla")
    login(page_b, "burak")
    open_inbox(page_a)
    open_inbox(page_b)

    page_a.context.close()  # Ayla closes the browser; Burak's screen stays open
    assert eventually(
        lambda: off_loop(presence_away_sweep) == [ayla.pk] or state_of("ayla") == "away",
        timeout=15,
    )
    assert state_of("ayla") == "away"
    assert state_of("burak") == "active"

    for i in range(3):  # Ayla has the most free slots after 0 tickets each: still none to her
        chat_id = 601 + i
        customer_writes(live, telegram, chat_id=chat_id, name="Deniz Ak", text=f"Soru {i}")
        assert eventually(lambda chat_id=chat_id: assignee_of(chat_id) == "burak")
    assert not Ticket.objects.filter(assignee=ayla).exists()

    # Ayla opens the agent screen again: she is active, no button needed.
    page = new_page()
    login(page, "ayla")
    open_inbox(page)
    assert eventually(lambda: state_of("ayla") == "active")
    expect(page.locator(".topbar .presence-state")).to_have_text("Active")
