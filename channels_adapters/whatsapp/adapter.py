"""WhatsApp Cloud API: webhook ``messages`` and ``statuses`` in, Graph ``/messages`` out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from channels_adapters.base import (
    DeliveryError,
    DeliveryUpdate,
    InboundAttachment,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import get_bytes, get_json, load_json
from channels_adapters.meta import MetaAdapter, from_timestamp, graph_error_text, graph_post
from channels_adapters.whatsapp.payloads import template_payload
from configuration.models import ChannelAccount

if TYPE_CHECKING:
    from customers.models import Identity
    from tickets.models import Message

MEDIA_TYPES = {"image", "document", "audio", "video", "sticker", "voice"}
DEFAULT_MIME = {
    "image": "image/jpeg",
    "sticker": "image/webp",
    "audio": "audio/ogg",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "document": "application/octet-stream",
}
EXTENSIONS = {"image": "jpg", "sticker": "webp", "audio": "ogg", "voice": "ogg", "video": "mp4"}
STATUS_MAP = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "read"}
MEDIA_REF = "whatsapp-media:"


class WhatsAppAdapter(MetaAdapter):
    kind = "whatsapp"

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        data = load_json(body)
        event = ParsedEvent()
        skipped: list[str] = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                if change.get("field") != "messages":
                    skipped.append(str(change.get("field")))
                    continue
                names = _contact_names(value.get("contacts") or [])
                event.messages.extend(
                    _message(item, names)
                    for item in value.get("messages") or []
                    if item.get("id") and (item.get("from") or item.get("from_user_id"))
                )
                event.updates.extend(
                    update
                    for item in value.get("statuses") or []
                    if (update := _status(item)) is not None
                )
        if not event.messages and not event.updates:
            event.ignored = _("No customer message or delivery status (%(fields)s).") % {
                "fields": ", ".join(skipped) or "-"
            }
        return event

    def download(self, account: ChannelAccount, attachment: InboundAttachment) -> bytes | None:
        if not attachment.file_ref.startswith(MEDIA_REF):
            return None
        media_id = attachment.file_ref.removeprefix(MEDIA_REF)
        info = get_json(f"{self.graph_url(account)}/{media_id}", headers=self.auth(account))
        if not isinstance(info, dict) or not info.get("url"):
            return None
        return get_bytes(str(info["url"]), headers=self.auth(account))

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient.external_id,
        }
        template = (message.meta or {}).get("template")
        if template:
            payload.update(template_payload(template))
        else:
            payload.update({"type": "text", "text": {"preview_url": False, "body": message.body}})
        answer = graph_post(
            f"{self.graph_url(account)}/{account.external_id}/messages",
            payload,
            headers=self.auth(account),
        )
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise DeliveryError(_("WhatsApp did not return a message id.")) from None


def _contact_names(contacts: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for contact in contacts:
        name = (contact.get("profile") or {}).get("name", "")
        for key in ("wa_id", "user_id"):
            if contact.get(key):
                names[str(contact[key])] = name
    return names


def _message(item: dict[str, Any], names: dict[str, str]) -> InboundMessage:
    sender = str(item.get("from") or item.get("from_user_id") or "")
    kind = item.get("type") or "unknown"
    content: dict[str, Any] = item.get(kind) if isinstance(item.get(kind), dict) else {}  # type: ignore[assignment]
    text, attachments, meta = _content(kind, content, item)
    if item.get("context"):
        meta["reply_to"] = item["context"].get("id", "")
    return InboundMessage(
        external_id=str(item.get("id", "")),
        sender_id=sender,
        sender_name=names.get(sender, ""),
        phone=sender if item.get("from") else "",
        text=text,
        sent_at=from_timestamp(item.get("timestamp")),
        attachments=attachments,
        meta={"type": kind, **meta},
    )


def _content(kind: str, content: dict[str, Any], item: dict[str, Any]):
    attachments: list[InboundAttachment] = []
    meta: dict[str, Any] = {}
    if kind == "text":
        return content.get("body", ""), attachments, meta
    if kind in MEDIA_TYPES:
        mime = content.get("mime_type") or DEFAULT_MIME.get(kind, "application/octet-stream")
        media_id = content.get("id", "")
        filename = content.get("filename") or f"{kind}-{media_id or 'file'}.{_ext(kind, mime)}"
        attachments.append(
            InboundAttachment(
                filename=filename,
                content_type=mime.split(";")[0].strip(),
                url=content.get("url", "") if not media_id else "",
                file_ref=f"{MEDIA_REF}{media_id}" if media_id else "",
            )
        )
        return content.get("caption", ""), attachments, meta
    if kind == "location":
        lat, lng = content.get("latitude"), content.get("longitude")
        meta["location"] = {"latitude": lat, "longitude": lng}
        label = " ".join(filter(None, [content.get("name"), content.get("address")]))
        return f"📍 {label} ({lat}, {lng})".replace("  ", " ").strip(), attachments, meta
    if kind == "contacts":
        lines = []
        for contact in item.get("contacts") or []:
            name = (contact.get("name") or {}).get("formatted_name", "")
            phones = ", ".join(p.get("phone", "") for p in contact.get("phones") or [])
            lines.append(f"👤 {name} {phones}".strip())
        return "\n".join(lines), attachments, meta
    if kind == "interactive":
        reply = content.get(content.get("type", "")) or {}
        meta["reply_id"] = reply.get("id", "")
        return reply.get("title") or reply.get("body") or reply.get("id", ""), attachments, meta
    if kind == "button":
        meta["payload"] = content.get("payload", "")
        return content.get("text") or content.get("payload", ""), attachments, meta
    if kind == "reaction":
        meta["reacted_to"] = content.get("message_id", "")
        emoji = content.get("emoji", "")
        return (emoji or _("[reaction removed]")), attachments, meta
    if kind == "system":
        meta["system"] = content.get("type", "")
        return content.get("body", "") or _("[system message]"), attachments, meta
    if kind == "order":
        lines = [
            f"{p.get('quantity')} × {p.get('product_retailer_id')} "
            f"({p.get('item_price')} {p.get('currency')})"
            for p in content.get("product_items") or []
        ]
        return "\n".join([_("[order]"), *lines, content.get("text", "")]).strip(), attachments, meta
    detail = (content or {}).get("type") or kind
    return _("[unsupported message type: %(type)s]") % {"type": detail}, attachments, meta


def _ext(kind: str, mime: str) -> str:
    return EXTENSIONS.get(kind) or (mime.split("/")[-1].split(";")[0] if "/" in mime else "bin")


def _status(item: dict[str, Any]) -> DeliveryUpdate | None:
    status = item.get("status")
    if status == "failed":
        errors = item.get("errors") or [{}]
        error = graph_error_text(errors[0] if isinstance(errors[0], dict) else {}) or _("failed")
        state = "failed"
    elif status in STATUS_MAP:
        state, error = STATUS_MAP[status], ""
    else:
        return None
    return DeliveryUpdate(
        external_id=str(item.get("id", "")),
        state=state,
        error=error,
        at=from_timestamp(item.get("timestamp")),
    )
