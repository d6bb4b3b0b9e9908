"""WhatsApp Cloud API: webhook ``messages`` and ``statuses`` in, Graph ``/messages`` out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from channels_adapters.base import (
    DeliveryError,
    DeliveryUpdate,
    IdentityChange,
    InboundAttachment,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import get_bytes, get_json, load_json
from channels_adapters.meta import MetaAdapter, from_timestamp, graph_error_text, graph_post
from channels_adapters.summaries import as_dict, summary_line
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
#: Webhook fields that carry nothing from a customer, with the reason an admin reads.
IGNORED_FIELDS = {
    "smb_message_echoes": _lazy(
        "Echo of a message the business sent from the WhatsApp Business app."
    ),
    "message_echoes": _lazy("Echo of a message the business sent."),
    "message_template_status_update": _lazy("A message template's review status changed."),
    "message_template_quality_update": _lazy("A message template's quality rating changed."),
    "template_category_update": _lazy("A message template's category changed."),
    "account_update": _lazy("A notice about the WhatsApp Business account."),
    "account_review_update": _lazy("A notice about the WhatsApp Business account's review."),
    "account_alerts": _lazy("An alert about the WhatsApp Business account."),
    "phone_number_name_update": _lazy("The business phone number's display name changed."),
    "phone_number_quality_update": _lazy("The business phone number's quality rating changed."),
    "business_capability_update": _lazy("The business account's limits changed."),
    "security": _lazy("A security notice about the business phone number."),
    "group_participants_update": _lazy("Participants joined or left a group."),
    "group_lifecycle_update": _lazy("A group was created or deleted."),
    "group_settings_update": _lazy("A group's settings changed."),
    "history": _lazy("Chat history synchronised from the WhatsApp Business app."),
    "smb_app_state_sync": _lazy("Contacts synchronised from the WhatsApp Business app."),
}
#: Message types that are plain text or files: shown as they are, no summary line.
PLAIN_TYPES = {"text", *(MEDIA_TYPES - {"sticker"})}


class WhatsAppAdapter(MetaAdapter):
    kind = "whatsapp"

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        data = load_json(body)
        event = ParsedEvent()
        skipped: list[str] = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                field = str(change.get("field"))
                if field in IGNORED_FIELDS or not isinstance(value, dict):
                    skipped.append(field)
                    continue
                names = _contact_names(value.get("contacts") or [])
                alone = _only_contact(value.get("contacts") or [])
                for item in value.get("messages") or []:
                    sender = str(item.get("from") or item.get("from_user_id") or alone)
                    if not item.get("id") or not sender:
                        skipped.append(f"{field}: message without id or sender")
                    elif item.get("type") == "system":
                        event.identity_changes.append(_system(item, sender))
                    else:
                        event.messages.append(_message(item, sender, names))
                event.updates.extend(
                    update
                    for item in value.get("statuses") or []
                    if (update := _status(item)) is not None
                )
                if not value.get("messages") and not value.get("statuses"):
                    skipped.append(field)
        if not event.messages and not event.updates and not event.identity_changes:
            event.ignored = "; ".join(_skip_reason(field) for field in dict.fromkeys(skipped))
            event.ignored = event.ignored or str(_("No customer message or delivery status."))
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


def _only_contact(contacts: list[dict[str, Any]]) -> str:
    """The sender when a message names none but its change holds one contact (messages of
    users known by a business-scoped id, ``user_id``, may come so)."""
    if len(contacts) != 1:
        return ""
    return str(contacts[0].get("wa_id") or contacts[0].get("user_id") or "")


def _skip_reason(field: str) -> str:
    if field in IGNORED_FIELDS:
        return str(IGNORED_FIELDS[field])
    return _("Nothing from a customer in the webhook's %(field)s field.") % {"field": field}


def _message(item: dict[str, Any], sender: str, names: dict[str, str]) -> InboundMessage:
    kind = str(item.get("type") or "unknown")
    content: dict[str, Any] = item.get(kind) if isinstance(item.get(kind), dict) else {}  # type: ignore[assignment]
    text, attachments, meta = _content(kind, content, item)
    if item.get("context"):
        meta["reply_to"] = item["context"].get("id", "")
    if isinstance(item.get("referral"), dict):  # the customer came from an ad or a link
        text = "\n".join(filter(None, [text, summary_line("referral", item["referral"])]))
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
    text = ""
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
        text = content.get("caption", "")
        if kind in PLAIN_TYPES:
            return text, attachments, meta
    if kind == "location":
        meta["location"] = {
            "latitude": content.get("latitude"),
            "longitude": content.get("longitude"),
        }
    elif kind == "interactive":
        reply = content.get(content.get("type", "")) or {}
        meta["reply_id"] = reply.get("id", "") if isinstance(reply, dict) else ""
    elif kind == "button":
        meta["payload"] = content.get("payload", "")
    elif kind == "reaction":
        meta["reacted_to"] = content.get("message_id", "")
    meta["types"] = [kind]
    return "\n".join(filter(None, [text, _line(kind, content, item)])), attachments, meta


def _line(kind: str, content: dict[str, Any], item: dict[str, Any]) -> str:
    """The readable line of a message type that is not plain text or a file."""
    if kind == "interactive":  # button_reply, list_reply, nfm_reply (a flow's form)...
        detail = str(content.get("type") or "interactive")
        return summary_line(detail, content.get(detail) or content)
    if kind == "contacts":
        return summary_line(kind, {"contacts": item.get("contacts") or []})
    if kind == "unsupported" or item.get("errors"):
        return summary_line("unsupported", {**content, "errors": item.get("errors") or []})
    return summary_line(kind, content or {k: v for k, v in item.items() if k not in IDENTITY})


#: Fields of a message that say who sent it and when, not what.
IDENTITY = {"from", "from_user_id", "id", "timestamp", "type", "context"}


def _system(item: dict[str, Any], sender: str) -> IdentityChange:
    """A system notice: the customer changed number (``user_changed_number``: ``wa_id``, or
    ``new_wa_id`` in older versions, is the new one) or their identity (a new phone or a
    reinstall: ``customer_identity_changed``, same number)."""
    system = as_dict(item.get("system"))
    new = str(system.get("wa_id") or system.get("new_wa_id") or "")
    if system.get("type") == "user_changed_number" and new and new != sender:
        note = _("The customer changed their WhatsApp number from %(old)s to %(new)s.") % {
            "old": sender,
            "new": new,
        }
    elif new and new != sender:
        note = _("The customer's WhatsApp identity changed to %(new)s.") % {"new": new}
    else:
        new = ""
        note = _(
            "The customer's WhatsApp identity changed (a new phone or a reinstall); "
            "check it is still the same person."
        )
    return IdentityChange(
        external_id=str(item.get("id", "")),
        sender_id=sender,
        new_sender_id=new,
        note=note,
        sent_at=from_timestamp(item.get("timestamp")),
    )


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
