"""The composer's messaging window (WhatsApp, Messenger): the time left, and once WhatsApp's
window has closed, the approved-template picker that replaces free text.

The chat box's context has ``inbox.window_selectors.window_context``; these views answer the
countdown's refresh (``ticket_window``), a template's parameter fields (``template_fields``)
and a template send (``template_send``). The rules are in ``channels_adapters.windows`` and
``channels_adapters.whatsapp.templates``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_adapters.models import WhatsAppTemplate
from channels_adapters.whatsapp.templates import (
    TemplateSendError,
    template_reply_send,
    template_slots_of,
    whatsapp_template_get,
)
from inbox import ticket_selectors as selectors
from inbox.ticket_forms import ReplyForm
from inbox.window_selectors import template_inputs
from omnico.core.http import AgentRequest
from tickets.errors import TicketRuleError


def _field_values(request: AgentRequest, template: WhatsAppTemplate | None) -> dict[str, str]:
    slots = template_slots_of(template) if template else []
    return {slot.key: request.POST.get(slot.key, "") for slot in slots}


def _parse_id(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


@login_required
@require_GET
def ticket_window(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """The window and, out of band, the reply box: the countdown reached 0, or the customer
    wrote (the window opened again)."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    context = {
        **selectors.chat_context(ticket=ticket, user=request.user),
        "reply_form": ReplyForm(),
    }
    return render(request, "inbox/ticket/window_refresh.html", context)


@login_required
@require_GET
def template_fields(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """The chosen template's text and a field per parameter (the picker's change)."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    template = whatsapp_template_get(
        ticket=ticket, template_id=_parse_id(request.GET.get("template"))
    )
    return render(
        request,
        "inbox/ticket/template_fields.html",
        {
            "ticket": ticket,
            "chosen_template": template,
            "template_inputs": template_inputs(template=template, values={}, errors={}),
            "errors": {},
        },
    )


@login_required
@require_POST
def template_send(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """Send the chosen template with its parameters; refused with each field's error."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    template = whatsapp_template_get(
        ticket=ticket, template_id=_parse_id(request.POST.get("template"))
    )
    values = _field_values(request, template)
    errors: dict[str, str] = {}
    try:
        template_reply_send(
            ticket=ticket,
            author=request.user,
            template_id=template.pk if template else None,
            values=values,
            header_link=request.POST.get("header_link", ""),
        )
    except TemplateSendError as error:
        errors = error.errors
        messages.error(request, error.message)
    except TicketRuleError as error:
        messages.error(request, error.message)
        errors = {"template": error.message}
    else:
        messages.success(request, _("Template queued for delivery."))
        template, values = None, {}
    if not request.htmx:
        return redirect("ticket-detail", ticket_id=ticket_id)
    context = {
        **selectors.chat_context(ticket=ticket, user=request.user),
        "chosen_template": template,
        "template_inputs": template_inputs(template=template, values=values, errors=errors),
        "header_link": request.POST.get("header_link", "") if errors else "",
        "errors": errors,
    }
    return render(request, "inbox/ticket/template_response.html", context)
