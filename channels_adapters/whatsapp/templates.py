"""WhatsApp message templates: synced from the Graph API per account, offered to agents once
the 24-hour window has closed, checked and sent through the Cloud API.

- ``whatsapp_templates_sync``: ``GET /{WABA-ID}/message_templates``, every page
  (``paging.next``), replaces the account's stored list (admin action, periodic task).
- ``whatsapp_templates_offered``: the APPROVED ones an agent can send.
- ``template_reply_send``: check the parameters, store the reply with the rendered text (what the
  conversation shows) and the template's name, language and parameters (what the adapter sends).
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
    PARAMETER,
    ListedTemplate,
    template_from_graph,
    template_render,
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
_NAMED_PARAMETER = re.compile(r"{{\s*[A-Za-z_]\w*\s*}}")


class TemplateSyncError(Exception):
    """The template list could not be fetched; the message says why, for the admin."""


class TemplateSendError(TicketRuleError):
    """A template send refused before anything went out; ``errors``: field name → message
    (``parameter_1``…, ``header_link``, ``template``)."""

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


def template_unsupported(template: WhatsAppTemplate) -> bool:
    """Templates whose sending needs more than positional body parameters and a media link
    (named parameters, a header text with parameters, a location header, a button with a
    variable) are not offered."""
    if template.header_format == WhatsAppTemplate.HeaderFormat.LOCATION:
        return True
    if _NAMED_PARAMETER.search(template.body_text):  # {{customer_name}}: named parameters
        return True
    if PARAMETER.search(template.header_text):
        return True
    for component in template.components or []:
        for button in component.get("buttons") or []:
            if isinstance(button, dict) and PARAMETER.search(str(button.get("url") or "")):
                return True
    return False


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


def template_parameters_check(
    *, template: WhatsAppTemplate, parameters: list[str], header_link: str = ""
) -> tuple[list[str], str]:
    """The parameters (stripped) and header link as they will be sent, or
    ``TemplateSendError`` saying what is wrong with each field."""
    values = [value.strip() for value in parameters]
    errors: dict[str, str] = {}
    if len(values) != template.parameter_count:
        errors["template"] = _(
            "This template takes %(expected)s parameters; %(given)s were given."
        ) % {"expected": template.parameter_count, "given": len(values)}
    for number, value in enumerate(values, start=1):
        field = f"parameter_{number}"
        if not value:
            errors[field] = _("Fill in parameter {{%(n)s}}.") % {"n": number}
        elif len(value) > MAX_PARAMETER_CHARS:
            errors[field] = _("Parameter {{%(n)s}} is longer than %(max)s characters.") % {
                "n": number,
                "max": MAX_PARAMETER_CHARS,
            }
        elif _BAD_WHITESPACE.search(value):
            errors[field] = _(
                "Parameter {{%(n)s}} may not contain a new line, a tab or more than four "
                "spaces in a row."
            ) % {"n": number}
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
    if not errors and len(template_render(template.body_text, values)) > MAX_BODY_CHARS:
        errors["template"] = _(
            "With these parameters the message is longer than WhatsApp's %(max)s characters."
        ) % {"max": MAX_BODY_CHARS}
    if errors:
        raise TemplateSendError(errors)
    return values, link


def template_text(template: WhatsAppTemplate, parameters: list[str]) -> str:
    """What the customer reads (and the conversation shows): header, body, footer."""
    text_header = template.header_format == WhatsAppTemplate.HeaderFormat.TEXT
    parts = [
        template.header_text if text_header else "",
        template_render(template.body_text, parameters),
        template.footer_text,
    ]
    return "\n\n".join(part for part in parts if part.strip()) or f"[{template.name}]"


@transaction.atomic
def template_reply_send(
    *,
    ticket: Ticket,
    author: User,
    template_id: int | None,
    parameters: list[str],
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
    values, link = template_parameters_check(
        template=template, parameters=parameters, header_link=header_link
    )
    message = message_add_outbound(
        ticket=ticket,
        author=author,
        body=template_text(template, values),
        meta={
            "template": {
                "name": template.name,
                "language": template.language,
                "parameters": values,
                "header_format": template.header_format,
                "header_link": link,
            }
        },
    )
    _enqueue_delivery(message.pk)
    return message
