from __future__ import annotations

import pytest

from channels_adapters.email.services import mail_account_test
from tests.channels_adapters.email.conftest import free_port

pytestmark = pytest.mark.django_db


def test_working_account_reports_both_checks_ok(mail_account):
    results = mail_account_test(account=mail_account)
    assert [ok for _label, ok, _words in results] == [True, True]
    assert "IMAP" in results[0][0] and "SMTP" in results[1][0]


def test_wrong_password_is_reported_in_plain_words(mail_account):
    mail_account.password = "Wr0ng-Secret-Pass"  # noqa: S105
    (imap_label, imap_ok, imap_words), (_label, smtp_ok, smtp_words) = mail_account_test(
        account=mail_account
    )
    assert not imap_ok and not smtp_ok
    assert imap_words == "Wrong user name or password: the server refused the login."
    assert smtp_words == imap_words
    assert "Wr0ng-Secret-Pass" not in imap_words + smtp_words


def test_refused_port_is_reported_in_plain_words(mail_account):
    mail_account.imap_port = free_port()
    mail_account.smtp_port = free_port()
    results = mail_account_test(account=mail_account)
    for _label, ok, words in results:
        assert not ok
        assert words.startswith("Connection refused: nothing answers on 127.0.0.1 port")


def test_missing_folder_is_reported(mail_account):
    mail_account.imap_folder = "NoSuchFolder"
    (_label, ok, words), _smtp = mail_account_test(account=mail_account)
    assert not ok
    assert words == "The folder NoSuchFolder does not exist on the server."


def test_tls_against_a_plain_server_reports_a_handshake_failure(mail_account):
    mail_account.imap_security = "ssl"
    mail_account.smtp_security = "ssl"
    for _label, ok, words in mail_account_test(account=mail_account):
        assert not ok
        assert words.startswith("TLS handshake failed")


def test_admin_action_shows_the_results(rf, admin_user, mail_account):
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.cookie import CookieStorage

    from channels_adapters.email.admin_actions import test_connection
    from configuration.models import MailAccount

    model_admin = site._registry.get(MailAccount)
    if model_admin is None:
        pytest.skip("MailAccount is not registered in the admin yet")
    mail_account.password = "Wr0ng-Secret-Pass"  # noqa: S105
    mail_account.save()
    request = rf.post("/admin/configuration/mailaccount/")
    request.user = admin_user
    request._messages = CookieStorage(request)

    test_connection(model_admin, request, MailAccount.objects.filter(pk=mail_account.pk))

    texts = [str(m) for m in request._messages]
    assert len(texts) == 2
    assert all("Wrong user name or password" in t for t in texts)
    assert not any("Wr0ng-Secret-Pass" in t for t in texts)
