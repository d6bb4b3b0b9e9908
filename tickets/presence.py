"""Agent presence: active, passive (a break with a reason), away (no agent screen), offline.

Only active takes new tickets. ``AgentPresence.is_active`` is what routing reads; it changes
with ``state``, in one transaction that first locks the agent's presence row, so two changes
of one agent (a click, the away sweep, a sign-out in another tab, a second web process) run
one after the other and the second sees the first.

- passive: the agent picked a break reason (``agent_go_passive``); ends only when they go
  active again.
- away: the agent was active but no agent screen of theirs said it is open for
  ``OMNICO_AWAY_SECONDS``. Every open screen's socket marks ``last_seen_at`` on connect and
  every heartbeat (``presence_screen_seen``, from any web process); the periodic
  ``presence_away_sweep`` (``CELERY_BEAT_SCHEDULE``, or the embedded scheduler) moves active
  agents not seen since the cutoff to away. A screen coming back makes an away agent active
  again; it never ends a break, and never brings back a signed-out agent.
- offline: signed out (``user_logged_out``) or deactivated.

Every change ends the agent's open ``PresenceLog`` row and starts the next (``BreakLog`` keeps
the breaks alone, as before). Realtime pushes and the pool drain happen after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import BreakReason
from omnico.core import realtime
from tickets import routing
from tickets.errors import TicketRuleError
from tickets.models import AgentPresence, BreakLog, PresenceLog, PresenceState

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Heartbeats of several tabs of one agent within this long write ``last_seen_at`` once.
SEEN_GRANULARITY = timedelta(seconds=1)


def _locked(user_id: int) -> AgentPresence:
    AgentPresence.objects.get_or_create(user_id=user_id)
    return AgentPresence.objects.select_for_update().get(user_id=user_id)


def _publish(presence: AgentPresence) -> None:
    state = presence.current_state
    realtime.publish(
        realtime.agent_group(presence.user_id),
        "presence.changed",
        user_id=presence.user_id,
        is_active=presence.is_active,
        state=state,
    )
    realtime.publish(
        realtime.AGENTS_GROUP,
        "team.changed",
        user_id=presence.user_id,
        is_active=presence.is_active,
        state=state,
    )


def _move(
    presence: AgentPresence,
    *,
    state: PresenceState,
    reason: BreakReason | None = None,
    now: datetime,
    actor: User | None = None,
) -> None:
    """Change ``presence`` (locked) to ``state``: the log's open row ends and the next starts
    at the same instant, ``is_active`` follows, and the change is pushed after commit."""
    was_active = presence.is_active
    open_row = PresenceLog.objects.filter(agent_id=presence.user_id, ended_at__isnull=True).first()
    if open_row is not None:
        # Another host's clock may be a little behind: the log never runs backwards.
        now = max(now, open_row.started_at)
        PresenceLog.objects.filter(pk=open_row.pk, ended_at__isnull=True).update(ended_at=now)
    PresenceLog.objects.create(
        agent_id=presence.user_id,
        state=state,
        reason=reason,
        reason_text=reason.name[:120] if reason else "",
        started_at=now,
        changed_by=actor,
    )
    BreakLog.objects.filter(agent_id=presence.user_id, ended_at__isnull=True).update(ended_at=now)
    if state == PresenceState.PASSIVE:
        assert reason is not None  # agent_go_passive refuses a break without a reason
        BreakLog.objects.create(
            agent_id=presence.user_id, reason=reason, reason_text=reason.name[:120], started_at=now
        )
    if state == PresenceState.ACTIVE:
        if presence.absent_from is not None and not was_active:
            presence.absent_until = now
        presence.last_seen_at = now  # came back from a screen, or pressed "Go active" on one
    elif was_active or presence.absent_from is None:
        presence.absent_from, presence.absent_until = now, None
    presence.state = state
    presence.is_active = state == PresenceState.ACTIVE
    presence.break_reason = reason if state == PresenceState.PASSIVE else None
    presence.state_since = now
    presence.save(
        update_fields=[
            "state",
            "is_active",
            "break_reason",
            "state_since",
            "absent_from",
            "absent_until",
            "last_seen_at",
            "changed_at",
        ]
    )
    _publish(presence)
    if state == PresenceState.ACTIVE:
        routing.pool_drain_after_commit()


@transaction.atomic
def agent_go_active(*, user: User, actor: User | None = None) -> AgentPresence:
    """The agent takes tickets again: a break or an absence ends and the pool is drained.
    ``actor``: the supervisor who made the change, when not the agent (logged)."""
    if not user.is_active:
        raise TicketRuleError(_("This user is deactivated and cannot take tickets."))
    presence = _locked(user.pk)
    if presence.is_active and presence.state == PresenceState.ACTIVE:
        return presence
    _move(presence, state=PresenceState.ACTIVE, now=timezone.now(), actor=actor)
    return presence


@transaction.atomic
def agent_go_passive(
    *, user: User, break_reason: BreakReason | None, actor: User | None = None
) -> AgentPresence:
    """The agent goes on a break for a reason: gets no new tickets until active again.

    Tickets already assigned stay theirs. Changing the reason mid-break starts a new log row.
    """
    if break_reason is None:
        raise TicketRuleError(_("Pick a reason for the break."))
    if not break_reason.is_active:
        raise TicketRuleError(_("This break reason is no longer offered; pick another."))
    presence = _locked(user.pk)
    if (
        presence.current_state == PresenceState.PASSIVE
        and presence.break_reason_id == break_reason.pk
    ):
        return presence
    _move(
        presence, state=PresenceState.PASSIVE, reason=break_reason, now=timezone.now(), actor=actor
    )
    return presence


@transaction.atomic
def agent_go_offline(*, user_id: int) -> AgentPresence | None:
    """Signed out (or deactivated): no new tickets, a running break ends. Users who never had
    a presence (no capacity) get none."""
    if not AgentPresence.objects.filter(user_id=user_id).exists():
        return None
    presence = _locked(user_id)
    if presence.current_state != PresenceState.OFFLINE:
        _move(presence, state=PresenceState.OFFLINE, now=timezone.now())
    return presence


@transaction.atomic
def _go_away_if_unseen(*, user_id: int, cutoff: datetime, now: datetime) -> bool:
    presence = _locked(user_id)
    seen = presence.last_seen_at or presence.changed_at
    if not presence.is_active or seen >= cutoff:  # changed or seen meanwhile
        return False
    _move(presence, state=PresenceState.AWAY, now=now)
    return True


def presence_away_sweep(*, now: datetime | None = None) -> list[int]:
    """Active agents no agent screen has reported since ``OMNICO_AWAY_SECONDS`` become away.

    One unlocked query finds the candidates; each is then locked and checked again, so a
    heartbeat or a click that got there first wins. Returns the ids made away.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.OMNICO_AWAY_SECONDS)
    candidates = list(
        AgentPresence.objects.filter(is_active=True)
        .annotate(seen=Coalesce("last_seen_at", "changed_at"))
        .filter(seen__lt=cutoff)
        .order_by("pk")
        .values_list("user_id", flat=True)
    )
    return [uid for uid in candidates if _go_away_if_unseen(user_id=uid, cutoff=cutoff, now=now)]


