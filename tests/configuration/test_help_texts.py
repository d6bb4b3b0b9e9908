"""The account name's help text in the admin says where that kind of account is reached."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from configuration.models import ChannelKind, MailAccount
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def _name_help(response) -> str:
    """The text a browser shows under the Name field (the admin renders help texts as HTML)."""
    html = response.content.decode()
    match = re.search(r'<div class="help" id="id_name_helptext">\s*<div>(.*?)</div>', html, re.S)
    assert match, "the name field has no help text"
    return " ".join(re.sub(r"<[^>]*>", "", match.group(1)).split())


def test_a_mail_account_names_no_webhook(admin_client):
    text = _name_help(admin_client.get(reverse("admin:configuration_mailaccount_add")))
    assert "/hooks/" not in text
    assert "IMAP" in text


def test_an_existing_mail_account_names_no_webhook_either(admin_client):
    mail = MailAccount.objects.create(
        name="support",
        email_address="support@example.com",
        imap_host="imap.example.com",
        smtp_host="smtp.example.com",
    )
    url = reverse("admin:configuration_mailaccount_change", args=[mail.pk])
    text = _name_help(admin_client.get(url))
    assert "/hooks/" not in text and "IMAP" in text


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "messenger", "api"])
def test_a_messenger_account_shows_its_own_webhook_address(admin_client, kind):
    account = make_account(kind=kind, name="main-line")
    url = reverse("admin:configuration_channelaccount_change", args=[account.pk])
    assert _name_help(admin_client.get(url)) == f"Its webhook address is /hooks/{kind}/main-line/."


def test_a_new_channel_account_gets_a_whole_example_address(admin_client):
    text = _name_help(admin_client.get(reverse("admin:configuration_channelaccount_add")))
    assert "/hooks/telegram/support/" in text
    assert "//" not in text


def test_a_web_chat_account_names_no_webhook(admin_client):
    account = make_account(kind=ChannelKind.WEBCHAT, name="site")
    url = reverse("admin:configuration_channelaccount_change", args=[account.pk])
    text = _name_help(admin_client.get(url))
    assert "/hooks/" not in text


def test_the_help_text_is_turkish_in_turkish(admin_client):
    account = make_account(kind="telegram", name="destek")
    admin_client.cookies["django_language"] = "tr"
    url = reverse("admin:configuration_channelaccount_change", args=[account.pk])
    assert "/hooks/telegram/destek/" in _name_help(admin_client.get(url))
    mail_text = _name_help(admin_client.get(reverse("admin:configuration_mailaccount_add")))
    assert "IMAP ile alınır" in mail_text and "/hooks/" not in mail_text
