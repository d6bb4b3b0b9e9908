"""The ticket screen: conversation (chat box) and side panel. Views parse, call one service,
render.

Panel actions answer an htmx request with the re-rendered panel (``#panel-<id>``) and the
toasts; chat actions with the conversation (``#conversation-<id>``), the reply box and the
toasts. Without JavaScript the same forms post normally and redirect back to the ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_adapters import services as channel_services
from inbox import list_freshness
from inbox import services as inbox_services
from inbox import ticket_selectors as selectors
from inbox.canned_views import canned_count_sent
from inbox.ticket_forms import (
    ActivityForm,
    CallForm,
    CustomerForm,
    DepartmentForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TagForm,
)
from inbox.views import inbox_screen_context
from omnico.core.http import AgentRequest, stored_file_response
from tickets import services
from tickets.attachments import INLINE_IMAGE_TYPES
from tickets.errors import TicketRuleError
from tickets.models import Message, Priority, Ticket, TicketStatus

Action = Callable[[Ticket, dict], str]


# --- pages and partials ---------------------------------------------------------------------


def _pane_context(request: AgentRequest, ticket: Ticket) -> dict[str, Any]:
    return {
        **selectors.chat_context(ticket=ticket, user=request.user),
        **selectors.panel_context(ticket.pk, request.user, ticket=ticket),
        "reply_form": ReplyForm(),
    }


@login_required
@require_GET
def ticket_detail(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """The ticket open on the agent screen; an htmx request gets the pane alone."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    if ticket.unread:  # as loaded just now; the service's UPDATE is conditional anyway
        services.ticket_mark_read(ticket=ticket)
    context = _pane_context(request, ticket)
    if request.htmx and not request.headers.get("HX-History-Restore-Request"):
        return render(request, "inbox/ticket/pane.html", context)
    # The inbox column beside the ticket: its filters now, its rows fetched by the page.
    context.update(inbox_screen_context(request, rows=False))
    return render(request, "inbox/ticket_detail.html", context)


@login_required
def ticket_redirect(request: AgentRequest, ticket_id: int) -> HttpResponse:
    return redirect("ticket-detail", ticket_id=ticket_id, permanent=True)


