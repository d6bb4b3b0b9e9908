"""Mails to a support page's visitor: the chat's transcript, and agents' replies they missed.

Both go out through the first enabled mail account's SMTP server (the desk's own address), as
plain text with an HTML alternative rendered from auto-escaped templates (what the visitor and
the agent wrote is escaped), in the visitor's language.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError
from channels_adapters.email.sender import smtp_connect
from channels_adapters.webchat.selectors import agent_display_name
from configuration.models import MailAccount
from tickets.models import Message, Ticket


@dataclass(frozen=True)
class MailLine:
    who: str
    at: datetime
    text: str


def visitor_mail_account() -> MailAccount | None:
    """The account the desk mails visitors from: the first enabled one."""
    return MailAccount.objects.filter(enabled=True).order_by("pk").first()


def mail_lines(*, messages: list[Message], customer_name: str) -> list[MailLine]:
    """The conversation as the visitor saw it, who wrote each line (agents by display name)."""
    lines = []
    for message in messages:
        if message.direction == Message.Direction.INBOUND:
            who = customer_name or _("You")
        else:
            who = agent_display_name(message.author)
        lines.append(MailLine(who=who, at=message.sent_at, text=message.body))
    return lines


def visitor_mail_compose(
    *,
    account: MailAccount,
    to: str,
    subject: str,
    template: str,
    context: dict,
    language: str,
) -> EmailMessage:
    """A plain-text mail with an HTML alternative, both from ``<template>.txt``/``.html``."""
    with translation.override(language):
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    address = account.email_address
    mail = EmailMessage()
    mail["From"] = formataddr((account.display_name or "", address))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(timezone.now())
    mail["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1] or "localhost")
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def visitor_mail_send(*, account: MailAccount, mail: EmailMessage, to: str) -> None:
    """Hand the mail to the account's SMTP server; a ``DeliveryError`` says why not."""
    try:
        smtp = smtp_connect(account)
        try:
            smtp.send_message(mail, from_addr=account.email_address, to_addrs=[to])
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        permanent = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
        raise DeliveryError(type(exc).__name__, permanent=permanent) from None


def transcript_subject(*, ticket: Ticket, company: str, language: str) -> str:
    with translation.override(language):
        return _("Your chat with %(company)s [#%(ticket)d]") % {
            "company": company,
            "ticket": ticket.pk,
        }


def away_subject(*, ticket: Ticket, company: str, language: str) -> str:
    with translation.override(language):
        return _("New reply from %(company)s [#%(ticket)d]") % {
            "company": company,
            "ticket": ticket.pk,
        }
