"""Facebook Messenger: page webhook ``entry[].messaging[]`` in, Send API out."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from channels_adapters.base import (
    DeliveryError,
    DeliveryUpdate,
    InboundAttachment,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.http import get_bytes, load_json
from channels_adapters.meta import MetaAdapter, from_timestamp, graph_post
from channels_adapters.summaries import FORMATTERS, summary_line
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
        skipped: dict[str, str] = {}
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                field = str((change or {}).get("field", "?"))
                skipped[f"changes:{field}"] = _(
                    "A change of the page's feed (%(field)s), not a conversation."
                ) % {"field": field}
            for queue in ("messaging", "standby"):
                for item in entry.get(queue) or []:
                    _item(item, event, skipped, standby=queue == "standby")
        if not event.messages and not event.updates:
            event.ignored = " ".join(skipped.values()) or str(
                _("No customer message or delivery receipt.")
            )
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


#: Events that carry nothing from a customer, with the reason an admin reads.
IGNORED_EVENTS = {
    "pass_thread_control": _lazy("Handover protocol: another app passed the conversation."),
    "take_thread_control": _lazy("Handover protocol: another app took the conversation."),
    "request_thread_control": _lazy("Handover protocol: another app asked for the conversation."),
    "app_roles": _lazy("Handover protocol: the page's app roles changed."),
    "policy-enforcement": _lazy("A policy notice from Meta about the page (not a customer)."),
    "policy_enforcement": _lazy("A policy notice from Meta about the page (not a customer)."),
}
#: Keys of a messaging event that say who and when, not what.
ENVELOPE = {"sender", "recipient", "timestamp"}


def _item(
    item: dict[str, Any], event: ParsedEvent, skipped: dict[str, str], *, standby: bool
) -> None:
    sender = _sender(item)
    at = from_timestamp(item.get("timestamp"))
    meta: dict[str, Any] = {"standby": True} if standby else {}
    if "message" in item:
        message = item["message"] or {}
        if message.get("is_echo"):
            skipped["echo"] = _("Echo of a message the page sent.")
            return
        if not sender or not message.get("mid"):
            skipped["anonymous"] = _("A message with no sender or id.")
            return
        text, attachments = _message_content(message, meta)
        if isinstance(item.get("referral"), dict):
            text = "\n".join(filter(None, [text, summary_line("referral", item["referral"])]))
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
    elif "delivery" in item:
        delivery = item["delivery"] or {}
        event.updates.extend(
            DeliveryUpdate(external_id=str(mid), state="delivered", at=at)
            for mid in delivery.get("mids") or []
        )
        if not delivery.get("mids"):
            skipped["delivery"] = _("A delivery receipt naming no message.")
    elif "read" in item and sender:
        watermark = from_timestamp((item["read"] or {}).get("watermark"))
        event.updates.append(
            DeliveryUpdate(external_id="", state="read", at=watermark, recipient_id=sender)
        )
    else:
        kinds = [key for key in item if key not in ENVELOPE]
        ignored = [key for key in kinds if key in IGNORED_EVENTS]
        if ignored or not sender or not kinds:
            for key in ignored or kinds or ["-"]:
                skipped[key] = str(
                    IGNORED_EVENTS.get(key)
                    or _("An event with no customer in it (%(kind)s).") % {"kind": key}
                )
            return
        event.messages.append(_action(kinds[0], item, sender, meta))


def _action(kind: str, item: dict[str, Any], sender: str, meta: dict[str, Any]) -> InboundMessage:
    """A customer's action that is not a message (a button pressed, a reaction, an opt-in, a
    referral, a payment, or an event type added after this release) as a message."""
    content = item[kind] if isinstance(item[kind], dict) else {"value": item[kind]}
    meta["types"] = [kind]
    if kind == "postback":
        meta["postback"] = str(content.get("payload") or "")
    if kind == "reaction":
        meta["reacted_to"] = content.get("mid", "")
    lines = [summary_line(kind, content)]
    if kind != "referral" and isinstance(content.get("referral"), dict):
        lines.append(summary_line("referral", content["referral"]))
    mid = content.get("mid") if kind == "postback" else None
    return InboundMessage(
        external_id=str(mid or _synthetic_id(kind, sender, item)),
        sender_id=sender,
        text="\n".join(lines),
        sent_at=from_timestamp(item.get("timestamp")),
        meta=meta,
    )


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
            if payload.get("sticker_id"):
                parts.append(summary_line("sticker", payload))
            continue
        if kind == "location":
            coords = payload.get("coordinates") or {}
            meta["location"] = {"latitude": coords.get("lat"), "longitude": coords.get("long")}
        meta.setdefault("types", []).append(kind)
        if kind == "fallback" or (att.get("url") and kind not in FORMATTERS):
            parts.append(" ".join(filter(None, [att.get("title"), att.get("url")])))
        else:
            parts.append(summary_line(kind, {"title": att.get("title") or "", **payload}))
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
