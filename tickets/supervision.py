"""What a supervisor (a staff user) does to the team from the team screen: put an agent on a
break or back to work, change their capacity, move their tickets to the pool or to another agent.

Each goes through the same services an agent's own action does (``tickets.presence``,
``tickets.routing``, ``tickets.assignment``), so the same rules, locks, logs and live pushes
apply; what this adds is who did it (``PresenceLog.changed_by``, the ticket's history) and the
refusal of anyone who is not staff, on the server.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configuration.models import BreakReason, OperatorProfile
from omnico.core import realtime
from tickets import presence, routing
from tickets.assignment import BatchOutcome, ticket_assign_checked
from tickets.errors import TicketRuleError
from tickets.models import ACTIVE_STATUSES, AgentPresence, PresenceState, Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _require_supervisor(actor: User) -> None:
    if not (actor.is_active and actor.is_staff):
        raise PermissionDenied(_("Only a supervisor can change another agent's work."))


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def agent_set_state_by(
    *, actor: User, agent: User, state: str, break_reason: BreakReason | None = None
) -> AgentPresence:
    """A supervisor puts ``agent`` on a break (``passive``, with a reason) or back to work
    (``active``). Refused for an agent without a capacity, and for one who is signed out (they
    are not there to take customers). The presence log names the supervisor."""
    _require_supervisor(actor)
    if not OperatorProfile.objects.filter(user=agent).exists():
        raise TicketRuleError(
            _("%(agent)s has no capacity set, so takes no tickets and has no breaks.")
            % {"agent": _name(agent)}
        )
    current = AgentPresence.objects.filter(user=agent).first()
    if current is None or current.current_state == PresenceState.OFFLINE:
        raise TicketRuleError(
            _("%(agent)s is signed out; they change state themselves when they sign in.")
            % {"agent": _name(agent)}
        )
    if state == PresenceState.ACTIVE:
        return presence.agent_go_active(user=agent, actor=actor)
    if state == PresenceState.PASSIVE:
        return presence.agent_go_passive(user=agent, break_reason=break_reason, actor=actor)
    raise TicketRuleError(_("A supervisor can set an agent active or on a break only."))


@transaction.atomic
def agent_set_capacity_by(*, actor: User, agent: User, capacity: int) -> OperatorProfile:
    """Change an agent's capacity (an admin: a staff user, as in the admin) and fill freed
    slots from the pool; the team screens update."""
    if capacity < 0 or capacity > 1000:
        raise TicketRuleError(_("A capacity is a whole number from 0 to 1000."))
    profile = routing.agent_set_capacity(actor=actor, agent=agent, capacity=capacity)
    realtime.publish(realtime.AGENTS_GROUP, "team.changed", user_id=agent.pk, capacity=capacity)
    return profile


def _moved_text(n: int) -> str:
    return ngettext("%(n)s ticket moved.", "%(n)s tickets moved.", n) % {"n": n}


def agent_tickets_move(
    *,
    actor: User,
    agent: User,
    ticket_ids: list[int] | None,
    to: User | None,
    override: bool = False,
) -> BatchOutcome:
    """Move ``agent``'s unfinished tickets (``ticket_ids``, or all of them when None) to the
    pool (``to`` None) or to another agent, ticket by ticket under the assignment rules: an
    agent who is not active or has no free slot gets none; ``override`` gives them anyway and
    each ticket's history says so. A ticket moved to the pool does not come straight back to
    ``agent`` while it waits there. Tickets no longer ``agent``'s are refused, never taken from
    whoever holds them now."""
    _require_supervisor(actor)
    if to is not None and to.pk == agent.pk:
        raise TicketRuleError(_("Pick another agent, or the pool."))
    theirs = Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES)
    if ticket_ids is not None:
        theirs = theirs.filter(pk__in=set(ticket_ids))

    def move(ticket_id: int) -> None:
        with transaction.atomic():
            if to is not None:  # routing's lock order: the agent's presence, the ticket
                list(AgentPresence.objects.select_for_update().filter(user=to))
            locked = Ticket.objects.select_for_update().get(pk=ticket_id)
            if locked.assignee_id != agent.pk:
                raise TicketRuleError(_("it is no longer this agent's ticket."))
            ticket_assign_checked(ticket=locked, assignee=to, actor=actor, override=override)
            if to is None:  # routing may drain it at once: not back to the same agent
                Ticket.objects.filter(pk=locked.pk).update(routing_skip_agent_id=agent.pk)

    result = BatchOutcome(done_text=_moved_text)
    found = set()
    for ticket_id in theirs.order_by("pk").values_list("pk", flat=True):
        found.add(ticket_id)
        result.attempt(ticket_id, partial(move, ticket_id))
    result.refuse_missing(
        asked=ticket_ids or (), found=found, reason=_("it is no longer this agent's ticket.")
    )
    return result
