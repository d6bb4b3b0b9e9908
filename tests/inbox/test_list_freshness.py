"""The inbox list's check on its socket's first hello: 204 while the list a page rendered is still
current, the list itself when a ticket arrived or changed between the render and the join."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox import list_freshness
from tests.factories import make_customer, make_ticket, make_user
from tickets.models import Ticket
from tickets.services import ticket_assign, ticket_set_priority

HTMX = {"HTTP_HX_REQUEST": "true"}
#: The check of a list nothing changed since: the session, the user, one indexed EXISTS.
CHECK_QUERIES = 3


def _attr(content: str, name: str) -> str:
    found = re.search(rf'id="inbox-list"[^>]*?{name}="([^"]*)"', content, re.S)
    assert found, f"no {name} on #inbox-list"
    return html.unescape(found.group(1))


def _render(client, **filters) -> dict:
    """The list as a page renders it: its rows, its render time and digest."""
    content = client.get(reverse("inbox"), filters).content.decode()
    return {
        "content": content,
        "live_since": _attr(content, "data-live-since"),
        "live_digest": _attr(content, "data-live-digest"),
    }


def _check(client, shown: dict, **filters):
    params = {**filters, "live_since": shown["live_since"], "live_digest": shown["live_digest"]}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("inbox-list"), params, **HTMX)
    return response, [q["sql"] for q in ctx]


def _settled() -> None:
    """Every ticket so far changed long before the page is rendered."""
    Ticket.objects.update(updated_at=timezone.now() - timedelta(minutes=5))


def _person(name: str, account) -> Ticket:
    return make_ticket(account=account, customer=make_customer(kind=account.kind, name=name))


def test_nothing_changed_since_the_render_answers_204_in_one_indexed_query(agent_client, account):
    _person("Ayla", account)
    _settled()
    shown = _render(agent_client, tab="all")
    assert "Ayla" in shown["content"]

    response, sql = _check(agent_client, shown, tab="all")

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert len(sql) <= CHECK_QUERIES, "\n".join(sql)
    assert "updated_at" in sql[-1]


def test_a_ticket_that_arrived_after_the_render_is_in_the_answer(agent_client, account):
    _person("Ayla", account)
    _settled()
    shown = _render(agent_client, tab="all")
    newcomer = _person("Zeynep", account)  # between the render and the socket's join

    response, sql = _check(agent_client, shown, tab="all")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="ticket-row-{newcomer.pk}"' in content and "Zeynep" in content
    assert 'id="inbox-list"' in content  # the whole list, swapped in place of the old one
    plain = CaptureQueriesContext(connection)
    with plain:
        agent_client.get(reverse("inbox-list"), {"tab": "all"}, **HTMX)
    assert len(sql) <= len(plain) + 1, "\n".join(sql)  # the list's own queries and the check


def test_a_ticket_that_left_the_filter_after_the_render_is_gone_from_the_answer(
    agent_client, agent, account
):
    ticket = _person("Ayla", account)
    _settled()
    shown = _render(agent_client, tab="unassigned")
    assert f'id="ticket-row-{ticket.pk}"' in shown["content"]
    ticket_assign(ticket=ticket, assignee=make_user("other"), actor=agent)

    response, _sql = _check(agent_client, shown, tab="unassigned")

    assert response.status_code == 200
    assert f'id="ticket-row-{ticket.pk}"' not in response.content.decode()


def test_a_row_that_changed_after_the_render_is_answered_in_its_new_state(
    agent_client, agent, account
):
    ticket = _person("Ayla", account)
    _settled()
    shown = _render(agent_client, tab="all")
    ticket_set_priority(ticket=ticket, priority="urgent", actor=agent)

    response, _sql = _check(agent_client, shown, tab="all")

    assert response.status_code == 200
    assert "prio-urgent" in response.content.decode()


def test_a_change_committed_late_but_stamped_before_the_render_is_not_missed(agent_client, account):
    """A writer stamps updated_at before it commits: the check looks back MARGIN further."""
    _person("Ayla", account)
    _settled()
    shown = _render(agent_client, tab="all")
    late = _person("Zeynep", account)
    Ticket.objects.filter(pk=late.pk).update(
        updated_at=timezone.now() - list_freshness.MARGIN / 2 - timedelta(seconds=1)
    )

    response, _sql = _check(agent_client, shown, tab="all")

    assert response.status_code == 200
    assert f'id="ticket-row-{late.pk}"' in response.content.decode()


def test_a_change_that_leaves_the_rows_shown_as_they_were_swaps_nothing(
    agent_client, agent, account
):
    """A ticket outside the list changed and stays outside: the rows are the same, 204."""
    mine = _person("Ayla", account)
    ticket_assign(ticket=mine, assignee=agent, actor=agent)
    other = _person("Zeynep", account)
    _settled()
    shown = _render(agent_client, tab="mine")
    ticket_assign(ticket=other, assignee=make_user("other"), actor=agent)

    response, _sql = _check(agent_client, shown, tab="mine")

    assert response.status_code == 204


def test_without_a_render_time_the_list_answers_as_before(agent_client, account):
    ticket = _person("Ayla", account)
    _settled()
    response = agent_client.get(reverse("inbox-list"), {"tab": "all", "live_since": "x"}, **HTMX)
    assert response.status_code == 200
    assert f'id="ticket-row-{ticket.pk}"' in response.content.decode()


# --- the open conversation: the same window, between its render and the socket's watch -------


def _conversation_shown(client, ticket) -> str:
    content = client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    found = re.search(rf'id="conversation-{ticket.pk}"[^>]*?data-live-since="(\d+)"', content)
    assert found, "the conversation carries no render time"
    return found.group(1)


def _conversation_check(client, ticket, since: str):
    url = reverse("ticket-conversation", args=[ticket.pk])
    return client.get(url, {"thread": "1", "live_since": since}, **HTMX)


def test_the_conversations_check_answers_204_while_its_ticket_did_not_change(agent_client, account):
    ticket = _person("Ayla", account)
    _settled()
    since = _conversation_shown(agent_client, ticket)

    response = _conversation_check(agent_client, ticket, since)

    assert response.status_code == 204


def test_a_message_after_the_conversations_render_is_in_the_check_answer(agent_client, account):
    ticket = _person("Ayla", account)
    _settled()
    since = _conversation_shown(agent_client, ticket)
    make_ticket(account=account, customer=ticket.customer, body="Arada gelen mesaj")

    response = _conversation_check(agent_client, ticket, since)

    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="conversation-{ticket.pk}"' in content and "Arada gelen mesaj" in content
