"""The ticket rules: statuses, activities, audit trail, agents' replies."""

from __future__ import annotations

import pytest

from configuration.models import ActivityCategory, BreakReason, Department
from tests.factories import make_ticket, make_user
from tickets.models import Activity, Message, Ticket, TicketEvent, TicketStatus
from tickets.routing import agent_go_passive
from tickets.services import (
    TicketRuleError,
    activity_add,
    activity_mark_done,
    activity_start_call,
    activity_stop_call,
    message_add_outbound,
    ticket_add_tag,
    ticket_assign,
    ticket_remove_tag,
    ticket_set_department,
    ticket_set_priority,
    ticket_set_status,
)

pytestmark = pytest.mark.django_db


def _events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("id"))


# --- statuses -------------------------------------------------------------------------------


def test_resolving_with_open_activity_is_refused_and_status_stays(agent):
    ticket = make_ticket()
    activity_add(ticket=ticket, call_reason="Kargo nerede", actor=agent)

    with pytest.raises(TicketRuleError) as refused:
        ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)

    assert "Kargo nerede" in refused.value.message
    assert "Mark every activity done first" in refused.value.message
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.resolved_at is None
    assert _events(ticket, TicketEvent.Kind.STATUS) == []


def test_closing_with_open_activity_is_refused(agent):
    ticket = make_ticket()
    activity_add(ticket=ticket, call_reason="İade", actor=agent)

    with pytest.raises(TicketRuleError, match="activity is not done"):
        ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, actor=agent)

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.closed_at is None


def test_resolving_after_every_activity_is_done_succeeds_and_is_audited(agent, clock):
    ticket = make_ticket()
    first = activity_add(ticket=ticket, call_reason="Fatura", actor=agent)
    second = activity_add(ticket=ticket, call_reason="Adres", actor=agent)
    activity_mark_done(activity=first, actor=agent)
    with pytest.raises(TicketRuleError, match="Adres"):
        ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)
    activity_mark_done(activity=second, actor=agent)

    ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.resolved_at == clock.now
    [event] = _events(ticket, TicketEvent.Kind.STATUS)
    assert event.actor == agent
    assert event.data == {"old": "open", "new": "resolved"}


def test_closing_sets_closed_at_and_reopening_clears_both_timestamps(agent, clock):
    ticket = make_ticket()
    ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)
    clock.tick(minutes=5)
    ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, actor=agent)
    ticket.refresh_from_db()
    assert ticket.closed_at == clock.now

    ticket_set_status(ticket=ticket, status=TicketStatus.OPEN, actor=agent)

    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at, ticket.closed_at) == ("open", None, None)
    assert [(e.data["old"], e.data["new"]) for e in _events(ticket, "status")] == [
        ("open", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
    ]


def test_setting_the_same_status_writes_no_audit_entry(agent):
    ticket = make_ticket()
    ticket_set_status(ticket=ticket, status=TicketStatus.OPEN, actor=agent)
    assert _events(ticket, TicketEvent.Kind.STATUS) == []


def test_unknown_status_is_refused(agent):
    ticket = make_ticket()
    with pytest.raises(TicketRuleError, match="Unknown status"):
        ticket_set_status(ticket=ticket, status="archived", actor=agent)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_reopening_when_customer_already_has_a_new_ticket_is_refused(agent, account):
    old = make_ticket(account=account)
    ticket_set_status(ticket=old, status=TicketStatus.RESOLVED, actor=agent)
    make_ticket(account=account, customer=old.customer)  # the customer wrote again

    with pytest.raises(TicketRuleError, match="already has an active ticket"):
        ticket_set_status(ticket=old, status=TicketStatus.OPEN, actor=agent)

    old.refresh_from_db()
    assert old.status == TicketStatus.RESOLVED


# --- priority, agent, department, tags ------------------------------------------------------


def test_priority_change_is_audited_and_moves_pool_rank(agent):
    ticket = make_ticket()
    ticket_set_priority(ticket=ticket, priority="urgent", actor=agent)
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_rank) == ("urgent", 0)
    [event] = _events(ticket, TicketEvent.Kind.PRIORITY)
    assert (event.actor, event.data) == (agent, {"old": "medium", "new": "urgent"})
    with pytest.raises(TicketRuleError, match="Unknown priority"):
        ticket_set_priority(ticket=ticket, priority="critical", actor=agent)


