"""Facebook Messenger: page webhook ``entry[].messaging[]`` in, Send API out."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from channels_adapters.base import (
    DeliveryError,
    DeliveryUpdate,
    InboundAttachment,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import get_bytes, load_json
from channels_adapters.meta import MetaAdapter, from_timestamp, graph_post
from configuration.models import ChannelAccount

if TYPE_CHECKING:
    from customers.models import Identity
    from tickets.models import Message

USER_REF = "user_ref:"
#: ``Attachment.file_ref`` of a Messenger file still to fetch from its (expiring) ``url``.
MEDIA_REF = "messenger-media:"
MEDIA = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg", "file": ""}


class MessengerAdapter(MetaAdapter):
    kind = "messenger"

    def parse(self, account: ChannelAccount, body: bytes) -> ParsedEvent:
        data = load_json(body)
        event = ParsedEvent()
        skipped: set[str] = set()
        for entry in data.get("entry") or []:
            if entry.get("changes"):
                skipped.add("changes")
            for queue in ("messaging", "standby"):
                for item in entry.get(queue) or []:
                    _item(item, event, skipped, standby=queue == "standby")
        if not event.messages and not event.updates:
            event.ignored = _("No customer message or delivery receipt (%(what)s).") % {
                "what": ", ".join(sorted(skipped)) or "-"
            }
        return event

    def download(self, account: ChannelAccount, attachment: InboundAttachment) -> bytes | None:
        if attachment.file_ref != MEDIA_REF or not _fetchable(attachment.url):
            return None
        return get_bytes(attachment.url)

    def send(self, account: ChannelAccount, message: Message, recipient: Identity) -> str:
        if recipient.external_id.startswith(USER_REF):
            to = {"user_ref": recipient.external_id.removeprefix(USER_REF)}
        else:
            to = {"id": recipient.external_id}
        payload: dict[str, Any] = {"recipient": to, "messaging_type": "RESPONSE"}
        tag = (message.meta or {}).get("messenger_tag")
        if tag:  # past the 24-hour window: set by the reply service, who judged the window
            payload.update({"messaging_type": "MESSAGE_TAG", "tag": str(tag)})
        payload["message"] = {"text": message.body}
        answer = graph_post(
            f"{self.graph_url(account)}/me/messages", payload, headers=self.auth(account)
        )
        if not isinstance(answer, dict) or not answer.get("message_id"):
            raise DeliveryError(_("Messenger did not return a message id."))
        return str(answer["message_id"])


def _sender(item: dict[str, Any]) -> str:
    sender = item.get("sender") or {}
    if sender.get("id") is not None:
        return str(sender["id"])
    if sender.get("user_ref") is not None:
        return f"{USER_REF}{sender['user_ref']}"
    return ""


def _item(item: dict[str, Any], event: ParsedEvent, skipped: set[str], *, standby: bool) -> None:
    sender = _sender(item)
    at = from_timestamp(item.get("timestamp"))
    meta: dict[str, Any] = {"standby": True} if standby else {}
    if "message" in item:
        message = item["message"] or {}
        if message.get("is_echo"):
            skipped.add("echo")
            return
        if not sender or not message.get("mid"):
            skipped.add("message without sender")
            return
        text, attachments = _message_content(message, meta)
        event.messages.append(
            InboundMessage(
                external_id=str(message["mid"]),
                sender_id=sender,
                text=text,
                sent_at=at,
                attachments=attachments,
                meta=meta,
            )
        )
    elif "postback" in item and sender:
        postback = item["postback"] or {}
        payload = str(postback.get("payload") or "")
        meta["postback"] = payload
        mid = postback.get("mid") or _synthetic_id("postback", sender, item)
        event.messages.append(
            InboundMessage(
                external_id=str(mid),
                sender_id=sender,
                text=postback.get("title") or payload,
                sent_at=at,
                meta=meta,
            )
        )
    elif "reaction" in item and sender:
        reaction = item["reaction"] or {}
        meta["reacted_to"] = reaction.get("mid", "")
        text = reaction.get("emoji") or reaction.get("reaction") or ""
        if reaction.get("action") == "unreact":
            text = _("[reaction removed]")
        event.messages.append(
            InboundMessage(
                external_id=_synthetic_id("reaction", sender, item),
                sender_id=sender,
                text=text,
                sent_at=at,
                meta=meta,
            )
        )
    elif "delivery" in item:
        delivery = item["delivery"] or {}
        event.updates.extend(
            DeliveryUpdate(external_id=str(mid), state="delivered", at=at)
            for mid in delivery.get("mids") or []
        )
        if not delivery.get("mids"):
            skipped.add("delivery without ids")
    elif "read" in item and sender:
        watermark = from_timestamp((item["read"] or {}).get("watermark"))
        event.updates.append(
            DeliveryUpdate(external_id="", state="read", at=watermark, recipient_id=sender)
        )
    else:
        skipped.update(key for key in item if key not in {"sender", "recipient", "timestamp"})


def _message_content(message: dict[str, Any], meta: dict[str, Any]):
    parts = [message.get("text") or ""]
    attachments: list[InboundAttachment] = []
    if message.get("quick_reply"):
        meta["quick_reply"] = message["quick_reply"].get("payload", "")
    for index, att in enumerate(message.get("attachments") or []):
        kind = att.get("type", "")
        payload = att.get("payload") or {}
        if kind in MEDIA and payload.get("url"):
            url = str(payload["url"])
            attachments.append(
                InboundAttachment(
                    filename=f"{kind}-{index + 1}",
                    content_type=MEDIA[kind] or "application/octet-stream",
                    url=url,
                    file_ref=MEDIA_REF if _fetchable(url) else "",
                )
            )
        elif kind == "location":
            coords = payload.get("coordinates") or {}
            meta["location"] = {"latitude": coords.get("lat"), "longitude": coords.get("long")}
            parts.append(f"📍 {att.get('title') or ''} ({coords.get('lat')}, {coords.get('long')})")
        elif kind == "fallback" or att.get("url"):
            parts.append(" ".join(filter(None, [att.get("title"), att.get("url")])))
        elif kind == "template":
            parts.append(_("[template: %(type)s]") % {"type": payload.get("template_type", "")})
        else:
            parts.append(_("[unsupported attachment: %(type)s]") % {"type": kind})
    return "\n".join(p for p in parts if p).strip(), attachments


def _fetchable(url: str) -> bool:
    """Whether the file behind a Messenger attachment link is fetched and kept: a link to one
    of ``settings.OMNICO_MESSENGER_MEDIA_HOSTS`` (Meta's CDN) or a subdomain of one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        return False
    return any(
        host == allowed or host.endswith("." + allowed)
        for allowed in (h.lower().strip(".") for h in settings.OMNICO_MESSENGER_MEDIA_HOSTS)
    )


def _synthetic_id(what: str, sender: str, item: dict[str, Any]) -> str:
    digest = hashlib.sha256(repr(sorted(item.items())).encode()).hexdigest()[:16]
    return f"{what}:{sender}:{item.get('timestamp', '')}:{digest}"
