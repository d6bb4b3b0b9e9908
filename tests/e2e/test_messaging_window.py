"""WhatsApp's 24-hour window in a real browser: past it the composer offers approved templates,
the agent fills a parameter and sends, and the (fake) Cloud API receives the template; a window
that closes while the ticket is open switches the composer without a reload."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_adapters.whatsapp.templates import whatsapp_templates_sync
from configuration.models import ChannelAccount, ChannelKind
from customers.services import customer_resolve
from tests.e2e.conftest import login, off_loop
from tests.e2e.test_agent_screen import assert_not_reloaded, eventually, open_inbox, settle
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive

pytestmark = pytest.mark.django_db(transaction=True)

WABA = "1029384756"


@pytest.fixture
def whatsapp(live, fake_provider) -> ChannelAccount:
    fake_provider.whatsapp_templates[WABA] = [
        {
            "id": "t1",
            "name": "siparis_kargoda",
            "language": "tr",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Merhaba {{1}}, siparişiniz kargoda."}],
        },
        {
            "id": "t2",
            "name": "taslak",
            "language": "tr",
            "status": "PENDING",
            "category": "MARKETING",
            "components": [{"type": "BODY", "text": "Taslak"}],
        },
    ]
    account = ChannelAccount.objects.create(
        kind=ChannelKind.WHATSAPP,
        name=f"wa-e2e-{uuid.uuid4().hex[:8]}",
        token="graph-token",
        secret="e2e-secret",
        external_id="1122334455667",
        waba_id=WABA,
        base_url=fake_provider.url,
    )
    whatsapp_templates_sync(account=account)
    return account


def _ticket(account, wrote_ago: timedelta):
    customer = customer_resolve(kind="whatsapp", external_id="905551112233", name="Ece Yıldız")
    received = off_loop(
        ticket_receive,
        channel_account=account,
        customer=customer,
        incoming=Incoming(
            body="Siparişim nerede?", external_id="wamid.in1", sent_at=timezone.now() - wrote_ago
        ),
    )
    return received.ticket


def test_closed_window_offers_a_template_the_agent_fills_and_sends(
    live, whatsapp, fake_provider, ayla, new_page
):
    ticket = _ticket(whatsapp, timedelta(hours=30))
    page = new_page()
    login(page, "ayla")
    open_inbox(page, f"/inbox/{ticket.pk}/")

    window = page.locator(f"#window-{ticket.pk}")
    expect(window).to_contain_text("WhatsApp accepts only an approved message template")
    choice = window.locator("select[name=template]")
    expect(choice.locator("option")).to_have_count(2)  # "Choose…" and the approved one
    choice.select_option(label="siparis_kargoda (tr)")
    body = window.locator("[data-template-body]")
    expect(body).to_contain_text("Merhaba {{1}}, siparişiniz kargoda.")

    window.get_by_role("button", name="Send template").click()  # the parameter is empty
    expect(window.locator("input[name=parameter_1]:invalid")).to_have_count(1)
    assert fake_provider.calls("messages") == []

    window.locator("input[name=parameter_1]").fill("Ece Hanım")
    window.get_by_role("button", name="Send template").click()

    sent = eventually(lambda: fake_provider.calls("messages"))
    assert sent, "the template was not sent"
    assert sent[0].data["type"] == "template"
    assert sent[0].data["template"]["name"] == "siparis_kargoda"
    assert sent[0].data["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ece Hanım"}]}
    ]
    reply = eventually(lambda: Message.objects.filter(direction="out").first())
    bubble = page.locator(f"#message-{reply.pk}")
    expect(bubble).to_contain_text("Merhaba Ece Hanım, siparişiniz kargoda.")
    expect(page.locator(f"#conversation-{ticket.pk}")).to_contain_text("Siparişim nerede?")
    assert_not_reloaded(page)


def test_the_composer_switches_to_templates_when_the_window_closes(
    live, whatsapp, fake_provider, ayla, new_page
):
    ticket = _ticket(whatsapp, timedelta(hours=24) - timedelta(seconds=20))
    page = new_page()
    login(page, "ayla")
    open_inbox(page, f"/inbox/{ticket.pk}/")

    window = page.locator(f"#window-{ticket.pk}")
    expect(window).to_contain_text("Window open — 0 h 0 min left")
    expect(
        page.locator(f"#reply-form-{ticket.pk} input[type=checkbox][name=note]")
    ).not_to_be_disabled()

    expect(window.locator("select[name=template]")).to_be_visible(timeout=30_000)
    settle(page)
    expect(
        page.locator(f"#reply-form-{ticket.pk} input[type=checkbox][name=note]")
    ).to_be_disabled()
    assert_not_reloaded(page)