def test_assigning_is_audited_with_old_and_new_agent(agent, admin_user):
    ticket = make_ticket()
    other = make_user("agent-b")
    ticket_assign(ticket=ticket, assignee=agent, actor=admin_user)
    ticket_assign(ticket=ticket, assignee=other, actor=admin_user)

    ticket.refresh_from_db()
    assert ticket.assignee == other
    events = _events(ticket, TicketEvent.Kind.ASSIGNEE)
    assert [(e.actor, e.data["old"], e.data["new"]) for e in events] == [
        (admin_user, None, agent.pk),
        (admin_user, agent.pk, other.pk),
    ]


def test_deactivated_user_cannot_be_assigned(admin_user):
    ticket = make_ticket()
    gone = make_user("gone", is_active=False)
    with pytest.raises(TicketRuleError, match="deactivated"):
        ticket_assign(ticket=ticket, assignee=gone, actor=admin_user)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_department_change_is_audited(agent):
    ticket = make_ticket()
    billing = Department.objects.create(name="Billing")
    ticket_set_department(ticket=ticket, department=billing, actor=agent)
    ticket_set_department(ticket=ticket, department=None, actor=agent)
    ticket.refresh_from_db()
    assert ticket.department is None
    assert [e.data["new"] for e in _events(ticket, TicketEvent.Kind.DEPARTMENT)] == [
        billing.pk,
        None,
    ]


def test_tags_are_shared_case_insensitively_and_audited(agent):
    first, second = make_ticket(), make_ticket()
    tag = ticket_add_tag(ticket=first, name="  Kargo   gecikmesi ", actor=agent)
    same = ticket_add_tag(ticket=second, name="kargo gecikmesi", actor=agent)
    ticket_add_tag(ticket=first, name="KARGO GECIKMESI", actor=agent)  # already there

    assert tag.pk == same.pk
    assert tag.name == "Kargo gecikmesi"
    assert [e.data for e in _events(first, TicketEvent.Kind.TAG_ADDED)] == [
        {"tag": "Kargo gecikmesi"}
    ]
    ticket_remove_tag(ticket=first, tag=tag, actor=agent)
    assert not first.tags.exists()
    assert [e.actor for e in _events(first, TicketEvent.Kind.TAG_REMOVED)] == [agent]


# --- activities -----------------------------------------------------------------------------


def test_call_time_accumulates_over_start_and_stop(agent, clock):
    ticket = make_ticket()
    activity = activity_add(ticket=ticket, call_reason="Geri arama", actor=agent)

    activity_start_call(activity=activity, actor=agent)
    clock.tick(seconds=90)
    activity_stop_call(activity=activity, actor=agent)
    clock.tick(minutes=10)  # not on the phone: not counted
    activity_start_call(activity=activity, actor=agent)
    clock.tick(seconds=30)
    activity = activity_stop_call(activity=activity, actor=agent)

    activity.refresh_from_db()
    assert activity.call_seconds == 120
    assert activity.call_ended_at == clock.now
    stops = _events(ticket, TicketEvent.Kind.ACTIVITY_STOPPED)
    assert [(e.data["seconds"], e.data["total_seconds"]) for e in stops] == [(90, 90), (30, 120)]


def test_starting_a_running_call_is_refused(agent):
    activity = activity_add(ticket=make_ticket(), call_reason="Arama", actor=agent)
    activity_start_call(activity=activity, actor=agent)
    with pytest.raises(TicketRuleError, match="already running"):
        activity_start_call(activity=activity, actor=agent)


def test_stopping_a_call_that_is_not_running_is_refused(agent, clock):
    activity = activity_add(ticket=make_ticket(), call_reason="Arama", actor=agent)
    with pytest.raises(TicketRuleError, match="not running"):
        activity_stop_call(activity=activity, actor=agent)
    activity_start_call(activity=activity, actor=agent)
    clock.tick(seconds=5)
    activity_stop_call(activity=activity, actor=agent)
    with pytest.raises(TicketRuleError, match="not running"):
        activity_stop_call(activity=activity, actor=agent)
    activity.refresh_from_db()
    assert activity.call_seconds == 5


