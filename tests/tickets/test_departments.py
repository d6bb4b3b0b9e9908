"""Departments as skills: a ticket of a department goes to that department's agents, waits in
its own queue, overflows after the department's limit; recontacts go back to their agent."""

from __future__ import annotations

import pytest

from configuration.models import Department, GroupType, RoutingSettings, Subject
from tests.factories import make_account, make_customer, make_ticket
from tests.tickets.test_routing import assigned, make_agent
from tickets.models import Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.routing import pool_drain
from tickets.selectors import pool_pace, pool_place, pool_positions
from tickets.services import ticket_set_department, ticket_set_status

pytestmark = pytest.mark.django_db


def in_department(ticket: Ticket, department: Department | None) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(department=department)
    ticket.refresh_from_db()
    return ticket


def agent_of(*departments: Department, name: str, capacity: int = 2, **kw):
    agent = make_agent(name, capacity=capacity, **kw)
    agent.operator_profile.departments.set(departments)
    return agent


def test_a_ticket_goes_only_to_an_agent_of_its_department():
    sales, support = (
        Department.objects.create(name="Sales"),
        Department.objects.create(name="Support"),
    )
    agent_of(sales, name="seller", capacity=5)  # the freest agent, but of another department
    agent_of(support, name="helper", capacity=1)
    ticket = in_department(make_ticket(), support)

    pool_drain()

    assert assigned(ticket) == ["helper"]


def test_a_full_department_keeps_its_tickets_waiting_and_others_still_go():
    sales, support = (
        Department.objects.create(name="Sales"),
        Department.objects.create(name="Support"),
    )
    agent_of(support, name="helper", capacity=1)
    agent_of(sales, name="seller", capacity=1)
    first = in_department(make_ticket(), support)
    second = in_department(make_ticket(), support)  # helper is full after the first
    third = in_department(make_ticket(), sales)  # behind a waiting ticket, but its agent is free

    pool_drain()

    assert assigned(first, second, third) == ["helper", None, "seller"]


def test_a_ticket_without_a_department_goes_to_any_agent():
    sales = Department.objects.create(name="Sales")
    agent_of(sales, name="seller")
    ticket = make_ticket()

    pool_drain()

    assert assigned(ticket) == ["seller"]


def test_an_agent_without_departments_does_not_get_a_departments_ticket():
    support = Department.objects.create(name="Support")
    make_agent("generalist", capacity=5)
    ticket = in_department(make_ticket(), support)

    pool_drain()

    assert assigned(ticket) == [None]


def test_overflow_sends_a_waiting_ticket_to_any_agent_after_the_departments_limit(clock):
    support = Department.objects.create(name="Support", overflow_after_minutes=10)
    strict = Department.objects.create(name="Legal")  # never overflows
    agent_of(name="generalist", capacity=5)
    overflowing = in_department(make_ticket(), support)
    kept = in_department(make_ticket(), strict)
    Ticket.objects.update(pool_entered_at=clock.now)

    pool_drain()
    assert assigned(overflowing, kept) == [None, None]

    clock.tick(minutes=10)
    pool_drain()  # the periodic drain (tickets.pool_drain) does this every 30 s

    assert assigned(overflowing, kept) == ["generalist", None]


def test_the_support_pages_subject_names_the_department_and_wins_over_the_group_type():
    sales, support = (
        Department.objects.create(name="Sales"),
        Department.objects.create(name="Support"),
    )
    group = GroupType.objects.create(name="Allianz", department=sales)
    billing = Subject.objects.create(name="Billing", department=support)
    other = Subject.objects.create(name="Other")
    account = make_account(kind="webchat")

    def opened(**choice) -> Ticket:
        return ticket_receive(
            channel_account=account,
            customer=make_customer(kind="webchat"),
            incoming=Incoming(body="Merhaba", **choice),
        ).ticket

    assert opened(group_type_id=group.pk, subject_id=billing.pk).department == support
    assert opened(group_type_id=group.pk, subject_id=other.pk).department == sales
    assert opened(subject_id=other.pk).department is None
    assert opened().department is None


