"""Assignment by people obeys routing's rules: hand and bulk assignment, taking from the pool,
and taking a ticket back from an agent who did not answer in time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from configuration.models import Department, RoutingSettings
from inbox.services import tickets_bulk_update
from omnico.core import realtime
from tests.factories import make_ticket, make_user
from tests.tickets.test_routing import assigned, make_agent, works
from tickets.assignment import (
    AssignmentRefused,
    ticket_assign_checked,
    ticket_take,
    tickets_requeue_unanswered,
)
from tickets.errors import TicketRuleError
from tickets.models import Ticket, TicketEvent
from tickets.receiving import Incoming, ticket_receive
from tickets.routing import pool_drain
from tickets.services import message_add_outbound

pytestmark = pytest.mark.django_db


# --- by hand ----------------------------------------------------------------------------------


def test_assigning_to_an_agent_on_a_break_is_refused_with_the_reason():
    boss = make_user("boss", staff=True, capacity=None)
    resting = make_agent("resting", capacity=4, active=False)
    ticket = make_ticket()

    with pytest.raises(AssignmentRefused, match="resting is not active") as refused:
        ticket_assign_checked(ticket=ticket, assignee=resting, actor=boss)

    assert refused.value.rule == "not_active"
    assert assigned(ticket) == [None]


def test_assigning_to_an_agent_at_capacity_is_refused():
    boss = make_user("boss", staff=True, capacity=None)
    full = make_agent("full", capacity=1)
    ticket_assign_checked(ticket=make_ticket(), assignee=full, actor=boss)

    with pytest.raises(AssignmentRefused, match=r"at capacity \(1 of 1 tickets\)"):
        ticket_assign_checked(ticket=make_ticket(), assignee=full, actor=boss)
    assert works(full) == 1


def test_a_supervisor_overrides_and_the_history_says_so():
    boss = make_user("boss", staff=True, capacity=None)
    resting = make_agent("resting", capacity=4, active=False)
    ticket = make_ticket()

    ticket_assign_checked(ticket=ticket, assignee=resting, actor=boss, override=True)

    assert assigned(ticket) == ["resting"]
    event = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNEE).get()
    assert event.actor == boss and event.data["override"] == "not_active"


def test_an_agent_cannot_override():
    agent = make_agent("agent", capacity=4)
    resting = make_agent("resting", capacity=4, active=False)

    with pytest.raises(TicketRuleError, match="Only a supervisor"):
        ticket_assign_checked(ticket=make_ticket(), assignee=resting, actor=agent, override=True)


def test_bulk_gives_an_agent_on_a_break_nothing_and_an_active_one_only_their_free_slots():
    boss = make_user("boss", staff=True, capacity=None)
    resting = make_agent("resting", capacity=4, active=False)
    active = make_agent("active", capacity=4)
    tickets = [make_ticket() for _ in range(17)]
    ids = [t.pk for t in tickets]

    on_break = tickets_bulk_update(ticket_ids=ids, actor=boss, assign=True, assignee=resting)
    assert (len(on_break.done), len(on_break.refused)) == (0, 17)
    assert works(resting) == 0

    result = tickets_bulk_update(ticket_ids=ids, actor=boss, assign=True, assignee=active)
    assert (len(result.done), len(result.refused)) == (4, 13)
    assert sorted(result.overridable) == sorted(pk for pk, _reason in result.refused)
    assert works(active) == 4
    assert "at capacity (4 of 4 tickets)" in result.summary()


# --- taking from the pool ---------------------------------------------------------------------


def test_an_agent_takes_the_head_of_the_pools_they_serve():
    support, sales = (
        Department.objects.create(name="Support"),
        Department.objects.create(name="Sales"),
    )
    agent = make_agent("helper", capacity=2, active=False)  # no routing to them yet
    agent.operator_profile.departments.set([support])
    other = make_ticket()
    Ticket.objects.filter(pk=other.pk).update(department=sales, priority_rank=0)  # not theirs
    head, second = make_ticket(), make_ticket()
    Ticket.objects.filter(pk=head.pk).update(department=support)
    agent.presence.is_active = True
    agent.presence.save()

    assert ticket_take(agent=agent).pk == head.pk
    assert ticket_take(agent=agent, ticket_id=None).pk == second.pk
    with pytest.raises(TicketRuleError, match="slots are full"):
        ticket_take(agent=agent)  # never beyond capacity
    assert works(agent) == 2
    assert TicketEvent.objects.filter(ticket=head, data__taken=1, actor=agent).exists()


def test_an_agent_picks_a_pool_ticket_but_not_one_of_another_department_or_taken():
    sales = Department.objects.create(name="Sales")
    agent = make_agent("agent", capacity=3, active=False)
    first, picked, foreign = make_ticket(), make_ticket(), make_ticket()
    Ticket.objects.filter(pk=foreign.pk).update(department=sales)
    agent.presence.is_active = True
    agent.presence.save()

    assert ticket_take(agent=agent, ticket_id=picked.pk).pk == picked.pk
    with pytest.raises(TicketRuleError, match="another department"):
        ticket_take(agent=agent, ticket_id=foreign.pk)
    with pytest.raises(TicketRuleError, match="no longer waiting"):
        ticket_take(agent=agent, ticket_id=picked.pk)
    assert assigned(first, picked, foreign) == [None, "agent", None]


def test_an_agent_on_a_break_cannot_take():
    agent = make_agent("resting", capacity=3, active=False)
    ticket = make_ticket()

    with pytest.raises(TicketRuleError, match="Go active"):
        ticket_take(agent=agent)
    assert assigned(ticket) == [None]


# --- no reply in time ---------------------------------------------------------------------


@pytest.fixture
def no_reply_in_10_minutes(db):
    return RoutingSettings.objects.create(no_reply_minutes_medium=10)


def _overdue(ticket: Ticket, minutes: int) -> None:
    past = ticket.created_at - timedelta(minutes=minutes)
    Ticket.objects.filter(pk=ticket.pk).update(awaiting_reply_since=past, assigned_at=past)


def test_nothing_is_taken_back_while_the_setting_is_off():
    make_agent("slow", capacity=2)
    ticket = make_ticket()
    pool_drain()
    _overdue(ticket, 60)

    assert tickets_requeue_unanswered() == []
    assert assigned(ticket) == ["slow"]


def test_an_unanswered_ticket_goes_to_the_next_free_agent_and_the_agent_is_told(
    no_reply_in_10_minutes, django_capture_on_commit_callbacks, monkeypatch
):
    slow = make_agent("slow", capacity=2)
    ticket = make_ticket()
    pool_drain()
    assert assigned(ticket) == ["slow"]
    make_agent("quick", capacity=2)
    _overdue(ticket, 11)
    sent = []
    monkeypatch.setattr(realtime, "publish", lambda group, kind, **data: sent.append((group, kind)))

    with django_capture_on_commit_callbacks(execute=True):
        assert tickets_requeue_unanswered() == [ticket.pk]

    assert assigned(ticket) == ["quick"]
    assert (realtime.agent_group(slow.pk), "ticket.unanswered") in sent
    back = TicketEvent.objects.filter(ticket=ticket, data__reason="no_reply").get()
    assert (back.data["old"], back.data["minutes"]) == (slow.pk, 10)


def test_an_unanswered_ticket_waits_in_the_pool_rather_than_going_back_to_its_agent(
    no_reply_in_10_minutes, django_capture_on_commit_callbacks
):
    make_agent("slow", capacity=2)
    ticket = make_ticket()
    pool_drain()
    _overdue(ticket, 11)

    with django_capture_on_commit_callbacks(execute=True):
        tickets_requeue_unanswered()

    assert assigned(ticket) == [None]
    later = make_ticket()
    pool_drain()
    assert assigned(ticket, later) == [None, "slow"]  # other customers still reach them


def test_an_answered_or_recent_ticket_stays(no_reply_in_10_minutes):
    agent = make_agent("agent", capacity=3)
    answered, recent = make_ticket(), make_ticket()
    pool_drain()
    _overdue(answered, 30)
    message_add_outbound(ticket=answered, author=agent, body="Merhaba, bakıyorum.")
    _overdue(recent, 5)

    assert tickets_requeue_unanswered() == []
    assert assigned(answered, recent) == ["agent", "agent"]


def test_the_customers_next_message_starts_the_clock_again(no_reply_in_10_minutes):
    agent = make_agent("agent", capacity=3)
    ticket = make_ticket()
    pool_drain()
    message_add_outbound(ticket=ticket, author=agent, body="Merhaba")
    assert Ticket.objects.get(pk=ticket.pk).awaiting_reply_since is None

    ticket_receive(
        channel_account=ticket.channel_account,
        customer=ticket.customer,
        incoming=Incoming(body="Hâlâ bekliyorum", external_id="again-1"),
    )

    assert Ticket.objects.get(pk=ticket.pk).awaiting_reply_since is not None
