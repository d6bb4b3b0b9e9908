"""WhatsApp message templates: synced from the Graph API per account, offered to agents once
the 24-hour window has closed, checked and sent through the Cloud API.

- ``whatsapp_templates_sync``: ``GET /{WABA-ID}/message_templates``, every page
  (``paging.next``), replaces the account's stored list (admin action, periodic task).
- ``whatsapp_templates_offered``: the APPROVED ones an agent can send.
- ``template_reply_send``: check the values (body, header and button variables, a location, a
  media link), store the reply with the rendered text (what the conversation shows) and the
  template's name, language and components (what the adapter sends).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.http import TIMEOUT
from channels_adapters.meta import MetaAdapter, graph_error_text
from channels_adapters.models import WhatsAppTemplate
from channels_adapters.whatsapp.payloads import (
    ListedTemplate,
    TemplateSlot,
    template_components,
    template_from_graph,
    template_render,
    template_slots,
    template_unsupported_parts,
)
from configuration.models import ChannelAccount, ChannelKind
from tickets.errors import TicketRuleError
from tickets.models import Message, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

APPROVED = "APPROVED"
#: Pages of 100 templates followed at most (a WABA holds up to a few thousand templates).
MAX_PAGES = 100
FIELDS = "id,name,language,status,category,components"
#: Meta's limits on a body parameter and on the filled-in body (error 132005 past them).
MAX_PARAMETER_CHARS = 1024
MAX_BODY_CHARS = 1024
#: Meta refuses a parameter with a new line, a tab or more than 4 spaces in a row (132018).
_BAD_WHITESPACE = re.compile(r"[\n\r\t]| {5,}")
_ANY_WHITESPACE = re.compile(r"\s")
#: Meta's limits on a location header's name and address.
MAX_LOCATION_CHARS = 1000


class TemplateSyncError(Exception):
    """The template list could not be fetched; the message says why, for the admin."""


class TemplateSendError(TicketRuleError):
    """A template send refused before anything went out; ``errors``: field name → message
    (a slot's key such as ``parameter_1`` or ``button_0``, ``header_link``, ``template``)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


# --- sync -------------------------------------------------------------------------------------


def whatsapp_templates_sync(*, account: ChannelAccount) -> int:
    """Fetch every template of the account's WABA and store them as the account's list
    (templates gone from Meta's list are removed). Returns how many are stored."""
    if account.kind != ChannelKind.WHATSAPP:
        raise TemplateSyncError(_("%(account)s is not a WhatsApp account.") % {"account": account})
    if not account.waba_id:
        raise TemplateSyncError(
            _("%(account)s: set its WhatsApp Business Account id first.") % {"account": account}
        )
    base = MetaAdapter.graph_url(account)
    url: str | None = f"{base}/{account.waba_id}/message_templates?fields={FIELDS}&limit=100"
    listed: dict[tuple[str, str], ListedTemplate] = {}
    for _page in range(MAX_PAGES):
        if url is None:
            break
        data = _get(url, account)
        for item in data.get("data") or []:
            if isinstance(item, dict) and (template := template_from_graph(item)) is not None:
                listed[(template.name, template.language)] = template
        following = (data.get("paging") or {}).get("next")
        # The access token goes only to the Graph API's own host, never to another one.
        url = following if isinstance(following, str) and _same_origin(following, base) else None
    _store(account, list(listed.values()))
    return len(listed)


def _get(url: str, account: ChannelAccount) -> dict[str, Any]:
    try:
        response = httpx.get(url, headers=MetaAdapter.auth(account), timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise TemplateSyncError(
            _("%(account)s: could not reach the Graph API (%(error)s).")
            % {"account": account, "error": type(exc).__name__}
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        reason = graph_error_text(error) if isinstance(error, dict) else response.text[:200]
        raise TemplateSyncError(
            _("%(account)s: the Graph API answered %(status)s: %(reason)s")
            % {"account": account, "status": response.status_code, "reason": reason}
        )
    return data


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


@transaction.atomic
def _store(account: ChannelAccount, templates: list[ListedTemplate]) -> None:
    now = timezone.now()
    keep: list[int] = []
    for template in templates:
        row, _created = WhatsAppTemplate.objects.update_or_create(
            channel_account=account,
            name=template.name,
            language=template.language,
            defaults={
                "external_id": template.external_id,
                "category": template.category,
                "status": template.status,
                "body_text": template.body_text,
                "parameter_count": template.parameter_count,
                "header_format": template.header_format,
                "header_text": template.header_text,
                "footer_text": template.footer_text,
                "components": template.components,
                "synced_at": now,
            },
        )
        keep.append(row.pk)
    WhatsAppTemplate.objects.filter(channel_account=account).exclude(pk__in=keep).delete()


def whatsapp_templates_sync_all() -> tuple[int, int]:
    """The periodic sync: every enabled WhatsApp account with a WABA id. Returns
    ``(accounts synced, accounts failed)``; a failure is logged and the others go on."""
    synced = failed = 0
    accounts = ChannelAccount.objects.filter(kind=ChannelKind.WHATSAPP, enabled=True).exclude(
        waba_id=""
    )
    for account in accounts:
        try:
            whatsapp_templates_sync(account=account)
        except TemplateSyncError as exc:
            logger.warning("template sync failed: %s", exc)
            failed += 1
        else:
            synced += 1
    return synced, failed


# --- offering and sending ---------------------------------------------------------------------


def template_slots_of(template: WhatsAppTemplate) -> list[TemplateSlot]:
    """The values an agent fills in for ``template`` (see ``payloads.template_slots``)."""
    return template_slots(
        body_text=template.body_text,
        header_format=template.header_format,
        header_text=template.header_text,
        components=template.components or [],
    )


def template_unsupported(template: WhatsAppTemplate) -> bool:
    """Templates with a part Omnico cannot fill in (a carousel, a limited-time offer, a coupon
    code or one-time-password button) are not offered."""
    return template_unsupported_parts(template.components or [])


def whatsapp_templates_offered(*, channel_account_id: int) -> list[WhatsAppTemplate]:
    """The account's APPROVED templates an agent can send, by name and language (one query)."""
    rows = WhatsAppTemplate.objects.filter(
        channel_account_id=channel_account_id, status=APPROVED
    ).order_by("name", "language")
    return [row for row in rows if not template_unsupported(row)]


def whatsapp_template_get(*, ticket: Ticket, template_id: int | None) -> WhatsAppTemplate | None:
    """One of the ticket's account's APPROVED templates, or None."""
    if not template_id:
        return None
    return WhatsAppTemplate.objects.filter(
        pk=template_id, channel_account_id=ticket.channel_account_id, status=APPROVED
    ).first()


def template_values_check(
    *, template: WhatsAppTemplate, values: dict[str, str], header_link: str = ""
) -> tuple[dict[str, str], str]:
    """The values (stripped, one per slot) and header link as they will be sent, or
    ``TemplateSendError`` saying what is wrong with each field."""
    slots = template_slots_of(template)
    errors: dict[str, str] = {}
    given = [slot for slot in slots if slot.key in values]
    if len(given) != len(slots):
        errors["template"] = _(
            "This template takes %(expected)s parameters; %(given)s were given."
        ) % {"expected": len(slots), "given": len(given)}
    clean = {slot.key: str(values.get(slot.key, "")).strip() for slot in slots}
    for slot in slots:
        if error := _slot_error(slot, clean[slot.key]):
            errors[slot.key] = error
    link = header_link.strip()
    if template.media_header:
        if not link:
            errors["header_link"] = _("This template's header needs a link to its file.")
        else:
            try:
                URLValidator(schemes=["https"])(link)
            except ValidationError:
                errors["header_link"] = _("The header's link must be an https:// address.")
    else:
        link = ""
    if not errors and len(template_render(template.body_text, clean)) > MAX_BODY_CHARS:
        errors["template"] = _(
            "With these parameters the message is longer than WhatsApp's %(max)s characters."
        ) % {"max": MAX_BODY_CHARS}
    if errors:
        raise TemplateSendError(errors)
    return clean, link


def _slot_error(slot: TemplateSlot, value: str) -> str:
    """What is wrong with one value, or ""."""
    if slot.component == "location":
        return _location_error(slot.placeholder, value)
    if not value:
        if slot.component == "button":
            return _("Fill in the end of the link of the button “%(button)s”.") % {
                "button": slot.placeholder
            }
        if slot.component == "header":
            return _("Fill in the header's parameter {{%(n)s}}.") % {"n": slot.placeholder}
        return _("Fill in parameter {{%(n)s}}.") % {"n": slot.placeholder}
    if len(value) > MAX_PARAMETER_CHARS:
        return _("Parameter {{%(n)s}} is longer than %(max)s characters.") % {
            "n": slot.placeholder,
            "max": MAX_PARAMETER_CHARS,
        }
    if slot.component == "button" and _ANY_WHITESPACE.search(value):
        return _("The end of a link may not contain spaces.")
    if _BAD_WHITESPACE.search(value):
        return _(
            "Parameter {{%(n)s}} may not contain a new line, a tab or more than four "
            "spaces in a row."
        ) % {"n": slot.placeholder}
    return ""


def _location_error(field: str, value: str) -> str:
    if field in ("latitude", "longitude"):
        limit = 90 if field == "latitude" else 180
        try:
            number = float(value.replace(",", "."))
        except ValueError:
            number = None
        if number is None or not -limit <= number <= limit:
            if field == "latitude":
                return _("Give the latitude as a number from -90 to 90.")
            return _("Give the longitude as a number from -180 to 180.")
        return ""
    if len(value) > MAX_LOCATION_CHARS:
        return _("Keep it under %(max)s characters.") % {"max": MAX_LOCATION_CHARS}
    return ""


def template_text(template: WhatsAppTemplate, values: dict[str, str]) -> str:
    """What the customer reads (and the conversation shows): header, body, footer, and the
    addresses of link buttons with their endings filled in."""
    header = ""
    if template.header_format == WhatsAppTemplate.HeaderFormat.TEXT:
        header = template_render(template.header_text, values, prefix="header")
    elif template.header_format == WhatsAppTemplate.HeaderFormat.LOCATION:
        place = ", ".join(
            part for part in (values.get("location_name"), values.get("location_address")) if part
        )
        where = f"{values.get('location_latitude', '')}, {values.get('location_longitude', '')}"
        header = f"📍 {place} ({where})" if place else f"📍 {where}"
    links = [
        f"{slot.placeholder}: {template_render(slot.url, {'p_1': values[slot.key]}, prefix='p')}"
        for slot in template_slots_of(template)
        if slot.component == "button" and slot.key in values
    ]
    parts = [
        header,
        template_render(template.body_text, values),
        template.footer_text,
        "\n".join(links),
    ]
    return "\n\n".join(part for part in parts if part.strip()) or f"[{template.name}]"


@transaction.atomic
def template_reply_send(
    *,
    ticket: Ticket,
    author: User,
    template_id: int | None,
    values: dict[str, str],
    header_link: str = "",
) -> Message:
    """An agent's template message to a WhatsApp customer: checked, stored pending with its
    rendered text, delivered after commit (``WhatsAppAdapter.send`` sends it as a template)."""
    from channels_adapters.services.outbound import _enqueue_delivery
    from tickets.services import message_add_outbound

    if ticket.source != ChannelKind.WHATSAPP or ticket.is_offline:
        raise TemplateSendError({"template": _("Message templates are for WhatsApp tickets.")})
    template = whatsapp_template_get(ticket=ticket, template_id=template_id)
    if template is None or template_unsupported(template):
        raise TemplateSendError({"template": _("Choose an approved template.")})
    clean, link = template_values_check(template=template, values=values, header_link=header_link)
    message = message_add_outbound(
        ticket=ticket,
        author=author,
        body=template_text(template, clean),
        meta={
            "template": {
                "name": template.name,
                "language": template.language,
                "values": clean,
                "components": template_components(
                    template_slots_of(template),
                    clean,
                    header_format=template.header_format,
                    header_link=link,
                ),
            }
        },
    )
    _enqueue_delivery(message.pk)
    return message
