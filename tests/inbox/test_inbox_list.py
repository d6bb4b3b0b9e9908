"""The universal inbox column: tabs, filters, search, keyset "load more", live-ready rows."""

from __future__ import annotations

import html
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from configuration.models import Department
from customers.services import customer_resolve
from inbox import selectors
from inbox.selectors import TicketFilters, cursor_encode, inbox_row, inbox_rows
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import Tag, Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive
from tickets.services import (
    ticket_add_tag,
    ticket_assign,
    ticket_set_department,
    ticket_set_priority,
    ticket_set_status,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def _rows(client, **params) -> str:
    return client.get(reverse("inbox-list"), params, **HTMX).content.decode()


def _ids_in_order(content: str, tickets) -> list[int]:
    found = [t.pk for t in tickets if f'id="ticket-row-{t.pk}"' in content]
    return sorted(found, key=lambda pk: content.index(f'id="ticket-row-{pk}"'))


def _person(name: str, account, **kw):
    return make_ticket(account=account, customer=make_customer(kind=account.kind, name=name), **kw)


def test_inbox_is_the_agent_screen_with_list_filters_and_ticket_pane(agent_client, account):
    _person("Ayla Yılmaz", account)
    content = agent_client.get(reverse("inbox"), {"tab": "all"}).content.decode()
    for part in ('id="inbox-list"', 'id="ticket-pane"', 'id="inbox-filters"', 'name="q"'):
        assert part in content, part
    # the list re-fetches itself (with the current filters) when the socket reconnects
    assert 'hx-trigger="resync"' in content and 'hx-include="#inbox-filters"' in content
    assert "Ayla Yılmaz" in content


def test_rows_open_the_ticket_in_the_pane_and_push_its_address(agent_client, account):
    ticket = _person("Cem", account)
    content = _rows(agent_client, tab="all")
    url = reverse("ticket-detail", args=[ticket.pk])
    assert f'href="{url}"' in content and f'hx-get="{url}"' in content
    assert 'hx-target="#ticket-pane"' in content and 'hx-push-url="true"' in content


def test_pool_tab_lists_waiting_tickets_most_urgent_first_then_oldest(agent_client, agent):
    account = make_account()
    old_low = _person("Old Low", account)
    urgent = _person("Urgent One", account)
    new_low = _person("New Low", account)
    mine = _person("Mine", account)
    waiting = _person("Waiting", account)
    ticket_set_priority(ticket=old_low, priority="low")
    ticket_set_priority(ticket=new_low, priority="low")
    ticket_set_priority(ticket=urgent, priority="urgent")
    ticket_assign(ticket=mine, assignee=agent)
    ticket_set_status(ticket=waiting, status=TicketStatus.WAITING_ON_CUSTOMER)
    everyone = [old_low, urgent, new_low, mine, waiting]

    assert _ids_in_order(_rows(agent_client, tab="pool"), everyone) == [
        urgent.pk,
        old_low.pk,
        new_low.pk,
    ]
    # "unassigned" is every active unassigned ticket, newest conversation first
    unassigned = _ids_in_order(_rows(agent_client, tab="unassigned"), everyone)
    assert unassigned == [waiting.pk, new_low.pk, urgent.pk, old_low.pk]
    assert _ids_in_order(_rows(agent_client, tab="mine"), everyone) == [mine.pk]


def test_filters_by_status_channel_department_and_tag(agent_client, db):
    telegram, email = make_account(kind="telegram"), make_account(kind="email")
    sales = Department.objects.create(name="Sales")
    tele = _person("Tele", telegram)
    mail = _person("Mail", email)
    pending = _person("Pending", telegram)
    ticket_set_status(ticket=pending, status=TicketStatus.PENDING)
    ticket_set_department(ticket=mail, department=sales)
    tag = ticket_add_tag(ticket=tele, name="VIP")
    everyone = [tele, mail, pending]

    def shown(**params):
        return _ids_in_order(_rows(agent_client, tab="all", **params), everyone)

    assert shown(channel="email") == [mail.pk]
    assert shown(status="pending") == [pending.pk]
    assert shown(department=str(sales.pk)) == [mail.pk]
    assert shown(tag=str(tag.pk)) == [tele.pk]
    assert shown(channel="telegram", tag=str(tag.pk)) == [tele.pk]
    assert shown(tag="vip") == [tele.pk]  # the tag filter takes a name, in any case
    assert shown(tag="nobody's tag") == []
    assert shown(channel="bogus") == [pending.pk, mail.pk, tele.pk]  # bad values ignored


def test_resolved_tickets_stay_out_of_the_inbox_unless_their_status_is_asked_for(agent_client):
    ticket = _person("Done Deal", make_account())
    ticket_set_status(ticket=ticket, status=TicketStatus.RESOLVED)
    assert "Done Deal" not in _rows(agent_client, tab="all")
    assert "Done Deal" in _rows(agent_client, tab="all", status="resolved")


def test_search_finds_customer_by_name_phone_email_and_identity(agent_client, db):
    account = make_account(kind="whatsapp")
    phone = customer_resolve(kind="whatsapp", external_id="905321112233", name="Deniz Ak")
    by_phone = make_ticket(account=account, customer=phone)
    mail_account = make_account(kind="email")
    mailer = customer_resolve(
        kind="email", external_id="selin@example.com", name="Selin", email="selin@example.com"
    )
    by_mail = make_ticket(account=mail_account, customer=mailer)
    other = _person("Someone Else", account)
    everyone = [by_phone, by_mail, other]

    def found(q):
        return _ids_in_order(_rows(agent_client, tab="all", q=q), everyone)

    assert found("deniz") == [by_phone.pk]
    assert found("5321112") == [by_phone.pk]
    assert found("selin@example") == [by_mail.pk]
    assert found(f"#{other.pk}") == [other.pk]


def test_search_finds_message_text_including_older_messages(agent_client, account):
    customer = make_customer(name="Kargo Müşterisi")
    ticket = make_ticket(account=account, customer=customer, body="Kargom hâlâ gelmedi")
    ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Merhaba", external_id="x2"),
    )
    other = _person("Other", account, body="Fatura sorusu")
    everyone = [ticket, other]

    assert _ids_in_order(_rows(agent_client, tab="all", q="gelmedi"), everyone) == [ticket.pk]
    # a word prefix is enough (full-text prefix match on PostgreSQL, substring on SQLite)
    assert _ids_in_order(_rows(agent_client, tab="all", q="fatur"), everyone) == [other.pk]
    assert _ids_in_order(_rows(agent_client, tab="all", q="kargom gelmedi"), everyone) == [
        ticket.pk
    ]