def presence_screen_seen(*, user_id: int) -> bool:
    """An agent screen of this agent is open (its socket connected or sent a heartbeat).

    Away agents come back to active (True). Passive and offline agents stay as they are: a
    screen never ends a break nor signs anyone in.
    """
    now = timezone.now()
    AgentPresence.objects.filter(
        Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - SEEN_GRANULARITY),
        user_id=user_id,
    ).update(last_seen_at=now)
    if not AgentPresence.objects.filter(user_id=user_id, state=PresenceState.AWAY).exists():
        return False
    return _come_back(user_id=user_id)


@transaction.atomic
def _come_back(*, user_id: int) -> bool:
    presence = _locked(user_id)
    if presence.current_state != PresenceState.AWAY or not presence.user.is_active:
        return False
    _move(presence, state=PresenceState.ACTIVE, now=timezone.now())
    return True


def presence_off_state(*, user: User) -> str:
    """Why the agent may not reply now: their state ("passive", "away", "offline"), or ""
    when they may (active, or staff with no presence). One query."""
    presence = (
        AgentPresence.objects.filter(user=user, is_active=False)
        .only("is_active", "state", "break_reason_id")
        .first()
    )
    return presence.current_state if presence is not None else ""


def presence_require_working(*, user: User | None) -> None:
    """Refuse (``TicketRuleError``) what only an active agent may do: reply to a customer, send
    a failed reply again, take a ticket. Users without a presence (staff who only configure or
    supervise) are not held back."""
    if user is None:
        return
    state = presence_off_state(user=user)
    if not state:
        return
    if state == PresenceState.AWAY:
        raise TicketRuleError(
            _("You are away (no agent screen was open). Go active to reply to customers.")
        )
    if state == PresenceState.OFFLINE:
        raise TicketRuleError(_("You are offline. Go active to reply to customers."))
    raise TicketRuleError(_("You are on a break. Go active to reply to customers."))
