"""The agent's own presence: active (takes tickets) or on a break with a reason.

The widget sits in the top bar and loads itself with htmx, so pages keep their query counts.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from configuration.models import BreakReason
from omnico.core.http import AgentRequest
from tickets.errors import TicketRuleError
from tickets.models import AgentPresence
from tickets.routing import agent_go_active, agent_go_passive


def _render(request: AgentRequest, *, oob_toasts: bool) -> HttpResponse:
    presence = (
        AgentPresence.objects.select_related("break_reason").filter(user=request.user).first()
    )
    context = {
        "presence": presence,
        "is_active": bool(presence and presence.is_active),
        "break_reasons": BreakReason.objects.filter(is_active=True),
        "oob_toasts": oob_toasts,
    }
    return render(request, "inbox/presence.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def presence(request: AgentRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, oob_toasts=False)
    try:
        if request.POST.get("action") == "active":
            agent_go_active(user=request.user)
            messages.success(request, _("You are active: new tickets can come to you."))
        else:
            reason = BreakReason.objects.filter(
                pk=request.POST.get("break_reason") or None,  # type: ignore[misc]
                is_active=True,
            ).first()
            agent_go_passive(user=request.user, break_reason=reason)
            assert reason is not None  # agent_go_passive refuses a break without a reason
            messages.success(
                request, _("You are on a break (%(reason)s).") % {"reason": reason.name}
            )
    except TicketRuleError as exc:
        messages.error(request, exc.message)
    return _render(request, oob_toasts=True)
