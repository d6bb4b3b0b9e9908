"""The tickets list ("Messages > Ticket"): filters, sort orders, keyset pages, bulk changes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from configuration.models import Department
from inbox import selectors
from inbox.selectors import TicketFilters, ticket_list_page
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import AgentPresence, Tag, Ticket, TicketEvent, TicketStatus
from tickets.services import (
    activity_add,
    ticket_add_tag,
    ticket_assign,
    ticket_set_department,
    ticket_set_priority,
    ticket_set_status,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def _person(name: str, account=None, **kw):
    account = account or make_account()
    return make_ticket(account=account, customer=make_customer(kind=account.kind, name=name), **kw)


def _order(content: str, tickets) -> list[int]:
    found = [t.pk for t in tickets if f'id="list-row-{t.pk}"' in content]
    return sorted(found, key=lambda pk: content.index(f'id="list-row-{pk}"'))


def _walk(sort: str, limit: int = 2) -> list[int]:
    order, cursor = [], None
    while True:
        page = ticket_list_page(filters=TicketFilters(), sort=sort, cursor=cursor, limit=limit)
        order += [t.pk for t in page.items]
        if page.next_cursor is None:
            return order
        cursor = page.next_cursor


def test_sort_orders_page_by_keyset_without_repeats_or_gaps(db):
    account = make_account()
    tickets = [_person(f"S{i}", account) for i in range(5)]
    for ticket, priority in zip(tickets, ["low", "urgent", "high", "urgent", "low"], strict=True):
        ticket_set_priority(ticket=ticket, priority=priority)
    # a later message moves the first ticket to the top of "last message"
    make_ticket(account=account, customer=tickets[0].customer, body="again")

    ids = [t.pk for t in tickets]
    assert _walk("recent") == [ids[0], ids[4], ids[3], ids[2], ids[1]]
    assert _walk("created") == list(reversed(ids))
    assert _walk("priority") == [ids[1], ids[3], ids[2], ids[0], ids[4]]


def test_list_page_sorts_by_the_chosen_column_and_loads_more(agent_client, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    account = make_account()
    tickets = [_person(f"L{i}", account) for i in range(3)]
    ticket_set_priority(ticket=tickets[2], priority="low")
    ticket_set_priority(ticket=tickets[0], priority="urgent")
    page = agent_client.get(reverse("ticket-list"), {"sort": "priority"}).content.decode()
    assert _order(page, tickets) == [tickets[0].pk, tickets[1].pk]
    assert 'aria-sort="ascending"' in page
    more = page.split('id="load-more"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert "sort=priority" in more and "cursor=" in more
    rest = agent_client.get(more, **HTMX).content.decode()
    assert _order(rest, tickets) == [tickets[2].pk]
    assert "<table" not in rest  # the rows alone


def test_list_filters_by_department_tag_agent_and_search(agent_client, agent):
    sales = Department.objects.create(name="Sales")
    a = _person("Aylin Sales")
    b = _person("Bora Tagged")
    c = _person("Cansu Mine", body="iade talebi")
    ticket_set_department(ticket=a, department=sales)
    tag = ticket_add_tag(ticket=b, name="vip")
    ticket_assign(ticket=c, assignee=agent)
    ticket_set_status(ticket=a, status=TicketStatus.RESOLVED)
    everyone = [a, b, c]

    def shown(**params):
        return _order(agent_client.get(reverse("ticket-list"), params).content.decode(), everyone)

    assert shown(department=str(sales.pk)) == [a.pk]  # resolved tickets are listed here
    assert shown(tag=str(tag.pk)) == [b.pk]
    assert shown(assignee=str(agent.pk)) == [c.pk]
    assert shown(assignee="none", status="open") == [b.pk]
    assert shown(q="iade") == [c.pk]


# --- bulk changes ---------------------------------------------------------------------------


def _bulk(client, tickets, follow=True, **data):
    payload = {"ids": [t.pk for t in tickets], **data}
    return client.post(reverse("tickets-bulk"), payload, follow=follow)


def test_bulk_resolve_reports_each_refusal_and_changes_the_rest(agent_client, agent):
    tickets = [_person(f"B{i}") for i in range(4)]
    blocked = tickets[2]
    activity_add(ticket=blocked, call_reason="Geri arama", actor=agent)

    response = _bulk(agent_client, tickets, action="status", status="resolved")
    content = response.content.decode()

    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert [statuses[t.pk] for t in tickets] == ["resolved", "resolved", "open", "resolved"]
    assert "3 tickets updated." in content
    assert f"#{blocked.pk}" in content and "Geri arama" in content
    assert "toast-warning" in content
    # every change is in the history, by the agent who made it
    assert TicketEvent.objects.filter(kind="status", actor=agent).count() == 3


def test_bulk_assign_and_unassign(agent_client, agent):
    tickets = [_person(f"A{i}") for i in range(2)]
    other = make_user("agent-b")
    AgentPresence.objects.create(user=other, is_active=True)  # only active agents get tickets
    _bulk(agent_client, tickets, action="assign", assignee=str(other.pk))
    assert set(Ticket.objects.values_list("assignee_id", flat=True)) == {other.pk}
    content = _bulk(agent_client, tickets, action="assign", assignee="").content.decode()
    assert set(Ticket.objects.values_list("assignee_id", flat=True)) == {None}
    assert "2 tickets updated." in content and "toast-success" in content


def test_bulk_add_tag_creates_it_once(agent_client):
    tickets = [_person(f"T{i}") for i in range(3)]
    _bulk(agent_client, tickets, action="tag", tag="  Kargo  ")
    tag = Tag.objects.get()
    assert tag.name == "Kargo"
    assert tag.tickets.count() == 3


@pytest.mark.parametrize(
    "data",
    [
        {"action": "status"},  # no status chosen
        {"action": "status", "status": "nonsense"},
        {"action": "tag", "tag": "   "},
        {"action": "explode"},
    ],
)
def test_bulk_with_bad_input_changes_nothing_and_says_why(agent_client, data):
    ticket = _person("Unchanged")
    content = _bulk(agent_client, [ticket], **data).content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN and not ticket.tags.exists()
    assert "toast-error" in content


def test_bulk_without_tickets_is_refused(agent_client, db):
    response = agent_client.post(
        reverse("tickets-bulk"), {"action": "status", "status": "closed"}, follow=True
    )
    assert "toast-error" in response.content.decode()


def test_bulk_returns_to_the_same_filtered_list(agent_client):
    ticket = _person("Back")
    response = _bulk(
        agent_client,
        [ticket],
        follow=False,
        action="status",
        status="pending",
        query="status=open&channel=telegram&cursor=123.4",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("ticket-list") + "?status=open&channel=telegram"


def test_bulk_needs_a_signed_in_agent_and_a_post(agent_client, db):
    ticket = _person("Guarded")
    response = Client().post(reverse("tickets-bulk"), {"ids": [ticket.pk], "action": "status"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert agent_client.get(reverse("tickets-bulk")).status_code == 405


def test_bulk_reports_tickets_that_do_not_exist(agent_client):
    ticket = _person("Real")
    response = agent_client.post(
        reverse("tickets-bulk"),
        {"ids": [ticket.pk, 999999], "action": "status", "status": "pending"},
        follow=True,
    )
    content = response.content.decode()
    assert "1 ticket updated." in content and "#999999" in content


def test_list_escapes_customer_text(agent_client):
    evil = "<script>alert(1)</script>"
    ticket = _person(f"Eve {evil}", body=evil)
    ticket_add_tag(ticket=ticket, name=evil)
    content = agent_client.get(reverse("ticket-list")).content.decode()
    assert evil not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


# --- query counts -------------------------------------------------------------------------


def _grow(n: int, agent) -> None:
    department = Department.objects.get_or_create(name="Support")[0]
    for i in range(n):
        ticket = _person(f"Grow {i}", make_account(kind=("telegram", "email")[i % 2]))
        ticket_set_department(ticket=ticket, department=department)
        if i % 2:
            ticket_assign(ticket=ticket, assignee=make_user())
        for k in range(1 + i % 3):
            ticket_add_tag(ticket=ticket, name=f"tag{k}")


@pytest.mark.parametrize(
    "params",
    [{}, {"sort": "priority"}, {"sort": "created", "channel": "telegram"}, {"q": "Grow"}],
)
def test_ticket_list_runs_fixed_queries_for_n_and_3n_tickets(
    agent_client, agent, measure_page, params
):
    _grow(4, agent)
    small = measure_page(agent_client, reverse("ticket-list"), data=params)
    assert small.status == 200
    _grow(8, agent)
    large = measure_page(agent_client, reverse("ticket-list"), data=params)
    assert large.status == 200
    assert small.queries == large.queries, "\n".join(large.sql)
    assert large.queries <= 9, "\n".join(large.sql)
    # the filter matched rows both times, more of them the second time
    assert 0 < small.rows < large.rows
