"""Every write to a ticket goes through here (a customer's message: ``tickets.receiving``):
validate, change, audit, publish on commit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import ActivityCategory, Department
from omnico.core import realtime
from tickets import routing, webhooks
from tickets.errors import TicketRuleError
from tickets.models import (
    FINAL_STATUSES,
    PRIORITY_RANK,
    SLOT_STATUSES,
    Activity,
    Message,
    Priority,
    Tag,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from tickets.presence import presence_require_working

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _record(ticket: Ticket, actor: User | None, kind: str, **data: Any) -> TicketEvent:
    event = TicketEvent.objects.create(ticket=ticket, actor=actor, kind=kind, data=data)
    realtime.publish(
        realtime.ticket_group(ticket.pk), "ticket.changed", ticket_id=ticket.pk, change=kind
    )
    return event


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


# --- statuses -------------------------------------------------------------------------------


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, status: str, actor: User | None = None) -> Ticket:
    """Change the status. Resolved and closed need every activity of the ticket done."""
    if status not in TicketStatus.values:
        raise TicketRuleError(_("Unknown status: %(status)s.") % {"status": status})
    ticket = _locked(ticket)
    old = ticket.status
    if old == status:
        return ticket
    if status in FINAL_STATUSES:
        open_activities = list(
            ticket.activities.filter(status=Activity.Status.OPEN).values_list(
                "call_reason", flat=True
            )
        )
        if open_activities:
            raise TicketRuleError(
                _(
                    "This ticket cannot be set to “%(status)s” while an activity is not done "
                    "(%(activities)s). Mark every activity done first."
                )
                % {
                    "status": TicketStatus(status).label,
                    "activities": ", ".join(open_activities),
                }
            )
    now = timezone.now()
    ticket.status = status
    if status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
        ticket.closed_at = None
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
    if ticket.assignee_id is None and old not in SLOT_STATUSES and status in SLOT_STATUSES:
        ticket.pool_entered_at = now  # back in the pool: its wait starts again
    try:
        with transaction.atomic():
            ticket.save(
                update_fields=[
                    "status",
                    "resolved_at",
                    "closed_at",
                    "pool_entered_at",
                    "updated_at",
                ]
            )
    except IntegrityError:
        raise TicketRuleError(
            _("This customer already has an active ticket on this channel; work that one.")
        ) from None
    _record(ticket, actor, TicketEvent.Kind.STATUS, old=old, new=status)
    webhooks.webhook_ticket_status(ticket=ticket, old=old, actor_id=actor.pk if actor else None)
    if (old in SLOT_STATUSES) != (status in SLOT_STATUSES):
        # Leaving open/pending frees the agent's slot; entering it unassigned joins the pool.
        routing.pool_drain_after_commit()
    return ticket


@transaction.atomic
def ticket_set_priority(*, ticket: Ticket, priority: str, actor: User | None = None) -> Ticket:
    if priority not in Priority.values:
        raise TicketRuleError(_("Unknown priority: %(priority)s.") % {"priority": priority})
    ticket = _locked(ticket)
    old = ticket.priority
    if old == priority:
        return ticket
    ticket.priority = priority
    ticket.priority_rank = PRIORITY_RANK[Priority(priority)]
    ticket.save(update_fields=["priority", "priority_rank", "updated_at"])
    _record(ticket, actor, TicketEvent.Kind.PRIORITY, old=old, new=priority)
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket: Ticket,
    assignee: User | None,
    actor: User | None = None,
    audit: dict[str, Any] | None = None,
) -> Ticket:
    """Give the ticket to ``assignee`` (None: back to the pool) without the presence and
    capacity rules: routing and the system use it; people go through ``tickets.assignment``.
    ``audit``: more to record in the history entry (an override, a reason)."""
    ticket = _locked(ticket)
    old_id = ticket.assignee_id
    new_id = assignee.pk if assignee is not None else None
    if old_id == new_id:
        return ticket
    if assignee is not None and not assignee.is_active:
        raise TicketRuleError(_("This user is deactivated and cannot take tickets."))
    ticket.assignee = assignee
    if assignee is not None:
        ticket.assigned_at = timezone.now()
        ticket.routing_skip_agent = None
    else:
        ticket.pool_entered_at = timezone.now()  # unassigned: waits in the pool again
    ticket.save(
        update_fields=[
            "assignee",
            "assigned_at",
            "pool_entered_at",
            "routing_skip_agent",
            "updated_at",
        ]
    )
    _record(
        ticket,
        actor,
        TicketEvent.Kind.ASSIGNEE,
        old=old_id,
        new=new_id,
        new_name=assignee.get_username() if assignee is not None else "",
        **(audit or {}),
    )
    webhooks.webhook_ticket_assigned(ticket=ticket, old_assignee_id=old_id)
    if old_id is not None and ticket.status in SLOT_STATUSES:
        routing.pool_drain_after_commit()  # the previous agent's slot is free again
    return ticket


@transaction.atomic
def ticket_set_department(
    *, ticket: Ticket, department: Department | None, actor: User | None = None
) -> Ticket:
    ticket = _locked(ticket)
    old_id = ticket.department_id
    new_id = department.pk if department is not None else None
    if old_id == new_id:
        return ticket
    ticket.department = department
    ticket.save(update_fields=["department", "updated_at"])
    _record(
        ticket,
        actor,
        TicketEvent.Kind.DEPARTMENT,
        old=old_id,
        new=new_id,
        new_name=department.name if department is not None else "",
    )
    if ticket.assignee_id is None and ticket.status in SLOT_STATUSES:
        routing.pool_drain_after_commit()  # other agents may serve it now
    return ticket


@transaction.atomic
def ticket_add_tag(*, ticket: Ticket, name: str, actor: User | None = None) -> Tag:
    name = " ".join(name.split())[:60]
    if not name:
        raise TicketRuleError(_("A tag needs a name."))
    ticket = _locked(ticket)  # two agents adding the same tag write one audit entry
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is None:
        try:
            with transaction.atomic():
                tag = Tag.objects.create(name=name)
        except IntegrityError:
            tag = Tag.objects.get(name__iexact=name)
    if not ticket.tags.filter(pk=tag.pk).exists():
        ticket.tags.add(tag)
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        _record(ticket, actor, TicketEvent.Kind.TAG_ADDED, tag=tag.name)
    return tag


@transaction.atomic
def ticket_remove_tag(*, ticket: Ticket, tag: Tag, actor: User | None = None) -> None:
    ticket = _locked(ticket)
    if ticket.tags.filter(pk=tag.pk).exists():
        ticket.tags.remove(tag)
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        _record(ticket, actor, TicketEvent.Kind.TAG_REMOVED, tag=tag.name)


# --- activities -----------------------------------------------------------------------------


@transaction.atomic
def activity_add(
    *,
    ticket: Ticket,
    call_reason: str,
    category: ActivityCategory | None = None,
    subcategory: ActivityCategory | None = None,
    actor: User | None = None,
) -> Activity:
    ticket = _locked(ticket)
    if ticket.status in FINAL_STATUSES:
        raise TicketRuleError(
            _("This ticket is %(status)s; reopen it before adding an activity.")
            % {"status": ticket.get_status_display().lower()}
        )
    call_reason = call_reason.strip()
    if not call_reason:
        raise TicketRuleError(_("An activity needs a call reason."))
    if category is not None and category.parent_id is not None:
        raise TicketRuleError(_("Pick a main category, then a subcategory within it."))
    if subcategory is not None and (category is None or subcategory.parent_id != category.pk):
        raise TicketRuleError(_("The subcategory does not belong to the chosen category."))
    activity = Activity.objects.create(
        ticket=ticket,
        call_reason=call_reason[:255],
        category=category,
        subcategory=subcategory,
        agent=actor,
    )
    _record(
        ticket,
        actor,
        TicketEvent.Kind.ACTIVITY_ADDED,
        activity=activity.pk,
        call_reason=activity.call_reason,
    )
    return activity


def _locked_activity(activity: Activity) -> Activity:
    return Activity.objects.select_for_update().select_related("ticket").get(pk=activity.pk)


@transaction.atomic
def activity_start_call(*, activity: Activity, actor: User | None = None) -> Activity:
    activity = _locked_activity(activity)
    if activity.status == Activity.Status.DONE:
        raise TicketRuleError(_("This activity is done; its call cannot start again."))
    if activity.call_started_at is not None and activity.call_ended_at is None:
        raise TicketRuleError(_("The call of this activity is already running."))
    activity.call_started_at = timezone.now()
    activity.call_ended_at = None
    activity.save(update_fields=["call_started_at", "call_ended_at"])
    _record(activity.ticket, actor, TicketEvent.Kind.ACTIVITY_STARTED, activity=activity.pk)
    return activity


def _stop(activity: Activity, now: datetime) -> int:
    assert activity.call_started_at is not None  # callers stop a running call only
    seconds = max(0, int((now - activity.call_started_at).total_seconds()))
    activity.call_ended_at = now
    activity.call_seconds += seconds
    return seconds


@transaction.atomic
def activity_stop_call(*, activity: Activity, actor: User | None = None) -> Activity:
    activity = _locked_activity(activity)
    if activity.call_started_at is None or activity.call_ended_at is not None:
        raise TicketRuleError(_("The call of this activity is not running."))
    seconds = _stop(activity, timezone.now())
    activity.save(update_fields=["call_ended_at", "call_seconds"])
    _record(
        activity.ticket,
        actor,
        TicketEvent.Kind.ACTIVITY_STOPPED,
        activity=activity.pk,
        seconds=seconds,
        total_seconds=activity.call_seconds,
    )
    return activity


@transaction.atomic
def activity_mark_done(*, activity: Activity, actor: User | None = None) -> Activity:
    activity = _locked_activity(activity)
    if activity.status == Activity.Status.DONE:
        return activity
    now = timezone.now()
    if activity.call_started_at is not None and activity.call_ended_at is None:
        _stop(activity, now)
    activity.status = Activity.Status.DONE
    activity.done_at = now
    activity.save(update_fields=["status", "done_at", "call_ended_at", "call_seconds"])
    _record(
        activity.ticket,
        actor,
        TicketEvent.Kind.ACTIVITY_DONE,
        activity=activity.pk,
        total_seconds=activity.call_seconds,
    )
    return activity


# --- messages -------------------------------------------------------------------------------


def _preview(text: str) -> str:
    return " ".join(text.split())[:200]


@transaction.atomic
def message_add_outbound(
    *,
    ticket: Ticket,
    author: User,
    body: str,
    note: bool = False,
    channel_account_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Message:
    """An agent's reply (delivery pending, sent by the channel layer) or internal note.
    ``channel_account_id``: the account it goes out through, when not the ticket's own (an
    offline message is answered by e-mail). ``meta``: how the channel sends it (a WhatsApp
    template, a Messenger tag)."""
    body = body.strip()
    if not body:
        raise TicketRuleError(_("Write a message first."))
    ticket = _locked(ticket)
    if not note and ticket.status == TicketStatus.CLOSED:
        raise TicketRuleError(
            _("This ticket is closed; the customer's next message opens a new one.")
        )
    if not note:
        presence_require_working(user=author)
    now = timezone.now()
    message = Message.objects.create(
        ticket=ticket,
        channel_account_id=channel_account_id or ticket.channel_account_id,
        direction=Message.Direction.NOTE if note else Message.Direction.OUTBOUND,
        author=author,
        body=body,
        sent_at=now,
        delivery="" if note else Message.Delivery.PENDING,
        meta=meta or {},
    )
    if not note:
        ticket.last_message_at = now
        ticket.last_message_preview = _preview(body)
        ticket.unread = False
        ticket.awaiting_reply_since = None  # answered: the no-reply clock stops
        ticket.save(
            update_fields=[
                "last_message_at",
                "last_message_preview",
                "unread",
                "awaiting_reply_since",
                "updated_at",
            ]
        )
    realtime.publish(
        realtime.ticket_group(ticket.pk),
        "ticket.message",
        ticket_id=ticket.pk,
        message_id=message.pk,
    )
    if not note:  # the row's preview and unread marker changed
        realtime.publish(realtime.AGENTS_GROUP, "inbox.ticket", ticket_id=ticket.pk, created=False)
    return message


# --- reading --------------------------------------------------------------------------------


def ticket_mark_read(*, ticket: Ticket) -> bool:
    """An agent opened the ticket: it is no longer unread. True if it was unread.

    A conditional UPDATE, so opening an already read ticket writes and publishes nothing.
    """
    with transaction.atomic():
        changed = Ticket.objects.filter(pk=ticket.pk, unread=True).update(unread=False)
        if changed:
            realtime.publish(
                realtime.AGENTS_GROUP, "inbox.ticket", ticket_id=ticket.pk, created=False
            )
    ticket.unread = False
    return bool(changed)
