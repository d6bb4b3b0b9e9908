"""The ticket header in a real browser: its status and priority badges follow the panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.test_agent_screen import (
    _choose,
    _panel,
    customer_writes,
    eventually,
    open_inbox,
    wait_watching,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def test_header_badges_follow_the_panels_status_and_priority(live, telegram, ayla, new_page):
    customer_writes(live, telegram, chat_id=777020, name="Deniz Ak", text="Kargom gelmedi")
    ticket = eventually(lambda: Ticket.objects.first())
    page = new_page()
    login(page, "ayla")
    open_inbox(page, f"/inbox/{ticket.pk}/")
    wait_watching(page, ticket.pk)
    header = page.locator(f"#chat-{ticket.pk} .conversation-head")
    expect(header).to_contain_text("Medium")

    _choose(_panel(page, ticket.pk), "priority", "urgent")
    expect(header.locator(".badge-priority-urgent")).to_have_text("Urgent")
    _choose(_panel(page, ticket.pk), "status", "pending")
    expect(header.locator(".badge-status-pending")).to_have_text("Pending")
    expect(header).not_to_contain_text("Medium")
