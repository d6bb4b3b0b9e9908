"""Canned responses in a real browser: the agent types "/ia" in the reply box, chooses an answer
with the keyboard, gets it filled in with the customer's name, sends it, and the customer's
Telegram chat (the loopback fake of the Bot API) receives it; the answer's usage count rose."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from configuration.models import CannedResponse
from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import customer_writes, eventually, open_inbox, shot
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def answers(live):
    CannedResponse.objects.create(
        shortcut="iade",
        title="İade süreci",
        text="Merhaba {{ customer_name }}, iadeniz başladı. Talep no: {{ ticket_number }}.",
        language="tr",
        position=1,
    )
    CannedResponse.objects.create(
        shortcut="kargo-iade",
        title="İade kargosu",
        text="{{ customer_name }}, kargo kodunuz SMS ile gelecek.",
        language="tr",
        position=2,
    )
    CannedResponse.objects.create(shortcut="kargo", title="Kargo takibi", text="Yolda.")


def test_agent_inserts_a_canned_response_with_the_keyboard_and_sends_it(
    live, telegram, fake_provider, ayla, answers, new_page
):
    customer_writes(live, telegram, chat_id=777310, name="Mert Aydın", text="İade istiyorum")
    ticket = eventually(lambda: Ticket.objects.first())
    page = new_page()
    login(page, "ayla")
    open_inbox(page)
    page.locator(f"#ticket-row-{ticket.pk} a").first.click()
    expect(page.locator(f"#conversation-{ticket.pk}")).to_contain_text("İade istiyorum")

    box = page.locator(f"#reply-body-{ticket.pk}")
    listbox = page.locator(f"#canned-list-{ticket.pk}")
    box.click()
    box.type("/ia")
    expect(listbox).to_be_visible()
    options = listbox.locator('[role="option"]')
    expect(options).to_have_count(2)  # "iade" and "kargo-iade"; "kargo" does not match
    expect(options.nth(0)).to_contain_text("İade süreci")
    expect(box).to_have_attribute("aria-expanded", "true")
    first_id = options.nth(0).get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    shot(page, "canned-list")

    # Escape closes the list and leaves the focus in the box; typing on reopens it.
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_be_focused()
    box.type("d")
    expect(options).to_have_count(2)

    box.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    box.press("ArrowUp")
    expect(box).to_have_attribute("aria-activedescendant", first_id)
    box.press("Enter")  # inserts; does not send

    text = f"Merhaba Mert Aydın, iadeniz başladı. Talep no: {ticket.pk}."
    expect(box).to_have_value(text)
    expect(listbox).to_be_hidden()
    assert not Message.objects.filter(direction="out").exists(), "Enter sent the list's choice"

    box.press("Enter")  # now it sends
    reply = eventually(lambda: Message.objects.filter(direction="out").first())
    assert reply is not None and reply.body == text
    expect(page.locator(f"#message-{reply.pk}")).to_contain_text("Mert Aydın, iadeniz")
    assert eventually(lambda: fake_provider.calls("sendMessage"))
    assert fake_provider.calls("sendMessage")[0].data["text"] == text
    counted = eventually(lambda: CannedResponse.objects.filter(usage_count__gt=0).exists())
    assert counted, "sending did not count the answer's use"
    counts = dict(CannedResponse.objects.values_list("shortcut", "usage_count"))
    assert counts == {"iade": 1, "kargo-iade": 0, "kargo": 0}


def test_agent_picks_a_canned_response_with_the_mouse(
    live, telegram, fake_provider, ayla, answers, new_page
):
    customer_writes(live, telegram, chat_id=777311, name="Zeynep Kaya", text="Kargom nerede?")
    ticket = eventually(lambda: Ticket.objects.first())
    page = new_page()
    login(page, "ayla")
    open_inbox(page)
    page.locator(f"#ticket-row-{ticket.pk} a").first.click()
    box = page.locator(f"#reply-body-{ticket.pk}")
    box.click()
    box.type("Tamam. /kargo")
    listbox = page.locator(f"#canned-list-{ticket.pk}")
    listbox.locator('[role="option"]', has_text="İade kargosu").click()
    expect(box).to_have_value("Tamam. Zeynep Kaya, kargo kodunuz SMS ile gelecek.")
    expect(box).to_be_focused()
