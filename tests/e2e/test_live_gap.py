"""The window between the inbox's render and its socket's join: a ticket that arrives in it shows
up as soon as the socket joins, without waiting for that ticket to change again, and the row the
keyboard had selected keeps the selection and the focus through the list's swap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import (
    TRACK_SOCKETS,
    assert_not_reloaded,
    customer_writes,
    eventually,
)
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def open_inbox_offline(page, path: str = "/inbox/") -> None:
    """The inbox, rendered, with its socket held back (``window.__blockSockets``)."""
    page.add_init_script("window.__blockSockets = true;")
    page.add_init_script(TRACK_SOCKETS)
    page.goto(path)
    expect(page.locator("#inbox-list")).to_have_attribute("data-live-since", re.compile(r"^\d+$"))
    page.evaluate("window.__noReload = true")


def let_the_socket_join(page) -> None:
    page.evaluate("window.__blockSockets = false; window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => window.__hello >= 1", timeout=20_000)


def test_a_ticket_that_arrives_before_the_socket_joins_appears_without_another_change(
    live, telegram, ayla, new_page
):
    page = new_page()
    login(page, "ayla")
    open_inbox_offline(page)

    customer_writes(live, telegram, chat_id=777101, name="Deniz Ak", text="Arada geldim")
    ticket = eventually(lambda: Ticket.objects.filter(customer__name__contains="Deniz").first())
    assert ticket is not None
    row = page.locator(f"#ticket-row-{ticket.pk}")
    expect(row).to_have_count(0)  # the push found no socket: the page has not heard of it
    assert page.evaluate("window.__hello") == 0

    let_the_socket_join(page)

    expect(row).to_contain_text("Arada geldim")  # no later change of the ticket was needed
    assert_not_reloaded(page)


def test_the_keyboard_selection_survives_the_lists_catch_up(live, telegram, ayla, new_page):
    customer_writes(live, telegram, chat_id=777102, name="Ali Veli", text="Önceden yazdım")
    first = eventually(lambda: Ticket.objects.first())
    assert first is not None
    page = new_page()
    login(page, "ayla")
    open_inbox_offline(page)
    page.keyboard.press("j")
    selected = page.locator(f"#ticket-row-{first.pk}")
    expect(selected).to_have_class(re.compile("is-selected"))
    expect(selected.locator("a").first).to_be_focused()
    expect(page.locator(f"#conversation-{first.pk}")).to_be_visible()

    customer_writes(live, telegram, chat_id=777103, name="Banu Cem", text="Arada geldim")
    newcomer = eventually(lambda: Ticket.objects.exclude(pk=first.pk).first())
    assert newcomer is not None
    let_the_socket_join(page)

    expect(page.locator(f"#ticket-row-{newcomer.pk}")).to_contain_text("Arada geldim")
    expect(selected).to_have_class(re.compile("is-selected"))
    expect(selected.locator("a").first).to_be_focused()
    page.keyboard.press("k")  # the newcomer sorts above the selected row
    expect(page.locator(f"#conversation-{newcomer.pk}")).to_be_visible()
    assert_not_reloaded(page)


def test_a_message_that_arrives_before_the_socket_watches_the_open_ticket_appears(
    live, telegram, ayla, new_page
):
    customer_writes(live, telegram, chat_id=777104, name="Cem Dal", text="İlk mesaj")
    ticket = eventually(lambda: Ticket.objects.first())
    assert ticket is not None
    page = new_page()
    login(page, "ayla")
    open_inbox_offline(page, f"/inbox/{ticket.pk}/")  # the ticket page: its list comes deferred
    conversation = page.locator(f"#conversation-{ticket.pk}")
    expect(conversation).to_contain_text("İlk mesaj")

    customer_writes(live, telegram, chat_id=777104, name="Cem Dal", text="Arada ikinci mesaj")
    assert eventually(lambda: Message.objects.filter(body__contains="ikinci").exists())
    expect(conversation).not_to_contain_text("Arada ikinci mesaj")
    let_the_socket_join(page)

    expect(conversation).to_contain_text("Arada ikinci mesaj")
    expect(page.locator(f"#ticket-row-{ticket.pk}")).to_contain_text("Arada ikinci mesaj")
    assert_not_reloaded(page)
