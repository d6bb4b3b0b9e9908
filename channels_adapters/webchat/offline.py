"""Offline messages of the support page: the form's message stored durably, its acknowledgement
by e-mail, the maximum wait, and where an agent's reply to an offline ticket goes.

The form's message takes the same durable path as a chat message: an inbound event of the
web-chat account (deduplicated by the form's client id, so a double submit stores one), then
ingest opens a ticket marked offline (or marks the visitor's active ticket offline). The
sender's contact is kept on the message (``meta["contact"]``), so a reply reaches the address
given in this form even when the visitor's customer record has another one.

E-mail goes out through the mail channel: the first enabled mail account (by id) sends both
the acknowledgement and agents' replies (replies as ordinary outbound messages of that account,
with their delivery states). With no mail account the acknowledgement falls back to Django's
``send_mail`` from ``DEFAULT_FROM_EMAIL``; replies are refused (an agent cannot reach the
customer).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_adapters.base import InboundError
from channels_adapters.models import InboundEvent
from channels_adapters.services.inbound import event_record
from channels_adapters.webchat.adapter import CLIENT_ID, MAX_TEXT_CHARS, validate
from channels_adapters.webchat.offline_replies import reply_mail_account
from channels_adapters.webchat.selectors import visitor_ticket
from channels_adapters.webchat.services import VisitorMessageError
from configuration.models import ChannelAccount, SupportPage
from tickets.models import ACTIVE_STATUSES
from tickets.offline import ticket_wait_expire

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfflineMessage:
    """What the offline form asks: a name, an e-mail or a phone (one at least), a subject."""

    name: str
    email: str
    phone: str
    text: str
    subject_id: int | None = None
    group_type_id: int | None = None


def offline_message_post(
    *,
    account: ChannelAccount,
    visitor_id: str,
    client_id: str,
    message: OfflineMessage,
    company_name: str = "",
) -> tuple[InboundEvent, bool]:
    """Store an offline form's message as an inbound event (durable when this returns); a
    resend with the same client id changes nothing. A new one with an e-mail address gets an
    acknowledgement by e-mail after commit."""
    text = message.text.strip()
    if not CLIENT_ID.match(client_id or ""):
        raise VisitorMessageError(_("This message has no valid id; reload the page."))
    if not text:
        raise VisitorMessageError(_("Write a message first."))
    if len(text) > MAX_TEXT_CHARS:
        raise VisitorMessageError(
            _("A message can be at most %(n)d characters long.") % {"n": MAX_TEXT_CHARS}
        )
    data = {
        "id": client_id,
        "visitor": visitor_id,
        "text": text,
        "offline": True,
        "name": message.name,
        "email": message.email,
        "phone": message.phone,
        "subject": message.subject_id,
        "group_type": message.group_type_id,
    }
    try:
        parsed = validate(data, account_id=account.pk)
    except InboundError as exc:
        raise VisitorMessageError(_("This message cannot be sent.")) from exc
    with transaction.atomic():
        event, created = event_record(
            account=account, body=json.dumps(data).encode(), dedupe_key=parsed.external_id
        )
        if created and message.email:
            from channels_adapters.webchat.tasks import offline_acknowledge

            language = translation.get_language() or settings.LANGUAGE_CODE
            transaction.on_commit(
                lambda: offline_acknowledge.delay(
                    email=message.email,
                    name=message.name,
                    company_name=company_name,
                    language=language,
                )
            )
    return event, created


def _acknowledgement(*, name: str, company_name: str) -> tuple[str, str]:
    subject = _("We received your message")
    greeting = _("Hello %(name)s,") % {"name": name} if name else _("Hello,")
    body = "\n\n".join(
        [
            greeting,
            _(
                "Thank you for your message. We are not available right now; an agent will "
                "answer you by e-mail as soon as possible."
            ),
            company_name,
        ]
    ).strip()
    return subject, body + "\n"


def offline_acknowledge_send(
    *, email: str, name: str = "", company_name: str = "", language: str = ""
) -> None:
    """Tell the sender of an offline message by e-mail that it arrived: through the mail
    channel's SMTP account when there is one, else Django's ``send_mail``."""
    from channels_adapters.email.sender import smtp_connect

    with translation.override(language or settings.LANGUAGE_CODE):
        subject, body = _acknowledgement(name=name, company_name=company_name)
    account = reply_mail_account()
    if account is None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
        return
    address = account.email_address
    mail = EmailMessage()
    mail["From"] = formataddr((account.display_name or company_name or "", address))
    mail["To"] = formataddr((name, email))
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1] or "localhost")
    mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(body)
    smtp = smtp_connect(account)
    try:
        smtp.send_message(mail, from_addr=address, to_addrs=[email])
    finally:
        smtp.quit()


# --- maximum wait ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitState:
    """``state``: "offline" (the ticket became an offline message: offer the form), "waiting"
    (still in the pool: ask again in ``retry_in`` seconds) or "done" (nothing to wait for)."""

    state: str
    retry_in: int = 0


#: How often a waiting page asks at most (seconds).
WAIT_POLL_SECONDS = 20


def visitor_wait_check(*, page: SupportPage, visitor_id: str) -> WaitState:
    """Has the visitor's ticket waited in the pool past the page's maximum wait? Then it
    becomes an offline message (leaves the pool, keeps the conversation)."""
    if not page.max_wait_minutes:
        return WaitState("done")
    ticket = visitor_ticket(account_id=page.channel_account_id, visitor_id=visitor_id)
    if ticket is None:
        return WaitState("waiting", WAIT_POLL_SECONDS)  # the first message is not ingested yet
    if ticket.is_offline and ticket.status in ACTIVE_STATUSES:
        return WaitState("offline")
    if ticket.assignee_id is not None or ticket.status not in ACTIVE_STATUSES:
        return WaitState("done")
    max_wait = timedelta(minutes=page.max_wait_minutes)
    if ticket_wait_expire(ticket=ticket, max_wait=max_wait):
        return WaitState("offline")
    left = (ticket.pool_entered_at + max_wait - timezone.now()).total_seconds()
    return WaitState("waiting", max(1, min(WAIT_POLL_SECONDS, int(left) + 1)))
