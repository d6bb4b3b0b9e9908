"""Offline messages in the agent screen: the inbox tab, the homepage card, both live."""

from __future__ import annotations

from django.urls import reverse

from inbox.realtime import render_inbox_ticket
from tests.factories import make_customer, make_ticket
from tickets.models import Ticket, TicketStatus
from tickets.offline import ticket_mark_offline
from tickets.services import ticket_assign

HTMX = {"HTTP_HX_REQUEST": "true"}


def _offline(account, name: str) -> Ticket:
    ticket = make_ticket(account=account, customer=make_customer(kind=account.kind, name=name))
    assert ticket_mark_offline(ticket_id=ticket.pk)
    return ticket


def test_the_offline_tab_lists_open_offline_messages_only(agent_client, agent, account):
    _offline(account, "Night Person")
    make_ticket(account=account, customer=make_customer(name="Day Person"))
    done = _offline(account, "Answered Person")
    Ticket.objects.filter(pk=done.pk).update(status=TicketStatus.RESOLVED)
    html = agent_client.get(reverse("inbox"), {"tab": "offline"}).content.decode()
    assert "Night Person" in html
    assert "Day Person" not in html and "Answered Person" not in html
    assert 'value="offline" checked' in html


def test_the_pool_tab_leaves_offline_messages_out(agent_client, account):
    _offline(account, "Night Person")
    make_ticket(account=account, customer=make_customer(name="Day Person"))
    html = agent_client.get(reverse("inbox"), {"tab": "pool"}).content.decode()
    assert "Day Person" in html and "Night Person" not in html


def test_an_assigned_ticket_is_not_made_an_offline_message(agent, account):
    ticket = make_ticket(account=account)
    ticket_assign(ticket=ticket, assignee=agent)
    assert not ticket_mark_offline(ticket_id=ticket.pk)


def test_the_offline_tab_runs_fixed_queries_for_n_and_3n_tickets(
    agent_client, account, measure_page
):
    def measure():
        page = measure_page(agent_client, reverse("inbox"), data={"tab": "offline"})
        rows = measure_page(agent_client, reverse("inbox-list"), data={"tab": "offline"}, **HTMX)
        assert page.status == rows.status == 200
        return page, rows

    for i in range(3):
        _offline(account, f"Night {i}")
    small_page, small_rows = measure()
    for i in range(6):
        _offline(account, f"Late {i}")
    large_page, large_rows = measure()
    sql = "\n".join(large_page.sql + large_rows.sql)
    assert (small_page.queries, small_rows.queries) == (large_page.queries, large_rows.queries), sql
    assert large_page.queries <= 8 and large_rows.queries <= 8, sql
    assert (small_rows.rows, large_rows.rows) == (3, 9)


def test_the_homepage_card_refetches_itself_on_an_offline_change_in_two_queries(
    agent_client, account, count_queries
):
    _offline(account, "Night Person")
    home = agent_client.get(reverse("home")).content.decode()
    assert 'hx-get="/home/offline/"' in home and "omnico:offline from:body" in home
    _offline(account, "Later Person")
    status, queries, sql = count_queries(agent_client, reverse("home-offline"), **HTMX)
    assert status == 200
    response = agent_client.get(reverse("home-offline"), **HTMX)
    html = response.content.decode()
    assert '<span class="count" data-offline-count>2</span>' in html
    assert "Later Person" in html and "Night Person" in html
    # The session and user of the signed-in agent, then the card's two.
    assert queries <= 4, "\n".join(sql)


def test_the_pushed_row_tells_the_browser_it_is_an_offline_message(account):
    ticket = _offline(account, "Night Person")
    frame = render_inbox_ticket({"ticket_id": ticket.pk}, "en")
    assert 'data-offline="1"' in frame
    other = make_ticket(account=account)
    assert 'data-offline="0"' in render_inbox_ticket({"ticket_id": other.pk}, "en")