def test_marking_done_stops_a_running_call(agent, clock):
    ticket = make_ticket()
    activity = activity_add(ticket=ticket, call_reason="Arama", actor=agent)
    activity_start_call(activity=activity, actor=agent)
    clock.tick(seconds=45)

    activity_mark_done(activity=activity, actor=agent)

    activity.refresh_from_db()
    assert activity.status == Activity.Status.DONE
    assert (activity.call_seconds, activity.call_ended_at, activity.done_at) == (
        45,
        clock.now,
        clock.now,
    )
    with pytest.raises(TicketRuleError, match="done"):
        activity_start_call(activity=activity, actor=agent)
    ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED, actor=agent)


def test_subcategory_must_belong_to_the_chosen_category(agent):
    ticket = make_ticket()
    question = ActivityCategory.objects.create(name="Question")
    incident = ActivityCategory.objects.create(name="Incident")
    outage = ActivityCategory.objects.create(name="Outage", parent=incident)

    with pytest.raises(TicketRuleError, match="does not belong"):
        activity_add(ticket=ticket, call_reason="x", category=question, subcategory=outage)
    with pytest.raises(TicketRuleError, match="does not belong"):
        activity_add(ticket=ticket, call_reason="x", subcategory=outage)
    with pytest.raises(TicketRuleError, match="main category"):
        activity_add(ticket=ticket, call_reason="x", category=outage)
    assert not ticket.activities.exists()

    activity = activity_add(
        ticket=ticket, call_reason="Site down", category=incident, subcategory=outage
    )
    assert (activity.category, activity.subcategory) == (incident, outage)


@pytest.mark.parametrize("status", [TicketStatus.RESOLVED, TicketStatus.CLOSED])
def test_no_activity_can_be_added_to_a_finished_ticket(agent, status):
    ticket = make_ticket()
    ticket_set_status(ticket=ticket, status=status, actor=agent)
    with pytest.raises(TicketRuleError, match="reopen it"):
        activity_add(ticket=ticket, call_reason="Late", actor=agent)
    assert not Activity.objects.filter(ticket=ticket).exists()


def test_activity_needs_a_call_reason(agent):
    with pytest.raises(TicketRuleError, match="call reason"):
        activity_add(ticket=make_ticket(), call_reason="   ", actor=agent)


# --- agents' replies and notes --------------------------------------------------------------


def test_reply_is_pending_delivery_and_becomes_the_preview(agent):
    ticket = make_ticket(body="Siparişim nerede?")
    reply = message_add_outbound(ticket=ticket, author=agent, body="  Kargoda, yarın gelir. ")

    assert reply.direction == Message.Direction.OUTBOUND
    assert reply.delivery == Message.Delivery.PENDING
    assert reply.body == "Kargoda, yarın gelir."
    ticket.refresh_from_db()
    assert ticket.last_message_preview == "Kargoda, yarın gelir."
    assert ticket.unread is False


def test_note_does_not_change_the_preview_nor_wait_for_delivery(agent):
    ticket = make_ticket(body="Siparişim nerede?")
    note = message_add_outbound(ticket=ticket, author=agent, body="Depoya sordum", note=True)

    assert (note.direction, note.delivery) == (Message.Direction.NOTE, "")
    ticket.refresh_from_db()
    assert ticket.last_message_preview == "Siparişim nerede?"
    assert ticket.unread is True


def test_reply_on_a_closed_ticket_is_refused_with_a_clear_message(agent):
    ticket = make_ticket()
    ticket_set_status(ticket=ticket, status=TicketStatus.CLOSED, actor=agent)

    with pytest.raises(TicketRuleError, match="closed; the customer's next message opens"):
        message_add_outbound(ticket=ticket, author=agent, body="Merhaba?")

    assert not ticket.messages.filter(direction=Message.Direction.OUTBOUND).exists()
    message_add_outbound(ticket=ticket, author=agent, body="for the record", note=True)


def test_empty_reply_is_refused(agent):
    with pytest.raises(TicketRuleError, match="Write a message first"):
        message_add_outbound(ticket=make_ticket(), author=agent, body=" \n ")


def test_agent_on_a_break_cannot_reply_but_can_write_notes(agent):
    ticket = make_ticket()
    lunch = BreakReason.objects.create(name="Lunch")
    agent_go_passive(user=agent, break_reason=lunch)

    with pytest.raises(TicketRuleError, match="on a break"):
        message_add_outbound(ticket=ticket, author=agent, body="Merhaba")

    message_add_outbound(ticket=ticket, author=agent, body="note", note=True)
    assert not ticket.messages.filter(direction=Message.Direction.OUTBOUND).exists()
