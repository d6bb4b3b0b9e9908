"""Assignment by hand from the agent screen: the panel's agent picker (with a supervisor's
confirmation over the routing rules) and taking a ticket from the pool. The rules live in
``tickets.assignment``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from inbox import ticket_selectors as selectors
from inbox.ticket_forms import AssigneeForm
from omnico.core.http import AgentRequest
from tickets import assignment
from tickets.errors import TicketRuleError


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


@login_required
@require_POST
def ticket_assignee(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """Give the ticket to an agent. A refusal a staff user may override comes back with a
    confirmation ("Assign anyway"), which posts again with ``override=1``."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    form = AssigneeForm(request.POST)
    offer = None
    if not form.is_valid():
        messages.error(request, _("Agent: %(error)s") % {"error": form.errors["assignee"][0]})
    else:
        agent = form.cleaned_data["assignee"]
        try:
            assignment.ticket_assign_checked(
                ticket=ticket,
                assignee=agent,
                actor=request.user,
                override=request.POST.get("override") == "1",
            )
        except assignment.AssignmentRefused as error:
            messages.error(request, error.message)
            if request.user.is_staff:
                offer = {"agent": agent, "message": error.message}
        except TicketRuleError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Assigned to %(agent)s.") % {"agent": _name(agent)}
                if agent is not None
                else _("The ticket is unassigned."),
            )
    if not request.htmx:
        return redirect("ticket-detail", ticket_id=ticket_id)
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)  # as saved
    context = selectors.panel_context(ticket.pk, request.user, ticket=ticket)
    context["override_offer"] = offer
    return render(request, "inbox/ticket/panel_response.html", context)


@login_required
@require_POST
def pool_take(request: AgentRequest) -> HttpResponse:
    """Take a ticket from the pool: the one posted as ``ticket``, else the head of the pools
    the agent serves. Opens it; a refusal goes back where the agent was, with the reason."""
    chosen = request.POST.get("ticket", "")
    try:
        ticket = assignment.ticket_take(
            agent=request.user, ticket_id=int(chosen) if chosen.isdigit() else None
        )
    except TicketRuleError as error:
        messages.error(request, error.message)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}):
            back = "home"
        return redirect(back or "home")
    messages.success(request, _("Ticket #%(id)s is yours now.") % {"id": ticket.pk})
    return redirect("ticket-detail", ticket_id=ticket.pk)
