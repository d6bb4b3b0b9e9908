"""The end of a web chat in a real browser: the agent resolves the ticket and the visitor's page
asks for a rating, which the agent's panel then shows; the visitor ends a chat and asks for
its transcript, which arrives at a real SMTP server with the messages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.channels_adapters.webchat.mailsink import desk_mail_account, running_sink
from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import eventually, open_inbox
from tests.e2e.test_support_page import support, visitor_opens_the_chat  # noqa: F401
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mail_sink(live):
    with running_sink() as sink:
        desk_mail_account(sink)
        yield sink


def customer_says(page, text: str) -> None:
    box = page.locator("textarea[name=text]")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("li.entry-in").last).to_contain_text("Delivered")


def test_the_agent_resolves_and_the_customers_rating_reaches_the_agents_panel(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
):
    customer = new_page(width=390, height=800)
    visitor_opens_the_chat(customer)
    customer_says(customer, "Is my policy renewed?")
    ticket = eventually(lambda: Ticket.objects.filter(source="webchat", assignee=ayla).first())
    assert ticket is not None

    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent)
    agent.locator(f"#ticket-row-{ticket.pk} a").first.click()
    expect(agent.locator(f"#conversation-{ticket.pk}")).to_contain_text("Is my policy renewed?")
    agent.locator(f"#ticket-status-{ticket.pk}").select_option("resolved")

    # Live: the customer's page asks for a rating without a reload.
    rating = customer.get_by_role("group", name="How was this chat?")
    expect(rating).to_be_visible()
    expect(customer.locator("textarea[name=text]")).to_be_hidden()
    customer.locator("label[for=support-star-4]").click()  # the fourth star
    expect(customer.get_by_role("radio", name="4 stars")).to_be_checked()
    customer.fill("textarea[name=comment]", "Quick and <kind>")
    customer.get_by_role("button", name="Send the rating").click()
    expect(customer.locator("[data-rated]")).to_contain_text("You rated this chat 4 out of 5")

    # Live: the agent's panel shows it (it refreshes on the ticket's change).
    shown = agent.locator(f"#panel-{ticket.pk} [data-rating]")
    expect(shown).to_contain_text("4 out of 5")
    expect(shown).to_contain_text("Quick and <kind>")
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (4, "Quick and <kind>")


def test_the_customer_ends_the_chat_and_gets_the_transcript_by_mail(
    live,
    support,  # noqa: F811
    ayla,  # noqa: F811
    new_page,
    mail_sink,
):
    customer = new_page(width=390, height=800)
    visitor_opens_the_chat(customer)
    customer_says(customer, "Please cancel <everything>")
    ticket = eventually(lambda: Ticket.objects.filter(source="webchat", assignee=ayla).first())
    assert ticket is not None

    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent)
    agent.locator(f"#ticket-row-{ticket.pk} a").first.click()
    reply_box = agent.locator("textarea[name=body]").first
    reply_box.fill("Cancelled, Zeynep.")
    reply_box.press("Enter")
    expect(customer.locator("li.entry-out").last).to_contain_text("Cancelled, Zeynep.")

    customer.locator("details.support-end summary").click()
    customer.get_by_role("button", name="Yes, end the chat").click()
    expect(customer.get_by_role("group", name="How was this chat?")).to_be_visible()
    expect(customer.get_by_role("button", name="Start a new chat")).to_be_visible()
    # The agent sees it live, as a system line in the conversation.
    expect(agent.locator(f"#conversation-{ticket.pk}")).to_contain_text(
        "The customer ended the chat."
    )

    customer.locator("details.support-transcript summary").click()
    expect(customer.locator("details.support-transcript input[name=email]")).to_have_value(
        "zeynep@example.com"
    )
    customer.get_by_role("button", name="Send the transcript").click()
    expect(customer.get_by_role("status")).to_contain_text("on its way")
    assert eventually(lambda: len(mail_sink.mails) == 1), "no transcript arrived"
    mail, text, html = mail_sink.parts()
    assert mail_sink.mails[0][0] == ["zeynep@example.com"]
    assert "Please cancel <everything>" in text and "Cancelled, Zeynep." in text
    assert "Please cancel &lt;everything&gt;" in html
    ticket.refresh_from_db()
    assert ticket.customer_ended_at is not None and ticket.status == "open"
    assert Message.objects.filter(ticket=ticket, direction="system").exists()
