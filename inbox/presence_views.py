"""The agent's own presence: active (takes tickets), on a break with a reason, away or offline.

The widget sits in the top bar and loads itself with htmx, so pages keep their query counts.
Only agents with a capacity (an ``OperatorProfile``) take tickets: a user without one (a staff
user who only configures or supervises) is offered no "Go active" / "Take a break", and a post
from them is refused.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from configuration.models import BreakReason, OperatorProfile
from omnico.core.http import AgentRequest
from tickets.errors import TicketRuleError
from tickets.models import AgentPresence, PresenceState
from tickets.presence_selectors import missed_unread_count, presence_overrun
from tickets.routing import agent_go_active, agent_go_passive


def _takes_tickets(request: AgentRequest) -> bool:
    return OperatorProfile.objects.filter(user=request.user).exists()


def _render(
    request: AgentRequest, *, oob_toasts: bool, takes_tickets: bool = True, status: int = 200
) -> HttpResponse:
    context: dict = {"takes_tickets": takes_tickets, "oob_toasts": oob_toasts}
    if takes_tickets:
        presence = (
            AgentPresence.objects.select_related("break_reason").filter(user=request.user).first()
        )
        state = presence.current_state if presence else PresenceState.OFFLINE
        context |= {
            "presence": presence,
            "state": state,
            "is_active": state == PresenceState.ACTIVE,
            "since": (presence.state_since or presence.changed_at) if presence else None,
            "overrun": presence_overrun(presence=presence) if presence else None,
            "missed": missed_unread_count(user=request.user, presence=presence),
            "break_reasons": BreakReason.objects.filter(is_active=True),
        }
    return render(request, "inbox/presence.html", context, status=status)


def _come_back(request: AgentRequest) -> bool:
    """Go active; True when customers wrote to the agent's tickets meanwhile (unread)."""
    presence = agent_go_active(user=request.user)
    missed = missed_unread_count(user=request.user, presence=presence)
    if missed:
        messages.success(
            request,
            ngettext(
                "You are active. %(count)d ticket got a message while you were away.",
                "You are active. %(count)d tickets got messages while you were away.",
                missed,
            )
            % {"count": missed},
        )
    else:
        messages.success(request, _("You are active: new tickets can come to you."))
    return bool(missed)


@login_required
@require_http_methods(["GET", "POST"])
def presence(request: AgentRequest) -> HttpResponse:
    if not _takes_tickets(request):
        if request.method == "POST":
            messages.error(
                request, _("You have no capacity set, so you take no tickets and have no breaks.")
            )
            return _render(request, oob_toasts=True, takes_tickets=False, status=403)
        return _render(request, oob_toasts=False, takes_tickets=False)
    if request.method == "GET":
        return _render(request, oob_toasts=False)
    try:
        if request.POST.get("action") == "active":
            if _come_back(request):  # what came meanwhile opens in Messages > Tickets
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("ticket-list") + "?missed=1"
                return response
        else:
            # pk=None is a valid look-up (IS NULL: no row); the stubs refuse None for pk.
            reason = BreakReason.objects.filter(  # type: ignore[misc]
                pk=request.POST.get("break_reason") or None, is_active=True
            ).first()
            agent_go_passive(user=request.user, break_reason=reason)
            assert reason is not None  # agent_go_passive refuses a break without a reason
            messages.success(
                request, _("You are on a break (%(reason)s).") % {"reason": reason.name}
            )
    except TicketRuleError as exc:
        messages.error(request, exc.message)
    return _render(request, oob_toasts=True)