def test_moving_a_waiting_ticket_to_a_department_routes_it_there(
    django_capture_on_commit_callbacks,
):
    support = Department.objects.create(name="Support")
    make_agent("generalist", capacity=5)
    agent_of(support, name="helper", capacity=0)  # full
    ticket = in_department(make_ticket(), support)
    pool_drain()
    assert assigned(ticket) == [None]

    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_department(ticket=ticket, department=None)

    assert assigned(ticket) == ["generalist"]


def test_a_customer_writing_again_soon_goes_back_to_their_agent(clock):
    first_agent = make_agent("ayse", capacity=3, last_assigned=clock.now)
    make_agent("mehmet", capacity=5)  # freer: a new customer would go to him
    account, customer = make_account(), make_customer()
    first = make_ticket(account=account, customer=customer)
    Ticket.objects.filter(pk=first.pk).update(assignee=first_agent)
    ticket_set_status(ticket=first, status=TicketStatus.RESOLVED)

    clock.tick(minutes=90)  # within the default two hours
    again = make_ticket(account=account, customer=customer)
    pool_drain()

    assert again.previous_ticket_id == first.pk
    assert assigned(again) == ["ayse"]


def test_a_recontact_after_the_window_or_to_a_passive_agent_routes_as_usual(clock):
    RoutingSettings.objects.create(recontact_minutes=30)
    ayse = make_agent("ayse", capacity=3, last_assigned=clock.now)
    make_agent("mehmet", capacity=5)
    account = make_account()
    late_customer, break_customer = make_customer(), make_customer()
    for customer in (late_customer, break_customer):
        old = make_ticket(account=account, customer=customer)
        Ticket.objects.filter(pk=old.pk).update(assignee=ayse)
        ticket_set_status(ticket=old, status=TicketStatus.RESOLVED)

    clock.tick(minutes=31)
    late = make_ticket(account=account, customer=late_customer)
    pool_drain()
    assert assigned(late) == ["mehmet"]

    ayse.presence.is_active = False
    ayse.presence.save()
    clock.tick(minutes=-2)  # within the window, but Ayşe is on a break
    on_break = make_ticket(account=account, customer=break_customer)
    pool_drain()
    assert assigned(on_break) == ["mehmet"]


# --- the visitor's place and wait -------------------------------------------------------------


def test_a_place_counts_only_the_tickets_that_compete_for_the_same_agents():
    sales, support = (
        Department.objects.create(name="Sales"),
        Department.objects.create(name="Support"),
    )
    s1 = in_department(make_ticket(), sales)
    anyone = make_ticket()
    p1 = in_department(make_ticket(), support)
    s2 = in_department(make_ticket(), sales)
    p2 = in_department(make_ticket(), support)
    last = make_ticket()

    # Support's queue: tickets without a department compete (any agent takes them), Sales' do not
    assert [pool_place(ticket_id=t.pk)[0] for t in (p1, p2)] == [2, 3]
    assert [pool_place(ticket_id=t.pk)[0] for t in (s1, s2)] == [1, 3]
    # a ticket without a department may go to any agent: everyone ahead counts
    assert [pool_place(ticket_id=t.pk)[0] for t in (anyone, last)] == [2, 6]
    # the live snapshot counts the same way
    assert pool_positions() == {s1.pk: 1, anyone.pk: 2, p1.pk: 2, s2.pk: 3, p2.pk: 3, last.pk: 6}


def test_the_pace_of_a_department_counts_its_own_departures(clock):
    from datetime import timedelta

    sales = Department.objects.create(name="Sales")
    start = clock.now
    for minute in range(4):  # four sales tickets left the pool after waiting, one a minute
        ticket = in_department(make_ticket(), sales)
        Ticket.objects.filter(pk=ticket.pk).update(
            pool_entered_at=start, assigned_at=start + timedelta(minutes=minute + 1)
        )
    clock.tick(minutes=4)

    assert pool_pace(department_id=sales.pk).samples == 4
    assert pool_pace(department_id=Department.objects.create(name="Idle").pk).interval is None
    assert pool_pace().samples == 4
