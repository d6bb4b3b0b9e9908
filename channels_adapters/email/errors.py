"""A mail server's failure in plain, translatable words for admins and logs.

The account's password never appears in what these return.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl

from django.utils.translation import gettext as _
from imapclient.exceptions import IMAPClientError, LoginError

_AUTH_WORDS = ("authenticationfailed", "authentication failed", "credentials", "[auth")


class FolderMissing(Exception):
    """The configured IMAP folder cannot be selected."""


def describe_error(
    exc: BaseException, *, host: str = "", port: int | None = None, secret: str = ""
) -> str:
    """What went wrong, the way an admin fixing the settings needs to read it."""
    if isinstance(exc, LoginError | smtplib.SMTPAuthenticationError):
        text = _("Wrong user name or password: the server refused the login.")
    elif isinstance(exc, FolderMissing):
        text = _("The folder %(folder)s does not exist on the server.") % {"folder": str(exc)}
    elif isinstance(exc, ConnectionRefusedError):
        text = _("Connection refused: nothing answers on %(host)s port %(port)s.") % {
            "host": host,
            "port": port,
        }
    elif isinstance(exc, socket.gaierror):
        text = _("Unknown host %(host)s: check the server name.") % {"host": host}
    elif isinstance(exc, ssl.SSLError):
        text = _("TLS handshake failed (%(reason)s): check the security setting and the port.") % {
            "reason": getattr(exc, "reason", None) or type(exc).__name__
        }
    elif isinstance(exc, TimeoutError | socket.timeout):
        text = _("The server did not answer in time (%(host)s port %(port)s).") % {
            "host": host,
            "port": port,
        }
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        text = _("The SMTP server does not support this: %(error)s") % {"error": exc}
    elif isinstance(exc, smtplib.SMTPResponseException):
        message = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        text = _("The SMTP server answered %(code)s: %(message)s") % {
            "code": exc.smtp_code,
            "message": message,
        }
    elif isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionResetError | EOFError):
        text = _("The server closed the connection unexpectedly.")
    elif isinstance(exc, IMAPClientError | imaplib.IMAP4.error):
        detail = str(exc)
        if any(word in detail.lower() for word in _AUTH_WORDS):
            text = _("Wrong user name or password: the server refused the login.")
        else:
            text = _("The IMAP server answered: %(error)s") % {"error": detail}
    elif isinstance(exc, OSError):
        text = _("Network error talking to %(host)s port %(port)s: %(error)s") % {
            "host": host,
            "port": port,
            "error": exc.strerror or type(exc).__name__,
        }
    else:
        text = _("Unexpected error: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
    if secret:
        text = text.replace(secret, "********")
    return text
