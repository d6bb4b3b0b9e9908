"""Fixtures of the web chat: a support page, its group types and subjects, a visitor."""

from __future__ import annotations

import pytest
from django.test import Client

from configuration.models import ChannelKind, GroupType, Subject, SupportPage
from tests.factories import make_account


@pytest.fixture
def page(db) -> SupportPage:
    account = make_account(kind=ChannelKind.WEBCHAT, name="help")
    return SupportPage.objects.create(
        channel_account=account, company_name="Acme & Co", welcome_text="Hello <b>there</b>"
    )


@pytest.fixture
def choices(db) -> dict:
    return {
        "allianz": GroupType.objects.create(name="Allianz", position=2),
        "axa": GroupType.objects.create(name="AXA", position=1),
        "hidden": GroupType.objects.create(name="Old", position=0, is_active=False),
        "billing": Subject.objects.create(name="Billing information", position=1),
        "cancel": Subject.objects.create(name="Membership cancellation", position=2),
    }


def start(client: Client, page: SupportPage, **answers) -> Client:
    """Go through the contact step; the client then holds a visitor cookie."""
    response = client.post(f"/support/{page.channel_account.name}/start/", answers)
    assert response.status_code == 302
    return client


def say(client: Client, page: SupportPage, text: str, client_id: str) -> dict:
    response = client.post(
        f"/support/{page.channel_account.name}/messages/",
        {"text": text, "client_id": client_id},
        HTTP_ACCEPT="application/json",
    )
    return {"status": response.status_code, **response.json()}


# The web chat's mails (transcript, replies while away) go to a real SMTP server.
from tests.channels_adapters.webchat.mailsink import desk_mail, eager_tasks, smtp_sink  # noqa: E402, F401
