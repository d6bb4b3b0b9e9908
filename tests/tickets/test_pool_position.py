"""The pool as a waiting customer sees it: their place (routing's order) and the pace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_account, make_customer, make_ticket, make_user
from tests.tickets.concurrency import postgres_only, run_concurrently
from tests.tickets.test_routing import make_agent
from tickets.models import Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.routing import pool_drain
from tickets.selectors import (
    PACE_MIN_SAMPLES,
    pool_list,
    pool_pace,
    pool_position,
    pool_positions,
)
from tickets.services import ticket_assign, ticket_set_priority, ticket_set_status

pytestmark = pytest.mark.django_db


def places(*tickets: Ticket) -> list[int | None]:
    return [pool_position(ticket_id=t.pk) for t in tickets]


def test_places_follow_arrival_and_the_one_routing_takes_next_is_first():
    first, second, third = make_ticket(), make_ticket(), make_ticket()

    assert places(first, second, third) == [1, 2, 3]
    assert pool_positions() == {first.pk: 1, second.pk: 2, third.pk: 3}


def test_an_urgent_arrival_goes_ahead_and_a_low_one_behind():
    first, second = make_ticket(), make_ticket()
    urgent, low = make_ticket(), make_ticket()
    ticket_set_priority(ticket=urgent, priority="urgent")
    ticket_set_priority(ticket=low, priority="low")
    ticket_set_priority(ticket=first, priority="low")

    assert places(urgent, second, first, low) == [1, 2, 3, 4]
    # exactly the order routing takes them in
    assert [t.pk for t in pool_list()] == [urgent.pk, second.pk, first.pk, low.pk]


def test_the_place_is_the_one_routing_gives_a_slot_to():
    tickets = [make_ticket() for _ in range(4)]
    ticket_set_priority(ticket=tickets[3], priority="high")
    expected = sorted(tickets, key=lambda t: pool_position(ticket_id=t.pk) or 0)
    make_agent("ayla", capacity=1)

    pool_drain()

    assert Ticket.objects.get(pk=expected[0].pk).assignee is not None
    assert places(*expected[1:]) == [1, 2, 3]


def test_a_ticket_out_of_the_pool_has_no_place():
    assigned, resolved, waiting = make_ticket(), make_ticket(), make_ticket()
    ticket_assign(ticket=assigned, assignee=make_user())
    ticket_set_status(ticket=resolved, status=TicketStatus.RESOLVED)

    assert places(assigned, resolved, waiting) == [None, None, 1]
    assert pool_positions() == {waiting.pk: 1}


def test_positions_of_one_source_still_count_every_ticket_ahead():
    email = make_ticket(account=make_account(kind="email"))
    telegram = make_ticket()

    assert pool_positions(source="telegram") == {telegram.pk: 2}
    assert pool_positions(source="email") == {email.pk: 1}


def test_assignment_and_pool_entry_times_are_recorded():
    before = timezone.now()
    ticket = make_ticket()
    assert ticket.pool_entered_at >= before and ticket.assigned_at is None
    make_agent("ayla", capacity=1)

    pool_drain()  # routing
    ticket.refresh_from_db()
    assert ticket.assigned_at is not None and ticket.assigned_at >= ticket.pool_entered_at

    entered = ticket.pool_entered_at
    ticket_assign(ticket=ticket, assignee=None)  # back to the pool: a new wait starts
    ticket.refresh_from_db()
    assert ticket.pool_entered_at > entered

    ticket_set_status(ticket=ticket, status=TicketStatus.WAITING_ON_CUSTOMER)
    entered = ticket.pool_entered_at
    ticket_set_status(ticket=ticket, status=TicketStatus.OPEN)  # the customer wrote again
    ticket.refresh_from_db()
    assert ticket.pool_entered_at > entered


def _assigned(*, waited: timedelta, ago: timedelta) -> Ticket:
    ticket = make_ticket()
    at = timezone.now() - ago
    Ticket.objects.filter(pk=ticket.pk).update(
        assignee=make_user(), assigned_at=at, pool_entered_at=at - waited
    )
    return ticket


def test_the_pace_is_the_time_since_the_first_recent_departure_per_departure():
    now = timezone.now()
    for ago in (20, 15, 10, 5):  # four waited and left in the last 20 minutes
        _assigned(waited=timedelta(minutes=3), ago=timedelta(minutes=ago))
    _assigned(waited=timedelta(seconds=1), ago=timedelta(minutes=25))  # found a free slot
    _assigned(waited=timedelta(minutes=3), ago=timedelta(minutes=45))  # too long ago

    pace = pool_pace(now=now)

    assert pace.samples == 4
    assert pace.interval == pytest.approx(20 * 60 / 4, rel=0.01)  # one every 5 minutes
    assert pace.wait_minutes(1) == 5
    assert pace.wait_minutes(3) == 15


def test_without_enough_recent_departures_there_is_no_estimate():
    for ago in range(PACE_MIN_SAMPLES - 1):
        _assigned(waited=timedelta(minutes=3), ago=timedelta(minutes=ago + 1))

    pace = pool_pace()

    assert pace.interval is None
    assert pace.wait_minutes(1) is None


def test_a_pool_that_stopped_moving_reads_slower():
    now = timezone.now()
    for ago in (12, 11, 10):
        _assigned(waited=timedelta(minutes=2), ago=timedelta(minutes=ago))

    assert pool_pace(now=now).wait_minutes(1) == 4  # 12 min / 3
    assert pool_pace(now=now + timedelta(minutes=9)).wait_minutes(1) == 7  # 21 min / 3


def test_the_place_is_one_query(django_assert_num_queries):
    ticket = make_ticket()
    with django_assert_num_queries(1):
        assert pool_position(ticket_id=ticket.pk) == 1
    with django_assert_num_queries(1):
        pool_pace()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_get_places_one_to_n_and_move_up_together():
    """Eight customers write at the same moment while every agent is full: each has a place
    of its own (1..8, in routing's order), and when a slot frees the rest move up by one."""
    n = 8
    account = make_account()
    customers = [make_customer(kind=account.kind) for _ in range(n)]
    make_agent("full", capacity=0)

    def arrive(i: int) -> int:
        got = ticket_receive(
            channel_account=account,
            customer=customers[i],
            incoming=Incoming(body="hello", external_id=f"race-{i}"),
        )
        return got.ticket.pk

    ids = run_concurrently(arrive, n)
    found = {pk: pool_position(ticket_id=pk) for pk in ids}

    assert sorted(found.values()) == list(range(1, n + 1))
    assert [t.pk for t in pool_list()] == sorted(ids, key=lambda pk: found[pk])
    assert pool_positions() == found

    make_agent("fresh", capacity=1)
    pool_drain()

    head = min(found, key=lambda pk: found[pk])
    assert Ticket.objects.get(pk=head).assignee is not None
    assert {pk: pool_position(ticket_id=pk) for pk in ids if pk != head} == {
        pk: place - 1 for pk, place in found.items() if pk != head
    }
