"""Routing: capacity, most free slots, idle longest, the pool, breaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from configuration.models import BreakReason
from tests.factories import make_account, make_customer, make_ticket, make_user
from tests.omnico.helpers import end_this_connection_from_the_server
from tests.tickets.concurrency import postgres_only, run_concurrently
from tickets.models import AgentPresence, BreakLog, Ticket, TicketEvent, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.routing import (
    agent_go_active,
    agent_go_passive,
    agent_set_capacity,
    pool_drain,
    pool_drain_after_commit,
    ticket_route,
)
from tickets.selectors import agent_is_active, break_list, pool_list, team_list
from tickets.services import TicketRuleError, ticket_assign, ticket_set_priority, ticket_set_status

pytestmark = pytest.mark.django_db


def make_agent(username: str, *, capacity: int, active: bool = True, last_assigned=None):
    """An agent whose presence is set directly (no drain), so tests control when routing runs."""
    user = make_user(username, capacity=capacity)
    AgentPresence.objects.create(user=user, is_active=active, last_assigned_at=last_assigned)
    return user


def assigned(*tickets: Ticket) -> list[str | None]:
    by_pk = dict(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list(
            "pk", "assignee__username"
        )
    )
    return [by_pk[t.pk] for t in tickets]


def works(user) -> int:
    return Ticket.objects.filter(assignee=user, status__in=["open", "pending"]).count()


def test_new_ticket_goes_to_the_active_agent_with_most_free_slots():
    busy = make_agent("busy", capacity=5)
    roomy = make_agent("roomy", capacity=3)
    for _ in range(3):
        ticket_assign(ticket=make_ticket(), assignee=busy)  # busy: 2 free, roomy: 3 free
    ticket = make_ticket()

    agent_id = ticket_route(ticket_id=ticket.pk)

    assert agent_id == roomy.pk
    assert assigned(ticket) == ["roomy"]
    [event] = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNEE)
    assert event.actor is None
    assert event.data["new"] == roomy.pk and event.data["routed"] is True


def test_tie_goes_to_the_agent_idle_longest(clock):
    make_agent("recent", capacity=2, last_assigned=datetime(2025, 3, 3, 8, 30, tzinfo=UTC))
    make_agent("earlier", capacity=2, last_assigned=datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    routed = []
    for _ in range(3):  # tickets arriving one by one, a minute apart
        ticket = make_ticket()
        ticket_route(ticket_id=ticket.pk)
        routed.append(ticket)
        clock.tick(minutes=1)

    # 2 free each: earlier waited longer; then recent has more free; then 1 free each and
    # earlier got its ticket a minute before recent did.
    assert assigned(*routed) == ["earlier", "recent", "earlier"]


def test_ties_within_one_drain_take_turns():
    make_agent("a", capacity=2)
    make_agent("b", capacity=2)
    tickets = [make_ticket() for _ in range(4)]
    pool_drain()
    assert assigned(*tickets) == ["a", "b", "a", "b"]


def test_never_assigned_agent_wins_a_tie_over_one_assigned_before():
    make_agent("veteran", capacity=1, last_assigned=datetime(2020, 1, 1, tzinfo=UTC))
    make_agent("newcomer", capacity=1)
    ticket = make_ticket()
    ticket_route(ticket_id=ticket.pk)
    assert assigned(ticket) == ["newcomer"]


def test_capacity_is_never_exceeded_and_the_rest_waits_in_the_pool():
    agent = make_agent("solo", capacity=2)
    tickets = [make_ticket() for _ in range(4)]

    for ticket in tickets:
        ticket_route(ticket_id=ticket.pk)

    assert assigned(*tickets) == ["solo", "solo", None, None]
    assert works(agent) == 2
    assert [t.pk for t in pool_list()] == [tickets[2].pk, tickets[3].pk]


def test_pool_is_taken_by_priority_then_arrival(agent):
    low = make_ticket()
    old_medium = make_ticket()
    urgent = make_ticket()
    new_medium = make_ticket()
    ticket_set_priority(ticket=low, priority="low")
    ticket_set_priority(ticket=urgent, priority="urgent")
    assert [t.pk for t in pool_list()] == [urgent.pk, old_medium.pk, new_medium.pk, low.pk]
    make_agent("taker", capacity=2)

    pool_drain()

    assert assigned(urgent, old_medium, new_medium, low) == ["taker", "taker", None, None]


def test_a_freed_slot_takes_the_head_of_the_pool(django_capture_on_commit_callbacks):
    make_agent("solo", capacity=1)
    working, waiting_low, waiting_high = make_ticket(), make_ticket(), make_ticket()
    ticket_set_priority(ticket=waiting_high, priority="high")
    pool_drain()
    assert assigned(working, waiting_low, waiting_high) == [None, None, "solo"]
    ticket_set_priority(ticket=working, priority="urgent")  # no drain: nothing freed
    assert assigned(working) == [None]

    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=waiting_high, status=TicketStatus.WAITING_ON_CUSTOMER)

    assert assigned(working, waiting_low) == ["solo", None]


def test_unassigning_frees_the_slot_for_the_pool(admin_user, django_capture_on_commit_callbacks):
    solo = make_agent("solo", capacity=1)
    held, waiting = make_ticket(), make_ticket()
    pool_drain()
    assert assigned(held, waiting) == ["solo", None]

    with django_capture_on_commit_callbacks(execute=True):
        ticket_assign(ticket=held, assignee=make_user("other"), actor=admin_user)

    assert assigned(waiting) == ["solo"]
    assert works(solo) == 1


def test_passive_agent_gets_nothing_new():
    make_agent("resting", capacity=5, active=False)
    ticket = make_ticket()
    assert ticket_route(ticket_id=ticket.pk) is None
    assert assigned(ticket) == [None]

    make_agent("working", capacity=1)
    other = make_ticket()
    ticket_route(ticket_id=other.pk)
    assert assigned(ticket, other) == ["working", None]


def test_agent_without_capacity_or_deactivated_gets_nothing():
    make_agent("zero", capacity=0)
    gone = make_agent("gone", capacity=5)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    ticket = make_ticket()
    assert ticket_route(ticket_id=ticket.pk) is None


def test_going_on_a_break_keeps_assigned_tickets_but_stops_new_ones(
    django_capture_on_commit_callbacks,
):
    agent = make_agent("ayse", capacity=3)
    mine = make_ticket()
    ticket_route(ticket_id=mine.pk)
    lunch = BreakReason.objects.create(name="Öğle yemeği")

    agent_go_passive(user=agent, break_reason=lunch)
    new = make_ticket()
    ticket_route(ticket_id=new.pk)

    assert assigned(mine, new) == ["ayse", None]
    assert not agent_is_active(user=agent)

    with django_capture_on_commit_callbacks(execute=True):
        agent_go_active(user=agent)  # back from the break: the pool is drained

    assert assigned(new) == ["ayse"]


def test_breaks_are_logged_with_reason_start_and_end(clock):
    agent = make_user("ayse")
    lunch = BreakReason.objects.create(name="Lunch")
    meeting = BreakReason.objects.create(name="Meeting")
    agent_go_active(user=agent)
    assert not BreakLog.objects.exists()

    start = clock.tick(hours=3)
    agent_go_passive(user=agent, break_reason=lunch)
    agent_go_passive(user=agent, break_reason=lunch)  # pressing again changes nothing
    switch = clock.tick(minutes=30)
    agent_go_passive(user=agent, break_reason=meeting)
    end = clock.tick(minutes=15)
    agent_go_active(user=agent)

    rows = list(BreakLog.objects.order_by("started_at", "id"))
    assert [(b.reason_text, b.started_at, b.ended_at) for b in rows] == [
        ("Lunch", start, switch),
        ("Meeting", switch, end),
    ]
    assert [b.reason.name for b in break_list(agent=agent)] == ["Meeting", "Lunch"]
    presence = AgentPresence.objects.get(user=agent)
    assert presence.is_active and presence.break_reason is None


def test_break_needs_an_offered_reason():
    agent = make_user("ayse")
    with pytest.raises(TicketRuleError, match="reason"):
        agent_go_passive(user=agent, break_reason=None)
    retired = BreakReason.objects.create(name="Old", is_active=False)
    with pytest.raises(TicketRuleError, match="no longer offered"):
        agent_go_passive(user=agent, break_reason=retired)
    assert not BreakLog.objects.exists()


def test_raising_capacity_takes_pool_tickets(admin_user, django_capture_on_commit_callbacks):
    agent = make_agent("ayse", capacity=1)
    tickets = [make_ticket() for _ in range(3)]
    pool_drain()
    assert works(agent) == 1

    with django_capture_on_commit_callbacks(execute=True):
        agent_set_capacity(actor=admin_user, agent=agent, capacity=3)

    assert assigned(*tickets) == ["ayse", "ayse", "ayse"]
    assert [m.free for m in team_list() if m.user_id == agent.pk] == [0]


def test_agent_cannot_raise_their_own_capacity():
    agent = make_agent("ayse", capacity=1)
    with pytest.raises(PermissionDenied):
        agent_set_capacity(actor=agent, agent=agent, capacity=10)


def test_receiving_a_new_ticket_routes_it_after_commit(django_capture_on_commit_callbacks):
    make_agent("ayse", capacity=2)
    account = make_account()
    customer = make_customer(kind=account.kind)

    with django_capture_on_commit_callbacks(execute=True):
        got = ticket_receive(
            channel_account=account, customer=customer, incoming=Incoming(body="Selam")
        )
    with django_capture_on_commit_callbacks(execute=True):
        auto = ticket_receive(
            channel_account=account,
            customer=make_customer(kind=account.kind),
            incoming=Incoming(body="Auto-reply", is_automatic=True),
        )

    assert assigned(got.ticket, auto.ticket) == ["ayse", None]  # closed tickets take no slot


def test_draining_a_long_pool_runs_a_fixed_number_of_queries(django_assert_max_num_queries):
    make_agent("a", capacity=20)
    make_agent("b", capacity=20)
    for _ in range(12):
        make_ticket()
    with django_assert_max_num_queries(10):
        assignments = pool_drain()
    assert len(assignments) == 12
    assert Ticket.objects.filter(assignee__isnull=False).count() == 12


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_routing_never_exceeds_capacity():
    tickets = [make_ticket() for _ in range(10)]  # no agent yet: routed on commit to nobody
    agent = make_agent("ayse", capacity=3)
    assert works(agent) == 0

    run_concurrently(lambda i: ticket_route(ticket_id=tickets[i].pk), 10)

    assert works(agent) == 3
    assert Ticket.objects.filter(assignee__isnull=True).count() == 7
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNEE).count() == 3


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_routing_and_going_active_never_exceeds_capacity():
    tickets = [make_ticket() for _ in range(8)]
    first = make_agent("ayse", capacity=2)
    second = make_user("mehmet", capacity=2)
    assert works(first) == 0

    def work(i: int):
        if i == 0:
            agent_go_active(user=second)  # drains on commit, racing the routers
            return None
        return ticket_route(ticket_id=tickets[i].pk)

    run_concurrently(work, 8)
    pool_drain()

    assert (works(first), works(second)) == (2, 2)
    assert Ticket.objects.filter(assignee__isnull=True).count() == 4


@postgres_only
@pytest.mark.django_db(transaction=True)  # the hooks run after a real commit
def test_a_drain_after_commit_whose_connection_a_restart_ended_runs_again_and_routes(caplog):
    """The ingest committed a new pool ticket; a database restart ends the connection before
    the drain after the commit reads: the drain runs once more on a fresh connection, the
    ticket reaches the free agent, and the log says so without the server's words (which
    the restart test reads as a failure)."""
    agent = make_agent("ayla", capacity=2)
    ticket = make_ticket()
    with caplog.at_level(logging.WARNING), transaction.atomic():
        transaction.on_commit(end_this_connection_from_the_server)  # runs first
        pool_drain_after_commit()

    assert assigned(ticket) == [agent.username]
    assert "SQLSTATE 57P01" in caplog.text
    assert "terminating connection" not in caplog.text
