"""Out of hours in a real browser: the customer leaves an offline message and is told it
arrived (on screen and by e-mail); agents see it live under Offline messages and on the
homepage's card; an agent's reply reaches the customer by e-mail at a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from configuration.models import ChannelAccount, ChannelKind, Holiday, Subject, SupportPage
from tests.channels_adapters.webchat.mailsink import smtp_sink  # noqa: F401
from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import assert_not_reloaded, eventually, open_inbox
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed_support(live):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    Subject.objects.create(name="Billing information", position=1)
    Subject.objects.create(name="Membership cancellation", position=2)
    Holiday.objects.create(date=timezone.localdate(), name="Republic Day")
    return SupportPage.objects.create(channel_account=account, company_name="Acme Insurance")


def test_out_of_hours_the_customer_leaves_a_message_and_the_agent_answers_by_email(
    live,
    closed_support,
    ayla,  # noqa: F811
    new_page,
    smtp_sink,  # noqa: F811
):
    mail_account = smtp_sink.account()
    agent = new_page()
    login(agent, "ayla")
    open_inbox(agent, "/inbox/?tab=offline")
    home = new_page()
    login(home, "ayla")
    open_inbox(home, "/")
    expect(home.locator("[data-offline-count]")).to_have_text("0")

    customer = new_page(width=390, height=800)
    customer.goto("/support/")
    expect(customer.locator("h2")).to_have_text("Leave us a message")
    expect(customer.locator(".support-offline")).to_contain_text("Republic Day")
    customer.fill("input[name=name]", "Zeynep <Kaya>")
    customer.locator("input[name=email]").fill("zeynep@example.com")
    customer.select_option("select[name=subject]", label="Membership cancellation")
    customer.fill("textarea[name=message]", "Please cancel my membership")
    customer.get_by_role("button", name="Send the message").click()
    expect(customer.locator("[data-offline-sent]")).to_contain_text(
        "Thank you, we received your message"
    )
    (recipients, ack), *_ = smtp_sink.wait_for(1)
    assert recipients == ["zeynep@example.com"]
    assert ack["Subject"] == "We received your message"

    ticket = eventually(lambda: Ticket.objects.filter(source="webchat").first())
    assert ticket is not None and ticket.is_offline and ticket.assignee is None
    assert ticket.subject.name == "Membership cancellation"
    # Live, without a reload: the row in the Offline messages tab, the homepage's count.
    row = agent.locator(f"#ticket-row-{ticket.pk}")
    expect(row).to_contain_text("Zeynep <Kaya>")
    assert_not_reloaded(agent)
    expect(home.locator("[data-offline-count]")).to_have_text("1")
    expect(home.locator("#home-offline")).to_contain_text("Zeynep <Kaya>")
    assert_not_reloaded(home)

    row.locator("a").first.click()
    chat = agent.locator(f"#chat-{ticket.pk}")
    expect(chat).to_contain_text("Please cancel my membership")
    expect(chat.locator("[data-offline-reply]")).to_contain_text(
        "your reply goes out by e-mail to zeynep@example.com"
    )
    reply_box = agent.locator("textarea[name=body]").first
    reply_box.fill("Done, Zeynep. Your membership is cancelled.")
    reply_box.press("Enter")

    (recipients, answer) = smtp_sink.wait_for(2)[1]
    assert recipients == ["zeynep@example.com"]
    assert "Done, Zeynep. Your membership is cancelled." in answer.get_content()
    assert answer["From"] == "Acme Support <support@acme.test>"
    reply = eventually(lambda: Message.objects.filter(direction="out", delivery="sent").first())
    assert reply is not None and reply.channel_account_id == mail_account.pk


def test_after_the_maximum_wait_the_chat_page_offers_the_offline_form_without_a_reload(
    live, new_page
):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    SupportPage.objects.create(
        channel_account=account, company_name="Acme Insurance", max_wait_minutes=1
    )
    customer = new_page(width=390, height=800)
    customer.goto("/support/")
    customer.fill("input[name=name]", "Zeynep Kaya")
    customer.fill("input[name=email]", "zeynep@example.com")
    customer.locator("form.support-form button[type=submit]").click()
    box = customer.locator("textarea[name=text]")
    box.fill("Is anyone there?")
    box.press("Enter")
    expect(customer.locator("li.entry-in").last).to_contain_text("Delivered")
    customer.evaluate("window.__noReload = true")
    ticket = eventually(lambda: Ticket.objects.filter(source="webchat").first())
    assert ticket is not None and ticket.assignee is None  # nobody is active: in the pool
    Ticket.objects.filter(pk=ticket.pk).update(
        pool_entered_at=timezone.now() - timedelta(minutes=2)
    )
    # The page asks again at most every 20 s.
    form = customer.locator("[data-offline] form")
    expect(form).to_be_visible(timeout=30_000)
    expect(customer.locator("[data-offline]")).to_contain_text("No agent could take your chat")
    expect(form.locator("input[name=email]")).to_have_value("zeynep@example.com")
    assert_not_reloaded(customer)
    ticket.refresh_from_db()
    assert ticket.is_offline and ticket.messages.count() == 1
