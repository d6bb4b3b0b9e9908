"""SMTP out: an agent's reply composed as a threaded mail and handed to the account's server."""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError
from channels_adapters.email.errors import describe_error
from channels_adapters.email.parser import UNKNOWN_SENDER, normalise_id
from channels_adapters.email.selectors import mail_reply_thread
from configuration.models import MailAccount
from customers.models import Identity
from tickets.models import Message

SMTP_TIMEOUT = 30


def _brackets(message_id: str) -> str:
    return f"<{message_id}>"


def reply_subject(*, title: str, ticket_id: int) -> str:
    title = " ".join((title or "").split()) or _("Your request")
    token = f"[#{ticket_id}]"
    if not title.lower().startswith(("re:", "aw:", "ynt:")):
        title = f"Re: {title}"
    return title if token in title else f"{title} {token}"


def mail_compose(*, account: MailAccount, message: Message, recipient: Identity) -> EmailMessage:
    """The reply as a MIME message with a fresh Message-ID and the ticket's thread headers."""
    address = account.email_address
    domain = address.rsplit("@", 1)[-1] or "localhost"
    mail = EmailMessage()
    mail["From"] = formataddr((account.display_name or "", address))
    mail["To"] = formataddr((recipient.display or "", recipient.external_id))
    mail["Subject"] = reply_subject(title=message.ticket.title, ticket_id=message.ticket_id)
    mail["Date"] = format_datetime(timezone.now())
    mail["Message-ID"] = make_msgid(domain=domain)
    in_reply_to, references = mail_reply_thread(message=message)
    if in_reply_to:
        mail["In-Reply-To"] = _brackets(in_reply_to)
    if references:
        mail["References"] = " ".join(_brackets(ref) for ref in references)
    mail["Auto-Submitted"] = "no"
    mail.set_content(message.body or "")
    for attachment in message.attachments.all():
        if not attachment.file:
            continue
        ctype = attachment.content_type or mimetypes.guess_type(attachment.filename)[0]
        maintype, _slash, subtype = (ctype or "application/octet-stream").partition("/")
        with attachment.file.open("rb") as handle:
            mail.add_attachment(
                handle.read(),
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
    return mail


def smtp_connect(account: MailAccount, *, timeout: float = SMTP_TIMEOUT) -> smtplib.SMTP:
    """A logged-in SMTP session with the account's security setting."""
    context = ssl.create_default_context()
    if account.smtp_security == MailAccount.Security.SSL:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            account.smtp_host, account.smtp_port, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=timeout)
    try:
        if account.smtp_security == MailAccount.Security.STARTTLS:
            smtp.starttls(context=context)
        if account.password:
            smtp.login(account.login, account.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    # A TLS mismatch does not heal by retrying: the settings need a fix.
    return isinstance(exc, ssl.SSLError)


def _describe(exc: BaseException, account: MailAccount) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        (code, msg), *_rest = exc.recipients.values()
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
        return _("The mail server refused the recipient (%(code)s): %(message)s") % {
            "code": code,
            "message": text,
        }
    return describe_error(
        exc, host=account.smtp_host, port=account.smtp_port, secret=account.password
    )


def mail_send(*, account: MailAccount, message: Message, recipient: Identity) -> str:
    """Send one reply; returns its Message-ID (without brackets), stored as the message's
    external id so the customer's answer threads back to the ticket."""
    if not account.enabled:
        raise DeliveryError(_("The mail account is disabled."), permanent=True)
    if not recipient.external_id or recipient.external_id == UNKNOWN_SENDER:
        raise DeliveryError(_("The customer has no e-mail address to reply to."), permanent=True)
    mail = mail_compose(account=account, message=message, recipient=recipient)
    try:
        smtp = smtp_connect(account)
        try:
            smtp.send_message(
                mail, from_addr=account.email_address, to_addrs=[recipient.external_id]
            )
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(_describe(exc, account), permanent=_is_permanent(exc)) from None
    return normalise_id(mail["Message-ID"])
