"""Telegram Bot API through python-telegram-bot: ``Update.de_json`` in, ``Bot.send_message`` out.

``ChannelAccount.base_url`` is the Bot API root (default ``https://api.telegram.org``); the bot
token is never logged or put in a stored address.
"""

from __future__ import annotations

import copy
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import async_to_sync
from django.http import HttpRequest
from django.utils.translation import gettext as _
from telegram import Bot, Update
from telegram import Message as TgMessage
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.request import HTTPXRequest

from channels_adapters.base import (
    ChannelAdapter,
    DeliveryError,
    InboundAttachment,
    InboundError,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import load_json
from configuration.models import ChannelAccount

if TYPE_CHECKING:
    from customers.models import Identity
    from tickets.models import Message

logger = logging.getLogger(__name__)

API_ROOT = "https://api.telegram.org"
FILE_REF = "telegram-file:"
#: Message fields that carry something the customer said; anything else is a service message.
CONTENT_FIELDS = (
    "text",
    "caption",
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "sticker",
    "location",
    "venue",
    "contact",
    "dice",
    "poll",
    "story",
    "checklist",
    "invoice",
    "game",
)
T = TypeVar("T")


def _bot(account: ChannelAccount, request: HTTPXRequest | None = None) -> Bot:
    root = (account.base_url or API_ROOT).rstrip("/")
    kwargs: dict[str, Any] = {}
    if request is not None:
        kwargs = {"request": request, "get_updates_request": request}
    return Bot(
        account.token or "0:unset",
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        **kwargs,
    )


def _call(account: ChannelAccount, action: Callable[[Bot], Awaitable[T]]) -> T:
    async def run() -> T:
        request = HTTPXRequest(connect_timeout=5.0, read_timeout=15.0, write_timeout=15.0)
        await request.initialize()
        try:
            return await action(_bot(account, request))
        finally:
            await request.shutdown()

    return async_to_sync(run)()


class TelegramAdapter(ChannelAdapter):
    kind = "telegram"
    #: One Update: a message of at most 4096 characters with its entities, or a caption and
    #: file ids; well under 1 MiB even with a replied-to message inside.
    max_body_bytes = 1024 * 1024

    def verify_request(self, account: ChannelAccount, request: HttpRequest) -> bool:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return bool(account.secret) and hmac.compare_digest(given.encode(), account.secret.encode())

    def dedupe_key(self, account: ChannelAccount, body: bytes) -> str:
        update_id = load_json(body).get("update_id")
        if not isinstance(update_id, int):
            raise InboundError("update_id is missing")
        return f"update:{update_id}"

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        data = load_json(body)
        edited = "message" not in data and "edited_message" in data
        raw = data.get("edited_message" if edited else "message")
        if not isinstance(raw, dict):
            kinds = [key for key in data if key != "update_id"]
            return ParsedEvent(
                ignored=_("Telegram update without a customer message (%(kind)s).")
                % {"kind": ", ".join(kinds) or "-"}
            )
        update = _de_json(data, _bot(account))
        message = update.edited_message if edited else update.message
        if message is None:
            raise InboundError("not a Telegram message update")
        if not any(field in raw for field in CONTENT_FIELDS):
            service = [k for k in raw if k not in {"message_id", "from", "chat", "date"}]
            return ParsedEvent(
                ignored=_("Telegram service message (%(kind)s).")
                % {"kind": ", ".join(service) or "-"}
            )
        return ParsedEvent(messages=[_inbound(message, raw, edited)])

    def download(self, account: ChannelAccount, attachment: InboundAttachment) -> bytes | None:
        if not attachment.file_ref.startswith(FILE_REF):
            return None
        file_id = attachment.file_ref.removeprefix(FILE_REF)

        async def fetch(bot: Bot) -> bytes:
            file = await bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())

        try:
            return _call(account, fetch)
        except (TelegramError, RuntimeError, OSError) as exc:
            logger.info("telegram file download failed: %s", type(exc).__name__)
            return None

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        chat_id = recipient.external_id

        async def deliver(bot: Bot) -> str:
            sent = await bot.send_message(chat_id=chat_id, text=message.body)
            return f"{sent.chat_id}:{sent.message_id}"

        try:
            return _call(account, deliver)
        except (BadRequest, Forbidden, InvalidToken) as exc:
            raise DeliveryError(f"Telegram: {exc.message}", permanent=True) from None
        except NetworkError as exc:
            raise DeliveryError(f"Telegram: {exc.message}") from None
        except TelegramError as exc:  # RetryAfter, Conflict...
            raise DeliveryError(f"Telegram: {exc.message}") from None

    def register_webhook(self, account: ChannelAccount, url: str) -> bool:
        """Point the bot's webhook at ``url``, signed with the account's secret."""

        async def register(bot: Bot) -> bool:
            return await bot.set_webhook(
                url=url, secret_token=account.secret or None, drop_pending_updates=False
            )

        try:
            return _call(account, register)
        except TelegramError as exc:
            raise DeliveryError(f"Telegram: {exc.message}", permanent=True) from None


