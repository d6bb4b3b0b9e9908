"""The e-mail channel behind the common adapter interface."""

from __future__ import annotations

import hashlib

from django.utils.translation import gettext as _

from channels_adapters.base import ChannelAdapter, InboundMessage, ParsedEvent
from channels_adapters.email import selectors
from channels_adapters.email.parser import (
    content_key,
    mail_message_id,
    parse_bytes,
    parse_mail,
)
from channels_adapters.email.sender import mail_send
from configuration.models import ChannelAccount, ChannelKind, MailAccount
from customers.models import Identity
from tickets.models import Message


def mail_account(account: ChannelAccount) -> MailAccount:
    if isinstance(account, MailAccount):
        return account
    return MailAccount.objects.get(pk=account.pk)


def mail_dedupe_key(body: bytes) -> str:
    """``<Message-ID>#<content key>``: the same mail fetched twice, even after a UIDVALIDITY
    change or through another hop, is stored once; a different mail that shares its
    Message-ID (broken clients, list servers) is stored too. Only the header block is parsed:
    the poller computes this for every fetched mail, and the body is parsed once, at ingest."""
    try:
        message_id = mail_message_id(parse_bytes(body, headers_only=True), body)
    except Exception:
        message_id = "sha256:" + hashlib.sha256(body).hexdigest()
    key = content_key(body)
    return f"{message_id[: 254 - len(key)]}#{key}"


class EmailAdapter(ChannelAdapter):
    kind = ChannelKind.EMAIL
    max_body_bytes = 64 * 1024  # mail is polled; its webhook URL refuses every POST

    def verify_request(self, account, request) -> bool:
        return False  # mail arrives by polling, never by webhook

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        return mail_dedupe_key(body)

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        message = parse_mail(body)
        own = mail_account(account).email_address.lower()
        if own and message.sender_id == own:
            return ParsedEvent(ignored=_("A copy of a mail sent from this account."))
        return ParsedEvent(messages=[message])

    def thread_ticket_id(self, account: ChannelAccount, message: InboundMessage) -> int | None:
        return selectors.mail_thread_ticket_id(account=account, message=message)

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        return mail_send(account=mail_account(account), message=message, recipient=recipient)
