"""The customer side in a real browser: a visitor picks a group type and a subject, chats with
an agent both ways live, and a reload keeps the conversation; and the page in Turkish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from configuration.models import ChannelAccount, ChannelKind, GroupType, Subject, SupportPage
from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import eventually, open_inbox
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

#: Counts the visitor socket's "hello" frames (sent once it is subscribed).
TRACK_VISITOR_SOCKET = """
(() => {
  const Native = window.WebSocket;
  window.__hello = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (String(event.data).includes('"hello"')) window.__hello += 1;
      });
    }
  };
})();
"""


@pytest.fixture
def support(live):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    GroupType.objects.create(name="Allianz", position=1)
    GroupType.objects.create(name="AXA", position=2)
    Subject.objects.create(name="Billing information", position=1)
    Subject.objects.create(name="Membership cancellation", position=2)
    return SupportPage.objects.create(
        channel_account=account, company_name="Acme Insurance", welcome_text="Hi!"
    )


def visitor_opens_the_chat(page, name: str = "Zeynep Kaya") -> None:
    page.add_init_script(TRACK_VISITOR_SOCKET)
    page.goto("/support/")
    page.get_by_role("link", name="Allianz").click()
    page.get_by_role("link", name="Membership cancellation").click()
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", "zeynep@example.com")
    page.locator("form.support-form button[type=submit]").click()
    page.wait_for_function("() => window.__hello > 0")


def test_visitor_and_agent_chat_both_ways_and_a_reload_keeps_it(
    live,
    support,
    ayla,  # noqa: F811
    new_page,  # noqa: F811
):
    customer = new_page(width=390, height=800)  # a phone
    visitor_opens_the_chat(customer)
    box = customer.locator("textarea[name=text]")
    box.fill("I want to cancel my membership")
    box.press("Enter")
    mine = customer.locator("li.entry-in").last
    expect(mine).to_contain_text("I want to cancel my membership")
    expect(mine).to_contain_text("Delivered")

    ticket = eventually(lambda: Ticket.objects.filter(source="webchat").first())
    assert ticket is not None
    assert ticket.group_type.name == "Allianz"
    assert ticket.subject.name == "Membership cancellation"
    # Ayla is active: the ticket is routed to her, and the visitor is told by display name.
    expect(customer.locator("li.entry-system").last).to_contain_text("Ayla Demir joined the chat.")

    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent)
    agent.locator(f"#ticket-row-{ticket.pk} a").first.click()
    expect(agent.locator(f"#conversation-{ticket.pk}")).to_contain_text(
        "I want to cancel my membership"
    )
    topic = agent.locator(f"#chat-{ticket.pk} .conversation-topic")
    expect(topic).to_contain_text("Allianz")
    expect(topic).to_contain_text("Membership cancellation")
    reply_box = agent.locator("textarea[name=body]").first
    reply_box.fill("Sorry to see you go, <Zeynep>. Done.")
    reply_box.press("Enter")

    theirs = customer.locator("li.entry-out").last
    expect(theirs).to_contain_text("Sorry to see you go, <Zeynep>. Done.")
    reply = eventually(
        lambda: Message.objects.filter(direction="out", delivery="delivered").first()
    )
    assert reply is not None, "the visitor's socket did not acknowledge the reply"

    customer.reload()
    expect(customer.locator("li.entry-in")).to_contain_text(["I want to cancel my membership"])
    expect(customer.locator("li.entry-out")).to_contain_text(
        ["Sorry to see you go, <Zeynep>. Done."]
    )


def test_the_support_page_speaks_turkish_to_a_turkish_browser(live, support, new_page):
    page = new_page(locale="tr-TR")
    page.goto("/support/")
    expect(page.locator("h2")).to_have_text("Sorunuz ne hakkında?")
    page.get_by_role("link", name="AXA").click()
    expect(page.locator("h2")).to_have_text("Bir konu seçin")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h2")).to_have_text("Choose a subject")
