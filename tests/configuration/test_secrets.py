"""Secrets are write-only in the admin and encrypted in the database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from configuration.models import ChannelAccount, MailAccount
from omnico.core.crypto import decrypt

pytestmark = pytest.mark.django_db

MAIL_PASSWORD = "Tr0ub4dor&3-mail"


def _mail_post(**overrides) -> dict:
    data = {
        "name": "support",
        "display_name": "Support",
        "enabled": "on",
        "email_address": "support@example.com",
        "username": "",
        "password": "",
        "imap_host": "imap.example.com",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_folder": "INBOX",
        "smtp_host": "smtp.example.com",
        "smtp_port": "587",
        "smtp_security": "starttls",
    }
    data.update(overrides)
    return data


def _raw_column(model, column: str, pk: int) -> str:
    """The column as stored, read with SQL so no model field decrypts it."""
    table = connection.ops.quote_name(model._meta.db_table)
    key = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE {key} = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def mail_account(admin_client):
    admin_client.post(
        reverse("admin:configuration_mailaccount_add"), _mail_post(password=MAIL_PASSWORD)
    )
    return MailAccount.objects.get(name="support")


def test_mail_password_is_stored_encrypted(mail_account):
    assert mail_account.password == MAIL_PASSWORD
    stored = _raw_column(MailAccount, "password", mail_account.pk)
    assert MAIL_PASSWORD not in stored
    assert decrypt(stored) == MAIL_PASSWORD


def test_mail_change_page_never_shows_the_password(admin_client, mail_account):
    page = admin_client.get(
        reverse("admin:configuration_mailaccount_change", args=[mail_account.pk])
    ).content.decode()
    assert MAIL_PASSWORD not in page
    assert escape(MAIL_PASSWORD) not in page
    assert 'type="password"' in page
    assert "Set. Leave empty to keep the stored value." in page


def test_add_page_says_the_password_is_not_set(admin_client):
    page = admin_client.get(reverse("admin:configuration_mailaccount_add")).content.decode()
    assert "Not set." in page


def test_saving_with_an_empty_password_keeps_the_stored_one(admin_client, mail_account):
    response = admin_client.post(
        reverse("admin:configuration_mailaccount_change", args=[mail_account.pk]),
        _mail_post(display_name="Support desk"),
    )
    assert response.status_code == 302
    mail_account.refresh_from_db()
    assert mail_account.display_name == "Support desk"
    assert mail_account.password == MAIL_PASSWORD


def test_typing_a_new_password_replaces_the_old_one(admin_client, mail_account):
    admin_client.post(
        reverse("admin:configuration_mailaccount_change", args=[mail_account.pk]),
        _mail_post(password="new-secret-pw"),
    )
    mail_account.refresh_from_db()
    assert mail_account.password == "new-secret-pw"


def test_the_clear_box_removes_the_password(admin_client, mail_account):
    admin_client.post(
        reverse("admin:configuration_mailaccount_change", args=[mail_account.pk]),
        _mail_post(clear_password="on"),
    )
    mail_account.refresh_from_db()
    assert mail_account.password == ""


def test_clearing_and_typing_a_password_at_once_is_refused(admin_client, mail_account):
    response = admin_client.post(
        reverse("admin:configuration_mailaccount_change", args=[mail_account.pk]),
        _mail_post(password="other", clear_password="on"),
    )
    assert response.status_code == 200
    mail_account.refresh_from_db()
    assert mail_account.password == MAIL_PASSWORD


def test_channel_account_secrets_are_write_only(admin_client):
    account = ChannelAccount.objects.create(
        kind="telegram",
        name="bot",
        token="123456:bot-token-plain",
        secret="webhook-secret-plain",
        verify_token="verify-plain",
    )
    url = reverse("admin:configuration_channelaccount_change", args=[account.pk])
    page = admin_client.get(url).content.decode()
    for column, plaintext in (
        ("token", "123456:bot-token-plain"),
        ("secret", "webhook-secret-plain"),
        ("verify_token", "verify-plain"),
    ):
        assert plaintext not in page
        stored = _raw_column(ChannelAccount, column, account.pk)
        assert plaintext not in stored
        assert decrypt(stored) == plaintext

    admin_client.post(
        url,
        {
            "kind": "telegram",
            "name": "bot",
            "enabled": "on",
            "display_name": "",
            "token": "",
            "secret": "rotated-secret",
            "verify_token": "",
            "clear_verify_token": "on",
            "external_id": "",
            "base_url": "",
            "callback_url": "",
        },
    )
    account.refresh_from_db()
    assert account.token == "123456:bot-token-plain"  # left empty: kept
    assert account.secret == "rotated-secret"  # typed: replaced
    assert account.verify_token == ""  # cleared
    assert decrypt(_raw_column(ChannelAccount, "secret", account.pk)) == ("rotated-secret")


def test_a_second_mail_account_with_the_same_name_is_refused(admin_client, mail_account):
    response = admin_client.post(
        reverse("admin:configuration_mailaccount_add"), _mail_post(password="x")
    )
    assert response.status_code == 200
    assert "A mail account with this name exists already." in response.content.decode()
    assert MailAccount.objects.filter(name="support").count() == 1
