"""The messaging window of the ticket's composer (WhatsApp, Messenger), as the chat box shows
it: ``inbox/ticket/window.html``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from channels_adapters.models import WhatsAppTemplate
from channels_adapters.whatsapp.payloads import TemplateSlot
from channels_adapters.whatsapp.templates import template_slots_of, whatsapp_templates_offered
from channels_adapters.windows import MessagingWindow, messaging_window
from tickets.models import Ticket


def window_context(*, ticket: Ticket) -> dict[str, Any]:
    """What ``inbox/ticket/window.html`` shows: nothing for a channel without a window (one
    query for one with it, one more for the templates once WhatsApp's window has closed)."""
    window = messaging_window(ticket=ticket)
    if window is None:
        return {"messaging_window": None}
    return {
        "messaging_window": window,
        "window_seconds": window.seconds_left(),
        "window_label": _window_label(window),
        "window_text": window_text(window),
        "window_templates": (
            whatsapp_templates_offered(channel_account_id=ticket.channel_account_id)
            if window.takes_templates
            else []
        ),
    }


def _window_label(window: MessagingWindow) -> str:
    """The countdown's text with ``%(hours)s`` and ``%(minutes)s`` left in (the browser fills
    them in as time passes)."""
    if window.is_open:
        return _("Window open — %(hours)s h %(minutes)s min left")
    if window.is_tagged:
        return _("Human Agent tag — %(hours)s h %(minutes)s min left")
    return ""


def window_text(window: MessagingWindow) -> str:
    """The countdown as the server renders it (the browser then keeps it current)."""
    left = window.seconds_left()
    label = _window_label(window)
    return label % {"hours": left // 3600, "minutes": left % 3600 // 60} if label else ""


def template_inputs(
    *, template: WhatsAppTemplate | None, values: dict[str, str], errors: dict[str, str]
) -> list[dict[str, Any]]:
    """One field per value the chosen template needs (header, body, location, link buttons):
    its name, label, value and error."""
    if template is None:
        return []
    return [
        {
            "name": slot.key,
            "component": slot.component,
            "placeholder": slot.placeholder,
            "label": _slot_label(slot),
            "url": slot.url,
            "required": slot.required,
            "value": values.get(slot.key, ""),
            "error": errors.get(slot.key, ""),
        }
        for slot in template_slots_of(template)
    ]


def _slot_label(slot: TemplateSlot) -> str:
    if slot.component == "header":
        return _("Header parameter")
    if slot.component == "button":
        return _("End of the link of the button “%(button)s”") % {"button": slot.placeholder}
    if slot.component == "location":
        return {
            "latitude": _("Latitude"),
            "longitude": _("Longitude"),
            "name": _("Place name (optional)"),
            "address": _("Address (optional)"),
        }[slot.placeholder]
    return _("Parameter")
