"""A visitor who types several messages quickly: they are stored, and reach the agent, in the
order they were written, even when the server answers the first one last."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from channels_adapters.webchat import services
from configuration.models import ChannelAccount, ChannelKind, SupportPage
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_messages_typed_quickly_are_stored_in_the_order_written(live, new_page, monkeypatch):
    account = ChannelAccount.objects.create(kind=ChannelKind.WEBCHAT, name="help")
    SupportPage.objects.create(channel_account=account, company_name="Acme")
    post = services.visitor_message_post

    def slow_first(**kwargs):  # the server takes longer over the first message than the rest
        if kwargs["text"] == "first":
            time.sleep(1.5)
        return post(**kwargs)

    monkeypatch.setattr(services, "visitor_message_post", slow_first)
    page = new_page()
    page.goto("/support/")
    page.fill("input[name=name]", "Quick Typist")
    page.locator("form.support-form button[type=submit]").click()
    box = page.locator("textarea[name=text]")
    for text in ("first", "second", "third"):
        box.fill(text)
        box.press("Enter")

    mine = page.locator("li.entry-in")
    expect(mine).to_have_count(3)
    expect(mine.locator("p")).to_have_text(["first", "second", "third"])
    for entry in mine.all():
        expect(entry).not_to_contain_text("Not sent")
    deadline = time.monotonic() + 10
    while Message.objects.filter(direction="in").count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = Message.objects.filter(direction="in").order_by("created_at", "pk")
    assert [m.body for m in stored] == ["first", "second", "third"]