def _de_json(data: dict[str, Any], bot: Bot) -> Update:
    """``Update.de_json``; payloads from older Bot API versions lack fields the library now
    requires (``file_unique_id``, ``is_bot``), which are filled in before a second try."""
    try:
        update = Update.de_json(data, bot)
    except (TypeError, KeyError, ValueError):
        try:
            update = Update.de_json(_repaired(copy.deepcopy(data)), bot)
        except (TypeError, KeyError, ValueError) as exc:
            raise InboundError(f"not a Telegram update: {exc}") from None
    if update is None:
        raise InboundError("not a Telegram update")
    return update


def _repaired(value: Any) -> Any:
    if isinstance(value, list):
        return [_repaired(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "file_id" in value:
        value.setdefault("file_unique_id", value["file_id"])
    if "first_name" in value and "id" in value and "type" not in value:
        value.setdefault("is_bot", False)
    return {key: _repaired(item) for key, item in value.items()}


def _inbound(message: TgMessage, raw: dict[str, Any], edited: bool) -> InboundMessage:
    chat = message.chat
    user = message.from_user
    name = user.full_name if user else (chat.effective_name or "")
    meta: dict[str, Any] = {"chat_type": chat.type}
    external_id = f"{chat.id}:{message.message_id}"
    if edited:
        meta["edited"] = True
        meta["original_id"] = external_id
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        external_id = f"{external_id}:edit:{stamp}"
    if user and user.username:
        meta["username"] = user.username
    parts = [message.text or message.caption or ""]
    attachments = _attachments(message)
    if message.venue:
        venue = message.venue
        meta["location"] = {
            "latitude": venue.location.latitude,
            "longitude": venue.location.longitude,
        }
        parts.append(f"📍 {venue.title}, {venue.address}")
    elif message.location:
        loc = message.location
        meta["location"] = {"latitude": loc.latitude, "longitude": loc.longitude}
        parts.append(f"📍 {loc.latitude}, {loc.longitude}")
    if message.contact:
        contact = message.contact
        full = " ".join(filter(None, [contact.first_name, contact.last_name]))
        parts.append(f"👤 {full} {contact.phone_number}".strip())
        meta["contact"] = {"name": full, "phone": contact.phone_number}
    text = "\n".join(p for p in parts if p).strip()
    if not text and not attachments:
        kind = next((f for f in CONTENT_FIELDS if f in raw), "unknown")
        text = _("[unsupported message type: %(type)s]") % {"type": kind}
        meta["raw_type"] = kind
    return InboundMessage(
        external_id=external_id,
        sender_id=str(chat.id),
        sender_name=name,
        text=text,
        sent_at=message.date,
        attachments=attachments,
        meta=meta,
    )


def _attachments(message: TgMessage) -> list[InboundAttachment]:
    found: list[InboundAttachment] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(_ref(largest.file_id, f"photo-{largest.file_unique_id}.jpg", "image/jpeg"))
    for kind, default_type in (
        ("document", "application/octet-stream"),
        ("voice", "audio/ogg"),
        ("audio", "audio/mpeg"),
        ("video", "video/mp4"),
        ("video_note", "video/mp4"),
        ("animation", "video/mp4"),
        ("sticker", "image/webp"),
    ):
        media = getattr(message, kind, None)
        if media is None:
            continue
        filename = getattr(media, "file_name", None) or f"{kind}-{media.file_unique_id}"
        content_type = getattr(media, "mime_type", None) or default_type
        found.append(_ref(media.file_id, filename, content_type))
    return found


def _ref(file_id: str, filename: str, content_type: str) -> InboundAttachment:
    return InboundAttachment(
        filename=filename, content_type=content_type, file_ref=f"{FILE_REF}{file_id}"
    )
