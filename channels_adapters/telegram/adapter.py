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
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
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
from channels_adapters.meta import from_timestamp
from channels_adapters.summaries import as_dict, summary_line
from configuration.models import ChannelAccount

if TYPE_CHECKING:
    from customers.models import Identity
    from tickets.models import Message
    from tickets.receiving import Received

logger = logging.getLogger(__name__)

API_ROOT = "https://api.telegram.org"
FILE_REF = "telegram-file:"
#: Updates that hold a message a customer wrote (a business chat's are their customers').
MESSAGE_UPDATES = ("message", "edited_message", "business_message", "edited_business_message")
#: Updates that carry nothing from a customer, with the reason an admin reads on the event.
IGNORED_UPDATES = {
    "channel_post": _lazy("A post in one of the bot's channels, not a customer's message."),
    "edited_channel_post": _lazy("A post in one of the bot's channels was edited."),
    "business_connection": _lazy("A business account connected or disconnected the bot."),
    "deleted_business_messages": _lazy(
        "Messages were deleted in a business chat (only their ids are sent)."
    ),
    "message_reaction_count": _lazy("Anonymous reaction counts of a channel post."),
    "inline_query": _lazy(
        "An inline search typed in another chat (sent on each keystroke, not to the support)."
    ),
    "chosen_inline_result": _lazy(
        "An inline result the user sent into another chat, not to the support."
    ),
    "poll": _lazy("The vote counts of a poll the bot sent."),
    "my_chat_member": _lazy("The bot's own membership changed (started, blocked, added)."),
    "chat_member": _lazy("A member joined, left or changed role in a group."),
    "chat_join_request": _lazy("A request to join a group or channel."),
    "chat_boost": _lazy("A chat was boosted."),
    "removed_chat_boost": _lazy("A chat boost was removed."),
}
#: Message fields that describe the message rather than hold its content.
ENVELOPE_FIELDS = {
    "message_id",
    "message_thread_id",
    "direct_messages_topic",
    "from",
    "sender_chat",
    "sender_boost_count",
    "sender_business_bot",
    "sender_tag",
    "date",
    "business_connection_id",
    "chat",
    "forward_origin",
    "forward_from",
    "forward_from_chat",
    "forward_from_message_id",
    "forward_signature",
    "forward_sender_name",
    "forward_date",
    "is_topic_message",
    "is_automatic_forward",
    "reply_to_message",
    "external_reply",
    "quote",
    "reply_to_story",
    "reply_to_checklist_task_id",
    "via_bot",
    "edit_date",
    "has_protected_content",
    "is_from_offline",
    "is_paid_post",
    "media_group_id",
    "author_signature",
    "paid_star_count",
    "entities",
    "caption_entities",
    "link_preview_options",
    "suggested_post_info",
    "effect_id",
    "show_caption_above_media",
    "has_media_spoiler",
    "reply_markup",
    "text",
    "caption",
}
#: Service messages: what happened in the chat, nothing a customer wrote or sent.
SERVICE_FIELDS = {
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "connected_website",
    "write_access_allowed",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "chat_owner_changed",
    "community_chat_added",
    "checklist_tasks_done",
    "checklist_tasks_added",
    "direct_message_price_changed",
    "paid_message_price_changed",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "suggested_post_approved",
    "suggested_post_approval_failed",
    "suggested_post_declined",
    "suggested_post_paid",
    "suggested_post_refunded",
}
#: Content kept as attachments (no summary line, the file shows); a sticker gets both.
MEDIA_FIELDS = {"photo", "document", "voice", "audio", "video", "video_note", "animation"}
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
        kinds = [key for key, value in data.items() if key != "update_id" and value is not None]
        kind = next((k for k in kinds if k in MESSAGE_UPDATES or k in IGNORED_UPDATES), "")
        kind = kind or next((k for k in kinds if isinstance(data[k], dict)), "")
        raw = data.get(kind)
        if kind in IGNORED_UPDATES:
            return ParsedEvent(ignored=str(IGNORED_UPDATES[kind]))
        if kind not in MESSAGE_UPDATES:
            action = _action(kind, raw, data.get("update_id"))
            if action is None:
                return ParsedEvent(
                    ignored=_("Telegram update with no customer in it (%(kind)s).")
                    % {"kind": ", ".join(kinds) or "-"}
                )
            return ParsedEvent(messages=[action])
        update = _de_json(data, _bot(account))
        message = getattr(update, kind, None)
        if message is None or not isinstance(raw, dict):
            raise InboundError("not a Telegram message update")
        if not _has_content(raw):
            service = [k for k in raw if k not in ENVELOPE_FIELDS]
            return ParsedEvent(
                ignored=_("A service message in the chat (%(kind)s), nothing a customer wrote.")
                % {"kind": ", ".join(service) or "-"}
            )
        return ParsedEvent(messages=[_inbound(message, raw, edited=kind.startswith("edited_"))])

    def received(self, account: ChannelAccount, message: InboundMessage, got: Received) -> None:
        """A pressed button keeps spinning in the customer's Telegram until the bot answers
        the callback query: once the press is stored, answer it (a task after commit)."""
        query_id = message.meta.get("callback_query_id")
        if query_id and not got.duplicate:
            _enqueue_button_answer(account.pk, str(query_id))

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


