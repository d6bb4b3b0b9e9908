"""Waiting in the pool on the support page: the visitor's place and estimated wait, on the
page as rendered and pushed live over the visitor's socket as the pool moves."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from channels_adapters.webchat.selectors import visitor_pool_entered_at
from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies
from tests.channels_adapters.webchat.conftest import say, start
from tests.channels_adapters.webchat.test_socket import (  # noqa: F401 - fixture
    WAIT,
    opened,
    private_channel_layer,
)
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CID = "0b0e2f9c-1111-4c4c-9d9d-00000000000{}"


def waiting_visitor(page, n: int, capture) -> tuple[Client, Ticket]:
    """A visitor who wrote once; no agent is free, so their ticket waits in the pool."""
    client = start(Client(), page, name=f"Visitor {n}")
    with capture(execute=True):
        assert say(client, page, "Anyone there?", CID.format(n))["status"] == 200
    return client, Ticket.objects.order_by("-pk").first()


def test_a_waiting_visitor_sees_their_place_and_no_invented_wait(
    page, django_capture_on_commit_callbacks, django_assert_num_queries
):
    make_ticket()  # someone else is ahead
    client, _ticket = waiting_visitor(page, 1, django_capture_on_commit_callbacks)

    with django_assert_num_queries(10):  # the page itself is remembered (settings_memo)
        html = client.get("/support/help/").content.decode()

    assert "All our agents are busy right now." in html
    assert "You are number 2 in the queue." in html
    assert "An agent will be with you as soon as one is free." in html  # no history yet


def test_the_wait_is_estimated_from_recent_assignments(page, django_capture_on_commit_callbacks):
    now = timezone.now()
    for minutes in (30 - 1, 20, 10):  # three left the pool in the last 29 minutes
        done = make_ticket()
        Ticket.objects.filter(pk=done.pk).update(
            assignee=make_user(),
            assigned_at=now - timedelta(minutes=minutes),
            pool_entered_at=now - timedelta(minutes=minutes + 5),
        )
    make_ticket()
    client, _ticket = waiting_visitor(page, 1, django_capture_on_commit_callbacks)

    html = client.get("/support/help/").content.decode()

    # one leaves about every 29/3 minutes: the second in line waits about 20 minutes
    assert "You are number 2 in the queue." in html
    assert "Estimated wait: about 20 minutes." in html


def test_the_place_in_turkish(page, django_capture_on_commit_callbacks):
    client, _ticket = waiting_visitor(page, 1, django_capture_on_commit_callbacks)

    html = client.get("/support/help/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()

    assert "Sırada 1. sıradasınız." in html
    assert "Şu anda tüm temsilcilerimiz meşgul." in html


def test_no_queue_panel_once_an_agent_has_the_chat(page, django_capture_on_commit_callbacks):
    client, ticket = waiting_visitor(page, 1, django_capture_on_commit_callbacks)
    ticket_services.ticket_assign(ticket=ticket, assignee=make_user(first_name="Ayla"))

    html = client.get("/support/help/").content.decode()

    assert "data-queue " in html and "in the queue" not in html
    assert 'aria-live="polite" hidden>' in html


def test_the_queue_fragment_is_the_visitors_own_place(
    page, django_capture_on_commit_callbacks, django_assert_num_queries
):
    first, _ = waiting_visitor(page, 1, django_capture_on_commit_callbacks)
    second, _ = waiting_visitor(page, 2, django_capture_on_commit_callbacks)

    with django_assert_num_queries(3):  # the page itself is remembered (settings_memo)
        fragment = second.get("/support/help/queue/").content.decode()

    assert "You are number 2 in the queue." in fragment
    assert "You are number 1 in the queue." in first.get("/support/help/queue/").content.decode()
    assert Client().get("/support/help/queue/").status_code == 404  # no visitor


def test_when_the_visitors_ticket_entered_the_pool(page, django_capture_on_commit_callbacks):
    client, ticket = waiting_visitor(page, 1, django_capture_on_commit_callbacks)
    visitor = visitor_from_cookies({COOKIE: client.cookies[COOKIE].value})
    account_id = page.channel_account_id

    assert visitor_pool_entered_at(account_id=account_id, visitor_id=visitor) == (
        ticket.pool_entered_at
    )
    ticket_services.ticket_assign(ticket=ticket, assignee=make_user())
    assert visitor_pool_entered_at(account_id=account_id, visitor_id=visitor) is None


# --- live -----------------------------------------------------------------------------------


def _visitor_live(page, n: int) -> tuple[str, Ticket]:
    client = start(Client(), page, name=f"Visitor {n}")
    say(client, page, "Anyone there?", CID.format(n))
    return client.cookies[COOKIE].value, Ticket.objects.order_by("-pk").first()


async def _frame(ws) -> dict:
    return json.loads(await ws.receive_from(timeout=WAIT))


@pytest.mark.django_db(transaction=True)
def test_the_waiting_visitors_place_moves_live_and_the_panel_goes_when_an_agent_joins(page):
    _first_cookie, first = _visitor_live(page, 1)
    cookie, second = _visitor_live(page, 2)
    agent = make_user("ayla.d", first_name="Ayla", last_name="Demir")
    urgent = make_ticket()  # arrived after this visitor

    async def scenario():
        ws = await opened(cookie)
        # the ticket ahead is taken: this visitor is next
        await database_sync_to_async(ticket_services.ticket_assign)(ticket=first, assignee=agent)
        frame = await _frame(ws)
        assert frame["kind"] == "queue" and frame["position"] == 1
        assert frame["text"] == "You are number 1 in the queue."
        # a ticket behind is made urgent: it goes ahead
        await database_sync_to_async(ticket_services.ticket_set_priority)(
            ticket=urgent, priority="urgent"
        )
        assert (await _frame(ws))["position"] == 2
        # an agent takes this visitor: the joined line, and the panel goes
        await database_sync_to_async(ticket_services.ticket_assign)(ticket=second, assignee=agent)
        frames = [await _frame(ws), await _frame(ws)]
        joined = next(f for f in frames if f["kind"] == "system")
        assert joined["joined"] is True and "Ayla Demir joined the chat." in joined["html"]
        assert {"kind": "queue", "position": None} in frames
        await ws.receive_nothing(timeout=0.5)  # nothing more: the socket left the pool's group
        await ws.disconnect()

    async_to_sync(scenario)()
