"""An e-mail's HTML as the agent sees it: sanitised at render with a strict allow-list (it
already was at ingest); pictures sent with the mail (``cid:``) shown from their stored
attachment; remote pictures (tracking pixels) left out unless the agent asked to load them
for this message, which then shows in a sandboxed frame whose own policy allows them."""

from __future__ import annotations

from dataclasses import dataclass

import nh3
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Message

#: What an e-mail body may keep on the agent screen: text structure, links and pictures. No
#: styles (no CSS ``url()``), no ``srcset``, no forms, no scripts.
TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto", "cid"}
#: The frame's own policy: pictures from anywhere, nothing else (no script, style or form).
FRAME_POLICY = (
    "default-src 'none'; img-src 'self' http: https: data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class MailHtml:
    html: SafeString
    #: Remote pictures left out (the agent may load them).
    blocked: int


def mail_html(message: Message, *, remote_images: bool = False) -> MailHtml:
    """The message's HTML for the agent. ``cid:`` pictures point at their attachment (the
    message's prefetched attachments: no query of its own); remote ones are dropped and
    counted unless ``remote_images``."""
    inline = {
        attachment.content_id: reverse("attachment", args=[attachment.pk])
        for attachment in message.attachments.all()
        if attachment.content_id and attachment.file
    }
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag != "img" or attribute != "src":
            return value
        if value[:4].lower() == "cid:":
            return inline.get(value[4:].strip().strip("<>"))
        if value[:5].lower() in ("http:", "https") or value.startswith("//"):
            if remote_images:
                return value
            blocked += 1
        return None

    cleaned = nh3.clean(
        message.body_html or "",
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "head"},
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        attribute_filter=keep,
    )
    return MailHtml(html=mark_safe(cleaned), blocked=blocked)  # noqa: S308 - nh3, allow-list
