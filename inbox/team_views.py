"""The supervisor's team screen (staff only): every agent's state, load and breaks today, the
pool per department, and the supervisor's actions on an agent.

The board (``inbox/team/board.html``) is one fragment for the page and for its live refresh:
it re-fetches itself (``team_board_fragment``) when the agent socket reports a presence change
(``omnico:team``) or a ticket's row (``omnico:ticket``: an assignment, a new or moved ticket).
It holds forms with the supervisor's own CSRF token, so each screen fetches it with its own
request, as the ticket panel does, instead of a fragment rendered once for everyone.

Actions are plain POST forms (CSRF) that redirect back to the screen with a message; every one
is refused to non-staff on the server (``tickets.supervision``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from configuration.models import BreakReason
from omnico.core.http import AgentRequest
from tickets import supervision
from tickets.errors import TicketRuleError
from tickets.team_selectors import agent_works, team_board

BOARD_TEMPLATE = "inbox/team/board.html"


def _staff_only(request: AgentRequest) -> None:
    if not (request.user.is_active and request.user.is_staff):
        raise PermissionDenied


def _board_context() -> dict:
    board = team_board()
    return {
        "board": board,
        "rows": board.agents,
        "break_reasons": list(BreakReason.objects.filter(is_active=True).order_by("name")),
    }


def _agent(agent_id: int):
    return get_object_or_404(
        get_user_model(), pk=agent_id, is_active=True, operator_profile__isnull=False
    )


def _back() -> HttpResponseRedirect:
    return redirect("presence-team")


@login_required
@require_GET
def team(request: AgentRequest) -> HttpResponse:
    """The team screen: states, load, oldest waiting customer, breaks today; the pool."""
    _staff_only(request)
    return render(request, "inbox/presence_team.html", _board_context())


@login_required
@require_GET
def team_redirect(request: AgentRequest) -> HttpResponse:
    return _back()


@login_required
@require_GET
def team_board_fragment(request: AgentRequest) -> HttpResponse:
    """The board alone, for its live refresh."""
    _staff_only(request)
    return render(request, BOARD_TEMPLATE, _board_context())


@login_required
@require_POST
def agent_state(request: AgentRequest, agent_id: int) -> HttpResponse:
    """Set the agent on a break (with a reason) or back to work."""
    _staff_only(request)
    agent = _agent(agent_id)
    state = request.POST.get("state", "")
    reason = None
    if request.POST.get("break_reason", "").isdigit():
        reason = BreakReason.objects.filter(pk=int(request.POST["break_reason"])).first()
    name = agent.get_full_name() or agent.get_username()
    try:
        supervision.agent_set_state_by(
            actor=request.user, agent=agent, state=state, break_reason=reason
        )
    except TicketRuleError as exc:
        messages.error(request, exc.message)
    else:
        if state == "passive" and reason is not None:
            messages.success(
                request,
                _("%(agent)s is on a break (%(reason)s).") % {"agent": name, "reason": reason.name},
            )
        else:
            messages.success(request, _("%(agent)s is active.") % {"agent": name})
    return _back()


@login_required
@require_POST
def agent_capacity(request: AgentRequest, agent_id: int) -> HttpResponse:
    """Change the agent's capacity (admins: staff users)."""
    _staff_only(request)
    agent = _agent(agent_id)
    raw = request.POST.get("capacity", "").strip()
    try:
        if not raw.isdigit():
            raise TicketRuleError(_("A capacity is a whole number from 0 to 1000."))
        supervision.agent_set_capacity_by(actor=request.user, agent=agent, capacity=int(raw))
    except TicketRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(agent)s's capacity is now %(capacity)s.")
            % {"agent": agent.get_full_name() or agent.get_username(), "capacity": int(raw)},
        )
    return _back()


@login_required
def agent_tickets(request: AgentRequest, agent_id: int) -> HttpResponse:
    """GET: the agent's unfinished tickets to pick from. POST: move the picked ones (or all)
    to the pool or to another agent; refusals a supervisor may override are offered for
    confirmation."""
    _staff_only(request)
    agent = _agent(agent_id)
    board = team_board()
    others = [row for row in board.agents if row.user_id != agent.pk]
    if request.method == "GET":
        context = {"agent": agent, "tickets": agent_works(agent_id=agent.pk), "others": others}
        return render(request, "inbox/team/agent_tickets.html", context)
    if request.method != "POST":
        return HttpResponse(status=405)
    ids = None
    if request.POST.get("which") != "all":
        ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
        if not ids:
            messages.error(request, _("Pick the tickets to move, or move all of them."))
            return redirect("team-agent-tickets", agent_id=agent.pk)
    target = request.POST.get("to", "pool")
    to = None
    if target != "pool":
        to = get_user_model().objects.filter(pk=int(target) if target.isdigit() else 0).first()
        if to is None:
            messages.error(request, _("Pick an agent to move the tickets to, or the pool."))
            return redirect("team-agent-tickets", agent_id=agent.pk)
    override = request.POST.get("override") == "on"
    try:
        result = supervision.agent_tickets_move(
            actor=request.user, agent=agent, ticket_ids=ids, to=to, override=override
        )
    except TicketRuleError as exc:
        messages.error(request, exc.message)
        return redirect("team-agent-tickets", agent_id=agent.pk)
    if result.overridable and to is not None and not override:
        context = {"agent": agent, "to": to, "result": result, "summary": result.summary()}
        return render(request, "inbox/team/move_override.html", context)
    notify = messages.warning if result.refused else messages.success
    notify(request, result.summary())
    return _back()