def _enqueue_button_answer(account_id: int, query_id: str) -> None:
    from channels_adapters.tasks import answer_button_press

    def queue() -> None:
        try:
            answer_button_press.delay(account_id, query_id)
        except Exception as exc:  # broker down: Telegram stops the spinner by itself later
            logger.warning("could not queue a button answer: %s", type(exc).__name__)

    transaction.on_commit(queue)


def telegram_answer_button(*, account: ChannelAccount, query_id: str) -> bool:
    """Answer a customer's button press (``answerCallbackQuery``, no text): their button
    stops spinning. Best effort: Telegram accepts an answer only for a short while, so a
    failure is logged (never the token) and not retried. True when Telegram took it."""

    async def answer(bot: Bot) -> bool:
        return bool(await bot.answer_callback_query(query_id))

    try:
        return _call(account, answer)
    except (TelegramError, RuntimeError, OSError) as exc:
        logger.info("telegram button answer failed: %s", type(exc).__name__)
        return False


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


def _has_content(raw: dict[str, Any]) -> bool:
    """Whether a message holds anything a customer wrote or sent (any unknown field counts:
    a type added to the Bot API after this release still shows)."""
    return bool(raw.get("text") or raw.get("caption")) or any(
        key not in ENVELOPE_FIELDS and key not in SERVICE_FIELDS for key in raw
    )


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
    if raw.get("business_connection_id"):
        meta["business_connection_id"] = raw["business_connection_id"]
    parts = [message.text or message.caption or ""]
    attachments = _attachments(message)
    if message.venue:
        venue = message.venue
        meta["location"] = {
            "latitude": venue.location.latitude,
            "longitude": venue.location.longitude,
        }
    elif message.location:
        loc = message.location
        meta["location"] = {"latitude": loc.latitude, "longitude": loc.longitude}
    if message.contact:
        contact = message.contact
        full = " ".join(filter(None, [contact.first_name, contact.last_name]))
        meta["contact"] = {"name": full, "phone": contact.phone_number}
    # Everything else the customer sent, known type or not, as one readable line each (a
    # venue also carries its location: one line).
    shown = [
        key
        for key in raw
        if key not in ENVELOPE_FIELDS
        and key not in SERVICE_FIELDS
        and key not in MEDIA_FIELDS
        and not (key == "location" and "venue" in raw)
    ]
    parts.extend(summary_line(key, raw[key]) for key in shown)
    if shown:
        meta["types"] = shown
    return InboundMessage(
        external_id=external_id,
        sender_id=str(chat.id),
        sender_name=name,
        text="\n".join(p for p in parts if p).strip(),
        sent_at=message.date,
        attachments=attachments,
        meta=meta,
    )


def _action(kind: str, raw: Any, update_id: Any) -> InboundMessage | None:
    """A customer's action that is not a message (a button pressed, a poll answered, a
    reaction, a payment step, or an update type added after this release) as a message, or
    None when no customer is named in it."""
    if not isinstance(raw, dict):
        return None
    person = next((raw[k] for k in ("from", "user") if isinstance(raw.get(k), dict)), None)
    message = as_dict(raw.get("message"))
    chat = next(
        (
            c
            for c in (raw.get("chat"), message.get("chat"), raw.get("voter_chat"))
            if isinstance(c, dict) and c.get("id") is not None
        ),
        None,
    )
    who = chat or (person if person and person.get("id") is not None else None)
    if who is None or (person or {}).get("is_bot"):
        return None
    content = dict(raw)
    meta: dict[str, Any] = {"update": kind, "types": [kind]}
    if kind == "callback_query":
        meta["callback_data"] = str(raw.get("data") or "")
        meta["callback_query_id"] = str(raw.get("id") or "")
        content["text"] = _button_text(message, raw.get("data"))
    name = " ".join(
        filter(None, [(person or {}).get("first_name"), (person or {}).get("last_name")])
    )
    if person and person.get("username"):
        meta["username"] = person["username"]
    if chat and chat.get("type"):
        meta["chat_type"] = chat["type"]
    return InboundMessage(
        external_id=f"{kind}:{raw.get('id') or update_id}",
        sender_id=str(who["id"]),
        sender_name=name or str(who.get("title") or who.get("first_name") or ""),
        text=summary_line(kind, content),
        sent_at=from_timestamp(raw.get("date")),
        meta=meta,
    )


def _button_text(message: dict[str, Any], data: Any) -> str:
    """The label of the inline button whose ``callback_data`` is ``data``, if it is shown."""
    keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    for row in keyboard if isinstance(keyboard, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data:
                return str(button.get("text") or "")
    return ""


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
