"""A visitor who sends too fast is told to slow down next to the composer (not a blank error),
and the refused message stays "not sent" with its retry button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from channels_adapters.models import InboundEvent
from configuration.models import ChannelAccount, ChannelKind, SupportPage

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_says_slow_down_next_to_the_composer(live, new_page, settings):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "2/minute"
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    SupportPage.objects.create(channel_account=account, company_name="Acme")
    page = new_page()
    page.goto("/support/")
    page.fill("input[name=name]", "Fast Typist")
    page.locator("form.support-form button[type=submit]").click()
    box = page.locator("textarea[name=text]")
    for text in ("one", "two", "three"):
        box.fill(text)
        box.press("Enter")
    note = page.locator("[data-composer-error]")
    expect(note).to_be_visible()
    expect(note).to_have_text("You are going too fast. Please slow down and try again in a moment.")
    refused = page.locator("li.entry-in").last
    expect(refused).to_contain_text("Not sent")
    expect(refused.get_by_role("button", name="Retry")).to_be_visible()
    assert InboundEvent.objects.count() == 2
