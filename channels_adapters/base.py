"""The one interface every channel implements.

An adapter translates: raw inbound bytes into plain dataclasses, and an outbound Message into a
provider call. It never touches tickets; ``channels_adapters.services`` does that through
``tickets.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from configuration.models import ChannelAccount
    from customers.models import Identity
    from tickets.models import Message
    from tickets.receiving import Received


@dataclass
class InboundAttachment:
    filename: str
    content_type: str = "application/octet-stream"
    content: bytes | None = None
    url: str = ""
    content_id: str = ""
    is_inline: bool = False
    #: A provider reference (Telegram file_id, WhatsApp media id), kept as the attachment's
    #: ``file_ref`` and fetched after commit through ``ChannelAdapter.download``.
    file_ref: str = ""
    #: A file already in the default storage (a support page upload): attached as it is.
    stored_name: str = ""


@dataclass
class InboundMessage:
    """One customer message, as the channel said it."""

    external_id: str
    sender_id: str  # the Identity external id: chat id, phone, PSID, e-mail address
    sender_name: str = ""
    text: str = ""
    html: str = ""  # already sanitised by the adapter
    sent_at: datetime | None = None
    attachments: list[InboundAttachment] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    is_automatic: bool = False  # auto-reply or bounce
    title: str = ""
    email: str = ""
    phone: str = ""
    thread_message_ids: list[str] = field(default_factory=list)  # e-mail In-Reply-To/References
    ticket_token: int | None = None  # "[#123]" in an e-mail subject
    #: What the message says, hashed: another message under the same ``external_id`` is kept
    #: too when this differs (e-mail: two mails sharing a Message-ID). Empty: the id decides.
    content_key: str = ""
    #: What the customer chose before writing (web chat): set on the ticket it opens.
    subject_id: int | None = None
    group_type_id: int | None = None
    #: Left through the support page's offline form: the ticket it opens is an offline message.
    is_offline: bool = False


@dataclass
class DeliveryUpdate:
    """A provider's word on one of our outbound messages (sent/delivered/read/failed)."""

    external_id: str
    state: str
    error: str = ""
    at: datetime | None = None
    #: With no ``external_id``: every message to this identity sent up to ``at`` (a read
    #: watermark, as Messenger reports it).
    recipient_id: str = ""


@dataclass
class IdentityChange:
    """A channel's notice that a customer now goes by another id (WhatsApp: "number changed").

    ``sender_id`` is the id they went by, ``new_sender_id`` the one they use now ("" when the
    notice changes no id: only ``note`` is shown). ``note`` becomes a system line in their
    conversation, kept once per ``external_id`` (the notice's own id).
    """

    external_id: str
    sender_id: str
    new_sender_id: str = ""
    note: str = ""
    sent_at: datetime | None = None


@dataclass
class ParsedEvent:
    messages: list[InboundMessage] = field(default_factory=list)
    updates: list[DeliveryUpdate] = field(default_factory=list)
    identity_changes: list[IdentityChange] = field(default_factory=list)
    ignored: str = ""  # why nothing in the event concerns us (a typing notice, an echo...)


class InboundError(Exception):
    """The payload cannot be understood; the event keeps this message as its error."""


class DeliveryError(Exception):
    """Sending failed. ``permanent`` failures are not retried and show in the chat."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class ChannelAdapter:
    kind: ClassVar[str]
    #: The largest webhook body the channel's provider sends. A bigger one is answered 413
    #: from its Content-Length, or as soon as that many bytes were read, never stored.
    max_body_bytes: ClassVar[int] = 1024 * 1024
    #: ``send`` only hands the message to something of our own (the web chat's push to the
    #: visitor's socket group): no provider to wait for, so an agent's reply is sent by the web
    #: process right after commit instead of by a task (``services.outbound.reply_send``).
    sends_in_process: ClassVar[bool] = False

    def body_limit(self) -> int:
        """``max_body_bytes``, within Django's upload limit (``OMNICO_MAX_BODY_BYTES``)."""
        from django.conf import settings

        return min(self.max_body_bytes, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    def handshake(self, account: ChannelAccount, request: HttpRequest) -> HttpResponse | None:
        """Answer a provider's GET subscription check (Meta); None: GET is not supported."""
        return None

    def verify_request(self, account: ChannelAccount, request: HttpRequest) -> bool:
        """True when the webhook request is signed by the provider with the account's secret."""
        raise NotImplementedError

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        """A key that is the same for two deliveries of the same inbound event.

        Raises ``InboundError`` when the body is malformed: the webhook answers 400 then.
        """
        raise NotImplementedError

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        raise NotImplementedError

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        """Deliver an outbound message; return the provider's id for it."""
        raise NotImplementedError

    def thread_ticket_id(self, account: ChannelAccount, message: InboundMessage) -> int | None:
        """The ticket this message continues, when the channel threads by itself (e-mail)."""
        return None

    def received(self, account: ChannelAccount, message: InboundMessage, got: Received) -> None:
        """``message`` was stored as ``got`` (in the ingest transaction): e.g. the web chat
        tells the visitor's socket which ticket it is on. Default: nothing."""

    def download(self, account: ChannelAccount, attachment: InboundAttachment) -> bytes | None:
        """Fetch ``attachment.file_ref`` from the provider; None when it cannot be fetched."""
        return None
