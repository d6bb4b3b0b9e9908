"""Writes and checks of the e-mail channel that admins trigger."""

from __future__ import annotations

import contextlib

from django.utils.translation import gettext as _

from channels_adapters.email.errors import describe_error
from channels_adapters.email.poller import imap_connect, imap_select
from channels_adapters.email.sender import smtp_connect
from configuration.models import MailAccount

CHECK_TIMEOUT = 10


def mail_account_test(*, account: MailAccount) -> list[tuple[str, bool, str]]:
    """Try the account's IMAP login and folder, then its SMTP login, as ``(label, ok, words)``.

    Failures carry the server's real reason in plain words (wrong password, connection refused,
    TLS handshake failed, unknown host, timeout); the password never appears in them.
    """
    return [_check_imap(account), _check_smtp(account)]


def _check_imap(account: MailAccount) -> tuple[str, bool, str]:
    label = _("IMAP %(host)s:%(port)s") % {"host": account.imap_host, "port": account.imap_port}
    try:
        client = imap_connect(account, timeout=CHECK_TIMEOUT)
        try:
            imap_select(client, account.imap_folder or "INBOX")
        finally:
            with contextlib.suppress(Exception):  # the check already has its answer
                client.logout()  # type: ignore[no-untyped-call]  # imapclient: unannotated
    except Exception as exc:
        return (
            label,
            False,
            describe_error(
                exc, host=account.imap_host, port=account.imap_port, secret=account.password
            ),
        )
    return (
        label,
        True,
        _("Logged in and opened the folder %(folder)s.")
        % {"folder": account.imap_folder or "INBOX"},
    )


def _check_smtp(account: MailAccount) -> tuple[str, bool, str]:
    label = _("SMTP %(host)s:%(port)s") % {"host": account.smtp_host, "port": account.smtp_port}
    try:
        smtp = smtp_connect(account, timeout=CHECK_TIMEOUT)
        try:
            smtp.noop()
        finally:
            try:
                smtp.quit()
            except Exception:
                smtp.close()
    except Exception as exc:
        return (
            label,
            False,
            describe_error(
                exc, host=account.smtp_host, port=account.smtp_port, secret=account.password
            ),
        )
    if account.password:
        return label, True, _("Connected and logged in.")
    return label, True, _("Connected (no password set, so no login was tried).")
