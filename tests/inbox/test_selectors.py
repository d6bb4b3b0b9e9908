"""Keyset pagination of the inbox and tickets list."""

from __future__ import annotations

from django.utils import timezone

from inbox.pagination import cursor_decode
from inbox.selectors import SORTS, TicketFilters, cursor_encode, inbox_rows, ticket_list_page
from tests.factories import make_customer, make_ticket
from tickets.models import Ticket


def test_tickets_with_the_same_last_message_time_are_neither_lost_nor_repeated(agent, account):
    same = timezone.now().replace(microsecond=123456)
    ids = [make_ticket(account=account, customer=make_customer()).pk for _ in range(7)]
    Ticket.objects.filter(pk__in=ids).update(last_message_at=same)
    no_message = make_ticket(account=account, customer=make_customer())
    Ticket.objects.filter(pk=no_message.pk).update(last_message_at=None)

    seen, cursor = [], None
    while True:
        page = inbox_rows(user=agent, filters=TicketFilters(tab="all"), cursor=cursor, limit=3)
        seen += [t.pk for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [*sorted(ids, reverse=True), no_message.pk]


def test_cursor_round_trips_and_bad_cursors_mean_first_page(account):
    ticket = make_ticket(account=account)
    at, pk = cursor_decode(cursor_encode(ticket), SORTS["recent"])
    assert (at, pk) == (ticket.last_message_at, ticket.pk)
    assert cursor_decode("garbage", SORTS["recent"]) is None
    assert cursor_decode("99999999999999999999999.1", SORTS["recent"]) is None
    assert [t.pk for t in ticket_list_page(cursor="x.y").items] == [ticket.pk]
