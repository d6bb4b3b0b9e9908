"""The agent screens. Views parse input, call one selector or service, and render.

Forms post with htmx and get back the re-rendered part of the page (a partial of the same
template) plus the toasts; without JavaScript the same forms post normally and redirect back.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels_adapters import services as channel_services
from configuration.models import ChannelKind
from inbox import selectors
from inbox.forms import (
    ActivityForm,
    CallForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TicketFilterForm,
)
from tickets import services
from tickets.models import Priority, Ticket, TicketStatus
from tickets.services import TicketRuleError


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "inbox/home.html", {"page": selectors.home_page(user=request.user)})


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "mine")
    if tab not in selectors.INBOX_TABS:
        tab = "mine"
    cursor = request.GET.get("cursor")
    page = selectors.inbox_page(user=request.user, tab=tab, cursor=cursor)
    template = "inbox/inbox.html#ticket-page" if request.htmx and cursor else "inbox/inbox.html"
    return render(request, template, {"page": page, "tab": tab, "tabs": _inbox_tabs()})


def _inbox_tabs() -> list[tuple[str, str]]:
    return [("mine", _("Mine")), ("unassigned", _("Unassigned")), ("all", _("All"))]


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    form = TicketFilterForm(request.GET or None)
    cursor = request.GET.get("cursor")
    page = selectors.ticket_list_page(**form.filters(), cursor=cursor)
    template = "inbox/ticket_list.html#ticket-page" if request.htmx and cursor else None
    return render(
        request,
        template or "inbox/ticket_list.html",
        {"page": page, "form": form, "channels": ChannelKind.choices},
    )


@login_required
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    return _render_ticket(request, ticket_id)


def _render_ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    page = selectors.ticket_page(ticket_id=ticket_id, user=request.user)
    context = {
        "page": page,
        "ticket": page.ticket,
        "statuses": TicketStatus.choices,
        "priorities": Priority.choices,
        "reply_form": ReplyForm(),
    }
    if request.htmx:
        return render(request, "inbox/ticket_detail.html#ticket-response", context)
    return render(request, "inbox/ticket_detail.html", context)


Action = Callable[[Ticket, dict], str]


def _ticket_action(
    request: HttpRequest, ticket_id: int, form_class: type[forms.Form], action: Action
) -> HttpResponse:
    """Validate the form, run the service, report the outcome as a toast, show the ticket."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
    else:
        try:
            messages.success(request, action(ticket, form.cleaned_data))
        except TicketRuleError as error:
            messages.error(request, error.message)
    if request.htmx:
        return _render_ticket(request, ticket_id)
    return redirect("ticket-detail", ticket_id=ticket_id)


def _first_error(form: forms.Form) -> str:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return _("Please check the form.")


@login_required
@require_POST
def ticket_status(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict) -> str:
        services.ticket_set_status(ticket=ticket, status=data["status"], actor=request.user)
        return _("Status changed to “%(status)s”.") % {"status": TicketStatus(data["status"]).label}

    return _ticket_action(request, ticket_id, StatusForm, change)


@login_required
@require_POST
def ticket_priority(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict) -> str:
        services.ticket_set_priority(ticket=ticket, priority=data["priority"], actor=request.user)
        return _("Priority changed to “%(priority)s”.") % {
            "priority": Priority(data["priority"]).label
        }

    return _ticket_action(request, ticket_id, PriorityForm, change)


@login_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def send(ticket: Ticket, data: dict) -> str:
        if data["note"]:
            services.message_add_outbound(
                ticket=ticket, author=request.user, body=data["body"], note=True
            )
            return _("Note added.")
        channel_services.reply_send(ticket=ticket, author=request.user, body=data["body"])
        return _("Reply queued for delivery.")

    return _ticket_action(request, ticket_id, ReplyForm, send)


@login_required
@require_POST
def activity_add(request: HttpRequest, ticket_id: int) -> HttpResponse:
    def add(ticket: Ticket, data: dict) -> str:
        services.activity_add(ticket=ticket, actor=request.user, **data)
        return _("Activity added.")

    return _ticket_action(request, ticket_id, ActivityForm, add)


@login_required
@require_POST
def activity_done(request: HttpRequest, ticket_id: int, activity_id: int) -> HttpResponse:
    def done(ticket: Ticket, data: dict) -> str:
        activity = selectors.activity_get(ticket=ticket, activity_id=activity_id)
        services.activity_mark_done(activity=activity, actor=request.user)
        return _("Activity done.")

    return _ticket_action(request, ticket_id, forms.Form, done)


@login_required
@require_POST
def activity_call(request: HttpRequest, ticket_id: int, activity_id: int) -> HttpResponse:
    def call(ticket: Ticket, data: dict) -> str:
        activity = selectors.activity_get(ticket=ticket, activity_id=activity_id)
        if data["action"] == "start":
            services.activity_start_call(activity=activity, actor=request.user)
            return _("Call started.")
        services.activity_stop_call(activity=activity, actor=request.user)
        return _("Call stopped.")

    return _ticket_action(request, ticket_id, CallForm, call)


@login_required
@require_POST
def message_retry(request: HttpRequest, ticket_id: int, message_id: int) -> HttpResponse:
    def retry(ticket: Ticket, data: dict) -> str:
        message = selectors.message_get(ticket=ticket, message_id=message_id)
        if channel_services.message_retry(message_id=message.pk):
            return _("The reply will be sent again.")
        raise TicketRuleError(_("Only a failed reply can be sent again."))

    return _ticket_action(request, ticket_id, forms.Form, retry)
