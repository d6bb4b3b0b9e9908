"""Assignment by people, under routing's rules: a ticket given to an agent by hand (one ticket
or a bulk action), an agent taking a ticket from the pool, and a ticket taken back from an
agent who did not answer in time.

The rules are routing's: a ticket goes only to an agent who is active
(``AgentPresence.is_active``: takes new tickets now) and has a free slot. A staff user may give
a ticket over those rules (``override=True``, after a confirmation on the screen); the history
entry then says so (``"override"``: the rule it overrode).

Locks follow routing's order (``tickets.routing``): the agent's presence row first, then the
ticket. A drain holds the presence rows of every active agent while it assigns, so a hand
assignment or a take and a drain never both fill the same slot, and no two of them deadlock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from configuration.models import OperatorProfile, RoutingSettings
from omnico.core import realtime
from tickets import routing, services, webhooks
from tickets.errors import TicketRuleError
from tickets.models import SLOT_STATUSES, AgentPresence, Ticket, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AssignmentRefused(TicketRuleError):
    """The agent may not get this ticket now. ``rule``: which rule (``not_active``,
    ``no_capacity``, ``at_capacity``); a staff user may override it."""

    def __init__(self, message: str, *, rule: str):
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True)
class _Slots:
    presence: AgentPresence | None
    capacity: int | None
    works: int


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _lock_slots(agent: User) -> _Slots:
    """The agent's presence row, locked (routing's first lock), and their slots."""
    presence = AgentPresence.objects.select_for_update().filter(user=agent).first()
    capacity = OperatorProfile.objects.filter(user=agent).values_list("capacity", flat=True).first()
    works = Ticket.objects.filter(assignee=agent, status__in=SLOT_STATUSES).count()
    return _Slots(presence=presence, capacity=capacity, works=works)


def _refusal(agent: User, slots: _Slots, *, takes_slot: bool) -> AssignmentRefused | None:
    name = _name(agent)
    if slots.presence is None or not slots.presence.is_active:
        return AssignmentRefused(
            _("%(agent)s is not active (on a break, away or signed out) and takes no tickets now.")
            % {"agent": name},
            rule="not_active",
        )
    if slots.capacity is None:
        return AssignmentRefused(
            _("%(agent)s has no capacity set and takes no tickets.") % {"agent": name},
            rule="no_capacity",
        )
    if takes_slot and slots.works >= slots.capacity:
        return AssignmentRefused(
            _("%(agent)s is at capacity (%(works)s of %(capacity)s tickets).")
            % {"agent": name, "works": slots.works, "capacity": slots.capacity},
            rule="at_capacity",
        )
    return None


def refused_summary(refused: list[tuple[int, str]]) -> str:
    """What follows a batch's count when some tickets were refused (bulk actions, the team
    screen's moves): ' 2 refused — #12: …; #14: …', or '' when none was."""
    if not refused:
        return ""
    reasons = "; ".join(
        _("#%(id)s: %(reason)s") % {"id": pk, "reason": reason} for pk, reason in refused
    )
    return " " + ngettext(
        "%(n)s refused — %(reasons)s", "%(n)s refused — %(reasons)s", len(refused)
    ) % {"n": len(refused), "reasons": reasons}


@dataclass
class BatchOutcome:
    """What one change applied ticket by ticket did (the tickets list's bulk actions, the team
    screen's moves): the tickets it was done to, those a rule refused and why, and among those
    the ones a staff user may override. ``done_text(n)`` words the count ("3 tickets
    updated.")."""

    done_text: Callable[[int], str] = field(repr=False)
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    #: Refused by a routing rule a staff user may override (``AssignmentRefused``).
    overridable: list[int] = field(default_factory=list)

    def attempt(self, ticket_id: int, change: Callable[[], object]) -> None:
        """Run ``change`` for one ticket and record whether it was done or refused."""
        try:
            change()
        except AssignmentRefused as error:
            self.refused.append((ticket_id, error.message))
            self.overridable.append(ticket_id)
        except TicketRuleError as error:
            self.refused.append((ticket_id, error.message))
        else:
            self.done.append(ticket_id)

    def refuse_missing(self, *, asked: Iterable[int], found: set[int], reason: str) -> None:
        """Tickets asked for that the batch did not find, refused with ``reason``."""
        self.refused.extend((pk, reason) for pk in sorted(set(asked) - found))

    def summary(self) -> str:
        """ "3 tickets updated. 1 refused — #12: …" (for a toast)."""
        return self.done_text(len(self.done)) + refused_summary(self.refused)


@transaction.atomic
def ticket_assign_checked(
    *, ticket: Ticket, assignee: User | None, actor: User, override: bool = False
) -> Ticket:
    """Give ``ticket`` to ``assignee`` by hand (None: back to the pool).

    Refused (``AssignmentRefused``) when the agent is not active, has no capacity, or the
    ticket would take a slot they do not have; ``override`` (staff only) gives it anyway and
    the history records which rule was overridden.
    """
    if assignee is None:
        return services.ticket_assign(ticket=ticket, assignee=None, actor=actor)
    if override and not (actor.is_active and actor.is_staff):
        raise TicketRuleError(_("Only a supervisor can assign over the routing rules."))
    slots = _lock_slots(assignee)  # before the ticket: routing's lock order
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if locked.assignee_id == assignee.pk:
        return locked
    refusal = _refusal(assignee, slots, takes_slot=locked.status in SLOT_STATUSES)
    if refusal is not None and not override:
        raise refusal
    audit = {"override": refusal.rule} if refusal is not None else None
    assigned = services.ticket_assign(ticket=locked, assignee=assignee, actor=actor, audit=audit)
    if slots.presence is not None and assigned.status in SLOT_STATUSES:
        slots.presence.last_assigned_at = assigned.assigned_at
        slots.presence.save(update_fields=["last_assigned_at"])
    return assigned