@pytest.mark.parametrize("q", ["a & | ! ( ) :* '", "<script>", "%_%", "   "])
def test_search_with_punctuation_or_markup_is_safe(agent_client, account, q):
    _person("Plain", account)
    response = agent_client.get(reverse("inbox-list"), {"tab": "all", "q": q}, **HTMX)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_load_more_pages_by_keyset_without_repeats(agent_client, account, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    tickets = [_person(f"P{i}", account) for i in range(5)]
    seen: list[int] = []
    url = reverse("inbox-list") + "?tab=all"
    for _ in range(5):
        content = agent_client.get(url, **HTMX).content.decode()
        seen += _ids_in_order(content, tickets)
        if 'id="load-more"' not in content:
            break
        load_more = content.split('id="load-more"')[1]
        url = load_more.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
        assert "cursor=" in url and "tab=all" in url and "OFFSET" not in url
    assert seen == [t.pk for t in reversed(tickets)]


def test_pool_pages_continue_in_priority_order(account):
    tickets = [_person(f"Q{i}", account) for i in range(5)]
    for ticket, priority in zip(
        tickets, ["low", "urgent", "high", "urgent", "medium"], strict=True
    ):
        ticket_set_priority(ticket=ticket, priority=priority)
    order, cursor = [], None
    while True:
        page = inbox_rows(user=None, filters=TicketFilters(tab="pool"), cursor=cursor, limit=2)
        order += [t.pk for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [tickets[i].pk for i in (1, 3, 2, 4, 0)]
    assert order == expected


def test_tickets_without_messages_come_last_and_page_correctly(account):
    tickets = [_person(f"N{i}", account) for i in range(3)]
    Ticket.objects.filter(pk__in=[tickets[0].pk, tickets[1].pk]).update(last_message_at=None)
    Ticket.objects.filter(pk=tickets[2].pk).update(
        last_message_at=timezone.now() - timedelta(days=1)
    )
    order, cursor = [], None
    for _ in range(4):
        page = inbox_rows(user=None, filters=TicketFilters(tab="all"), cursor=cursor, limit=1)
        order += [t.pk for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert order == [tickets[2].pk, tickets[1].pk, tickets[0].pk]


def test_changing_filters_keeps_the_address_bar_in_step(agent_client, account):
    ticket = _person("Open One", account)
    response = agent_client.get(
        reverse("inbox-list"),
        {"tab": "all", "channel": "telegram"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER="inbox-filters",
        HTTP_HX_CURRENT_URL=f"http://testserver/inbox/{ticket.pk}/?tab=mine",
    )
    assert response["HX-Push-Url"] == f"/inbox/{ticket.pk}/?tab=all&channel=telegram"
    # load more and resync leave the address alone
    resync = agent_client.get(reverse("inbox-list"), {"tab": "all"}, HTTP_HX_REQUEST="true")
    assert "HX-Push-Url" not in resync


def test_inbox_with_ticket_parameter_opens_that_ticket(agent_client, account):
    ticket = _person("Linked", account)
    response = agent_client.get(reverse("inbox"), {"ticket": ticket.pk, "tab": "all"})
    assert response.status_code == 302
    assert response["Location"] == reverse("ticket-detail", args=[ticket.pk]) + "?tab=all"


def test_a_row_is_the_same_for_every_agent(account, agent):
    ticket = _person("Shared Row", account)
    ticket_assign(ticket=ticket, assignee=agent)
    ticket_add_tag(ticket=ticket, name="iade")
    row = inbox_row(ticket.pk)
    html = render_to_string("inbox/list/row.html", {"ticket": row})
    assert f'id="ticket-row-{ticket.pk}"' in html
    assert "Shared Row" in html and "iade" in html and "agent-a" in html
    assert f'data-assignee="{agent.pk}"' in html
    other = make_user("agent-other")
    from django.test import Client

    first, second = Client(), Client()
    first.force_login(agent)
    second.force_login(other)
    mine = _rows(first, tab="all").split(f'id="ticket-row-{ticket.pk}"')[1].split("</li>")[0]
    theirs = _rows(second, tab="all").split(f'id="ticket-row-{ticket.pk}"')[1].split("</li>")[0]
    assert mine == theirs


def test_inbox_row_of_a_missing_ticket_is_none(db):
    assert inbox_row(987654) is None


def test_customer_text_and_tags_are_escaped_in_rows(agent_client, account):
    evil = "<img src=x onerror=alert(1)>"
    ticket = _person(f"Eve {evil}", account, body=f"hello {evil}")
    ticket_add_tag(ticket=ticket, name=evil)
    content = _rows(agent_client, tab="all", q="Eve")
    assert evil not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content


def test_list_endpoint_needs_a_signed_in_agent(client, db):
    response = client.get(reverse("inbox-list"), HTMX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- query counts -------------------------------------------------------------------------


def _grow(n: int, agent) -> None:
    accounts = [make_account(kind=kind) for kind in ("telegram", "email", "whatsapp")]
    department = Department.objects.get_or_create(name="Support")[0]
    for i in range(n):
        account = accounts[i % 3]
        ticket = _person(f"Grow {i}", account)
        if i % 2:
            ticket_assign(ticket=ticket, assignee=agent)
        ticket_set_department(ticket=ticket, department=department)
        for k in range(1 + i % 4):  # every ticket has tag0 (a row for each filter below)
            ticket_add_tag(ticket=ticket, name=f"tag{k}")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"tab": "all"},
        {"tab": "pool"},
        {"tab": "unassigned", "channel": "telegram", "tag": "TAG"},
        {"tab": "all", "q": "Grow"},
    ],
)
def test_inbox_page_and_rows_run_fixed_queries_for_n_and_3n_tickets(
    agent_client, agent, measure_page, params
):
    def measure():
        if params.get("tag") == "TAG":
            params["tag"] = str(Tag.objects.get(name="tag0").pk)
        page = measure_page(agent_client, reverse("inbox"), data=params)
        assert page.status == 200
        rows = measure_page(agent_client, reverse("inbox-list"), data=params, **HTMX)
        assert rows.status == 200
        return page, rows

    _grow(4, agent)
    small_page, small_rows = measure()
    _grow(8, agent)
    large_page, large_rows = measure()
    sql = "\n".join(large_page.sql + large_rows.sql)
    assert (small_page.queries, small_rows.queries) == (large_page.queries, large_rows.queries), sql
    assert large_page.queries <= 8 and large_rows.queries <= 8, sql
    # each filter was measured on rows it matches, and on more of them the second time
    assert 0 < small_page.rows < large_page.rows
    assert 0 < small_rows.rows < large_rows.rows


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_message_search_uses_the_full_text_index_on_postgresql(account):
    _person("Indexed", account, body="paketim kayboldu")
    matches = selectors._message_matches("kayb")
    assert list(matches.values_list("body", flat=True)) == ["paketim kayboldu"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = matches.values("ticket_id").query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_body_fts" in plan, plan


def test_list_tells_the_live_updates_its_filters_and_each_row_its_place(agent_client, account):
    ticket = _person("Placed", account)
    ticket_set_priority(ticket=ticket, priority="urgent")
    content = _rows(agent_client, tab="pool", channel="telegram")
    # a filter change or resync replaces the whole list, filters included
    assert content.lstrip().startswith('<ul id="inbox-list"') or 'id="inbox-list"' in content
    raw = content.split('data-live-filter="')[1].split('"')[0]
    live = json.loads(html.unescape(raw))
    assert live == {
        "tab": "pool",
        "status": "",
        "channel": "telegram",
        "department": "",
        "tag": "",
        "q": "",
        "sort": "priority",
    }
    ticket.refresh_from_db()
    assert f'data-sort="{cursor_encode(ticket, "priority")}"' in content
    assert f'data-sort-recent="{cursor_encode(ticket)}"' in content
