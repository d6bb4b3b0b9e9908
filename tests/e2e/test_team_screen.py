"""The supervisor's team screen in a real browser: a supervisor moves an agent's tickets to
another agent, and both the team screen and the agents' screens follow live."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from configuration.models import BreakReason
from tests.e2e.conftest import login, off_loop
from tests.e2e.test_agent_screen import customer_writes, eventually, open_inbox
from tests.factories import make_user
from tickets.models import Ticket
from tickets.routing import agent_go_active

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_supervisor_moves_an_agents_tickets_and_both_screens_update(live, telegram, new_page):
    BreakReason.objects.create(name="Training")
    ayla = make_user("ayla", first_name="Ayla", capacity=2)
    burak = make_user("burak", first_name="Burak", capacity=3)
    make_user("boss", first_name="Boss", staff=True, capacity=None)
    off_loop(agent_go_active, user=ayla)
    for chat_id, name in ((701, "Zeynep Kaya"), (702, "Mert Can")):
        customer_writes(live, telegram, chat_id=chat_id, name=name, text="Merhaba")
    assert eventually(lambda: Ticket.objects.filter(assignee=ayla).count() == 2)
    off_loop(agent_go_active, user=burak)
    moved = list(Ticket.objects.filter(assignee=ayla).order_by("pk"))

    page_a, page_b, page_s = new_page(), new_page(), new_page()
    login(page_a, "ayla")
    login(page_b, "burak")
    login(page_s, "boss")
    open_inbox(page_a, "/inbox/?tab=mine")
    open_inbox(page_b, "/inbox/?tab=mine")
    for ticket in moved:
        expect(page_a.locator(f"#ticket-row-{ticket.pk}")).to_be_visible()
    open_inbox(page_s, "/team/")
    ayla_row = page_s.locator(f'#presence-team tr[data-agent="{ayla.pk}"]')
    burak_row = page_s.locator(f'#presence-team tr[data-agent="{burak.pk}"]')
    expect(ayla_row.locator("[data-load]")).to_have_attribute("data-load", "2/2")

    # The supervisor moves all of Ayla's tickets to Burak.
    ayla_row.get_by_role("link", name="Move tickets").click()
    page_s.get_by_label(re.compile(r"all 2 tickets")).check()
    page_s.select_option("#move-to", value=str(burak.pk))
    page_s.get_by_role("button", name="Move tickets").click()
    page_s.wait_for_url(re.compile(r"/presence/team/$"))
    expect(page_s.locator("#toasts")).to_contain_text("2 tickets moved.")
    expect(ayla_row.locator("[data-load]")).to_have_attribute("data-load", "0/2")
    expect(burak_row.locator("[data-load]")).to_have_attribute("data-load", "2/3")
    assert eventually(lambda: Ticket.objects.filter(assignee=burak).count() == 2)

    # The agents' screens follow without a reload: the rows leave Ayla's "mine", reach Burak's.
    for ticket in moved:
        expect(page_a.locator(f"#ticket-row-{ticket.pk}")).to_have_count(0)
        expect(page_b.locator(f"#ticket-row-{ticket.pk}")).to_be_visible()

    # The team screen follows too: Ayla takes a break from her top bar; a customer waits.
    page_s.evaluate("window.__noReload = true")
    page_a.select_option("#break-reason", label="Training")
    page_a.get_by_role("button", name="Take a break").click()
    expect(ayla_row).to_have_attribute("data-state", "passive")
    expect(ayla_row).to_contain_text("Training")
    assert page_s.evaluate("window.__noReload === true"), "the team screen was reloaded"