@transaction.atomic
def ticket_take(*, agent: User, ticket_id: int | None = None) -> Ticket:
    """The agent takes a ticket from the pool: ``ticket_id``, or the head of the pools they
    serve (tickets without a department, of their departments, and overflowed ones), never
    beyond their capacity."""
    slots = _lock_slots(agent)
    refusal = _refusal(agent, slots, takes_slot=True)
    if refusal is not None:
        if refusal.rule == "not_active":
            raise TicketRuleError(_("You are not active. Go active to take tickets."))
        if refusal.rule == "at_capacity":
            raise TicketRuleError(
                _("Your slots are full (%(works)s of %(capacity)s): finish a ticket first.")
                % {"works": slots.works, "capacity": slots.capacity}
            )
        raise refusal
    assert slots.presence is not None
    members, overflow = routing.departments_map()
    now = timezone.now()
    mine = members.get(agent.pk, set())
    servable = (
        Q(department__isnull=True) | Q(department_id__in=mine) | routing.overflowed_q(overflow, now)
    )
    pool = routing.pool_tickets().select_for_update(of=("self",))
    if ticket_id is not None:
        ticket = pool.filter(pk=ticket_id).first()
        if ticket is None:
            raise TicketRuleError(_("This ticket is no longer waiting in the pool."))
        if not Ticket.objects.filter(servable, pk=ticket_id).exists():
            raise TicketRuleError(_("This ticket waits for another department's agents."))
    else:
        ticket = pool.filter(servable).first()
        if ticket is None:
            raise TicketRuleError(_("No ticket is waiting in the pools you serve."))
    taken = services.ticket_assign(ticket=ticket, assignee=agent, actor=agent, audit={"taken": 1})
    slots.presence.last_assigned_at = taken.assigned_at
    slots.presence.save(update_fields=["last_assigned_at"])
    return taken


# --- no reply in time ----------------------------------------------------------------------


def _overdue_q(limits: dict[str, int], now: datetime) -> Q:
    """Assigned slot tickets whose customer has waited for a reply past their priority's
    limit, counted from the later of their message and the assignment."""
    where = Q(pk__in=[])
    for priority, minutes in limits.items():
        due = now - timedelta(minutes=minutes)
        where |= Q(priority=priority, awaiting_reply_since__lte=due, assigned_at__lte=due)
    return where


def tickets_unanswered(*, now: datetime | None = None) -> list[int]:
    """Ids of the tickets whose agent has not answered in time (none while the admin setting
    is off). One query for the setting, one for the tickets."""
    limits = RoutingSettings.load().no_reply_minutes()
    if not limits:
        return []
    now = now or timezone.now()
    return list(
        Ticket.objects.filter(
            _overdue_q(limits, now),
            assignee__isnull=False,
            status__in=SLOT_STATUSES,
            awaiting_reply_since__isnull=False,
        )
        .order_by("awaiting_reply_since", "pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def ticket_requeue_unanswered(*, ticket_id: int, now: datetime | None = None) -> bool:
    """Take the ticket back from an agent who has not answered its customer in time: it waits
    in the pool again at its arrival place (ahead of everyone who came after it) or goes to the
    next free agent, never back to this one while it waits; the agent gets a toast and the
    history says why. False when it no longer applies (answered, moved, or the setting off)."""
    now = now or timezone.now()
    limits = RoutingSettings.load().no_reply_minutes()
    ticket = (
        Ticket.objects.select_for_update()
        .filter(
            _overdue_q(limits, now),
            pk=ticket_id,
            assignee__isnull=False,
            status__in=SLOT_STATUSES,
            awaiting_reply_since__isnull=False,
        )
        .first()
    )
    if ticket is None:
        return False
    agent_id = ticket.assignee_id
    assert agent_id is not None  # filtered on assignee__isnull=False above
    minutes = limits[ticket.priority]
    ticket.assignee = None
    ticket.routing_skip_agent_id = agent_id
    ticket.pool_entered_at = now
    ticket.save(update_fields=["assignee", "routing_skip_agent", "pool_entered_at", "updated_at"])
    services._record(
        ticket,
        None,
        TicketEvent.Kind.ASSIGNEE,
        old=agent_id,
        new=None,
        new_name="",
        reason="no_reply",
        minutes=minutes,
    )
    webhooks.webhook_ticket_assigned(ticket=ticket, old_assignee_id=agent_id)
    realtime.publish(
        realtime.agent_group(agent_id), "ticket.unanswered", ticket_id=ticket.pk, minutes=minutes
    )
    realtime.publish(realtime.AGENTS_GROUP, "inbox.ticket", ticket_id=ticket.pk, created=False)
    routing.pool_drain_after_commit()
    return True


def tickets_requeue_unanswered(*, now: datetime | None = None) -> list[int]:
    """The periodic sweep (``CELERY_BEAT_SCHEDULE``): requeue every ticket not answered in
    time, each in its own transaction. Returns the ids requeued."""
    return [
        ticket_id
        for ticket_id in tickets_unanswered(now=now)
        if ticket_requeue_unanswered(ticket_id=ticket_id, now=now)
    ]