@login_required
@require_GET
def ticket_conversation(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """The chat box. ``?before=<cursor>``: only the earlier messages ("load earlier");
    ``?thread=1``: only the message list (re-synced after a dropped websocket)."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    if list_freshness.ticket_unchanged(ticket, request.GET.get("live_since")):
        return HttpResponse(status=204)  # live.js's check when its socket joins the ticket
    before = request.GET.get("before")
    if before or request.GET.get("thread"):
        conversation = selectors.conversation(ticket=ticket, before=before)
        template = "inbox/ticket/messages.html" if before else "inbox/ticket/conversation.html"
        return render(request, template, {"ticket": ticket, "conversation": conversation})
    context = {
        **selectors.chat_context(ticket=ticket, user=request.user),
        "reply_form": ReplyForm(),
    }
    return render(request, "inbox/ticket/chat.html", context)


@login_required
@require_GET
def ticket_panel(request: AgentRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    context = selectors.panel_context(ticket.pk, request.user, ticket=ticket)
    # htmx (the live refresh) also gets the header's badges, out of band.
    template = "inbox/ticket/panel_refresh.html" if request.htmx else "inbox/ticket/panel.html"
    return render(request, template, context)


# --- panel actions --------------------------------------------------------------------------


def _first_error(form: forms.Form) -> str:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return _("Please check the form.")


def _run(request: AgentRequest, ticket: Ticket, form: forms.Form, action: Action) -> bool:
    """Validate, run the service, report the outcome as a toast. True if it succeeded."""
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return False
    try:
        messages.success(request, action(ticket, form.cleaned_data))
    except TicketRuleError as error:
        messages.error(request, error.message)
        return False
    return True


def _panel_action(
    request: AgentRequest, ticket_id: int, form_class: type[forms.Form], action: Action
) -> HttpResponse:
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    _run(request, ticket, form_class(request.POST), action)
    if not request.htmx:
        return redirect("ticket-detail", ticket_id=ticket_id)
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)  # as saved
    context = selectors.panel_context(ticket.pk, request.user, ticket=ticket)
    return render(request, "inbox/ticket/panel_response.html", context)


@login_required
@require_POST
def ticket_status(request: AgentRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict) -> str:
        services.ticket_set_status(ticket=ticket, status=data["status"], actor=request.user)
        return _("Status changed to “%(status)s”.") % {"status": TicketStatus(data["status"]).label}

    return _panel_action(request, ticket_id, StatusForm, change)


@login_required
@require_POST
def ticket_priority(request: AgentRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict) -> str:
        services.ticket_set_priority(ticket=ticket, priority=data["priority"], actor=request.user)
        return _("Priority changed to “%(priority)s”.") % {
            "priority": Priority(data["priority"]).label
        }

    return _panel_action(request, ticket_id, PriorityForm, change)


@login_required
@require_POST
def ticket_department(request: AgentRequest, ticket_id: int) -> HttpResponse:
    def change(ticket: Ticket, data: dict) -> str:
        services.ticket_set_department(
            ticket=ticket, department=data["department"], actor=request.user
        )
        return _("Department saved.")

    return _panel_action(request, ticket_id, DepartmentForm, change)


@login_required
@require_POST
def tag_add(request: AgentRequest, ticket_id: int) -> HttpResponse:
    def add(ticket: Ticket, data: dict) -> str:
        tag = services.ticket_add_tag(ticket=ticket, name=data["name"], actor=request.user)
        return _("Tag “%(tag)s” added.") % {"tag": tag.name}

    return _panel_action(request, ticket_id, TagForm, add)


@login_required
@require_POST
def tag_remove(request: AgentRequest, ticket_id: int, tag_id: int) -> HttpResponse:
    def remove(ticket: Ticket, data: dict) -> str:
        tag = selectors.tag_get(ticket=ticket, tag_id=tag_id)
        services.ticket_remove_tag(ticket=ticket, tag=tag, actor=request.user)
        return _("Tag “%(tag)s” removed.") % {"tag": tag.name}

    return _panel_action(request, ticket_id, forms.Form, remove)


@login_required
@require_POST
def activity_add(request: AgentRequest, ticket_id: int) -> HttpResponse:
    def add(ticket: Ticket, data: dict) -> str:
        services.activity_add(ticket=ticket, actor=request.user, **data)
        return _("Activity added.")

    return _panel_action(request, ticket_id, ActivityForm, add)


@login_required
@require_POST
def activity_done(request: AgentRequest, ticket_id: int, activity_id: int) -> HttpResponse:
    def done(ticket: Ticket, data: dict) -> str:
        activity = selectors.activity_get(ticket=ticket, activity_id=activity_id)
        services.activity_mark_done(activity=activity, actor=request.user)
        return _("Activity done.")

    return _panel_action(request, ticket_id, forms.Form, done)


@login_required
@require_POST
def activity_call(request: AgentRequest, ticket_id: int, activity_id: int) -> HttpResponse:
    def call(ticket: Ticket, data: dict) -> str:
        activity = selectors.activity_get(ticket=ticket, activity_id=activity_id)
        if data["action"] == "start":
            services.activity_start_call(activity=activity, actor=request.user)
            return _("Call started.")
        services.activity_stop_call(activity=activity, actor=request.user)
        return _("Call stopped.")

    return _panel_action(request, ticket_id, CallForm, call)


# --- customer (inline edit) -----------------------------------------------------------------


@login_required
def ticket_customer(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """GET: the customer's details; POST: save the inline form (``?edit=1`` GET shows it)."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    customer = ticket.customer
    form: CustomerForm | None
    if request.method == "POST":
        form = CustomerForm(request.POST, customer=customer)
        if form.is_valid():
            inbox_services.ticket_customer_update(ticket=ticket, **form.changes())
            messages.success(request, _("Customer details saved."))
            if not request.htmx:
                return redirect("ticket-detail", ticket_id=ticket_id)
            form = None
        else:
            messages.error(request, _first_error(form))
    elif request.GET.get("edit"):
        form = CustomerForm(customer=customer)
    else:
        form = None
    selectors.prefetch_customer(ticket)
    return render(
        request,
        "inbox/ticket/customer_response.html",
        {"ticket": ticket, "customer": customer, "customer_form": form},
    )


# --- chat actions ---------------------------------------------------------------------------


def _chat_response(
    request: AgentRequest, ticket_id: int, reply_form: ReplyForm | None = None
) -> HttpResponse:
    if not request.htmx:
        return redirect("ticket-detail", ticket_id=ticket_id)
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    context = {
        **selectors.chat_context(ticket=ticket, user=request.user),
        "reply_form": reply_form or ReplyForm(),
    }
    return render(request, "inbox/ticket/chat_response.html", context)


@login_required
@require_POST
def ticket_reply(request: AgentRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(
        ticket_id=ticket_id, user=request.user, joins=selectors.TICKET_REPLY_JOINS
    )
    form = ReplyForm(request.POST)
    added: list[Message] = []

    def send(ticket: Ticket, data: dict) -> str:
        if data["note"]:
            added.append(
                services.message_add_outbound(
                    ticket=ticket, author=request.user, body=data["body"], note=True
                )
            )
            return _("Note added.")
        if not selectors.replies_available(ticket):
            raise TicketRuleError(
                _("Replies to %(channel)s aren't available yet; add an internal note instead.")
                % {"channel": ticket.get_source_display()}
            )
        added.append(
            channel_services.reply_send(ticket=ticket, author=request.user, body=data["body"])
        )
        canned_count_sent(request)
        return _("Reply queued for delivery.")

    if not _run(request, ticket, form, send):
        return _chat_response(request, ticket_id, form)
    if not request.htmx:
        return redirect("ticket-detail", ticket_id=ticket_id)
    return _reply_added_response(request, ticket, added[0])


def _reply_added_response(request: AgentRequest, ticket: Ticket, message: Message) -> HttpResponse:
    """After a reply or note: only the new message, appended to the conversation (the socket
    may have placed it already: ``static/js/live.js`` keeps one), and a fresh reply box.
    Re-rendering the whole conversation cost three quarters of the POST's time.

    Drawn from what the POST already holds, not read again: the ticket (a reply changes none of
    what the box shows of it), the message just stored (no attachments yet) and, after a
    reply, the agent's state (the reply was refused unless they are working)."""
    reply = message.direction == Message.Direction.OUTBOUND
    context = {
        **selectors.composer_context(
            ticket=ticket, user=request.user, off_state="" if reply else None
        ),
        "message": selectors.message_just_added(message=message, ticket=ticket),
        "reply_form": ReplyForm(),
    }
    response = render(request, "inbox/ticket/reply_added.html", context)
    response["HX-Reswap"] = "beforeend"
    return response


@login_required
@require_POST
def message_retry(request: AgentRequest, ticket_id: int, message_id: int) -> HttpResponse:
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)

    def retry(ticket: Ticket, data: dict) -> str:
        message = selectors.message_get(ticket=ticket, message_id=message_id)
        if channel_services.message_retry(message_id=message.pk, actor=request.user):
            return _("The reply will be sent again.")
        raise TicketRuleError(_("Only a failed reply can be sent again."))

    _run(request, ticket, forms.Form(request.POST), retry)
    return _chat_response(request, ticket_id)


# --- small lookups --------------------------------------------------------------------------


@login_required
@require_GET
def tag_options(request: AgentRequest) -> HttpResponse:
    """``<option>``s for the tag autocomplete's ``<datalist>``."""
    query = request.GET.get("q") or request.GET.get("name") or request.GET.get("tag") or ""
    tags = selectors.tag_suggestions(query=query)
    return render(request, "inbox/ticket/tag_options.html", {"tags": tags})


@login_required
@require_GET
def subcategory_options(request: AgentRequest) -> HttpResponse:
    """``<option>``s of the subcategory select, for the chosen category."""
    raw = request.GET.get("category", "")
    found = selectors.subcategories(category_id=int(raw) if raw.isdigit() else None)
    return render(request, "inbox/ticket/subcategory_options.html", {"subcategories": found})


@login_required
@require_GET
def attachment_download(request: AgentRequest, attachment_id: int) -> HttpResponseBase:
    """An attachment's stored file, to signed-in agents only (never a public media address).

    Nothing else is served or redirected to: a file not fetched from the channel yet has no
    address here, and a link the sender gave is shown in the chat as that link."""
    attachment = selectors.attachment_get(attachment_id=attachment_id, user=request.user)
    if not attachment.file:
        raise Http404
    return stored_file_response(
        attachment.file.open("rb"),
        filename=attachment.filename or "attachment",
        content_type=attachment.content_type,
        inline=attachment.content_type in INLINE_IMAGE_TYPES,
    )
