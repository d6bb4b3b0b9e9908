"""The visitor's socket at the end of a chat: the page is told live when the chat is over.

Drives ``omnico.asgi.application`` end to end with commits, like ``test_socket``."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from channels_adapters.webchat import aftercare
from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies
from tests.channels_adapters.webchat.conftest import say
from tests.channels_adapters.webchat.test_socket import (  # noqa: F401
    WAIT,
    opened,
    private_channel_layer,
    run,
    visitor,
)
from tests.factories import make_user
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)


async def next_frame(ws) -> dict:
    """The next frame that is not the waiting visitor's place in the queue (a ticket leaving
    the pool also moves the queue)."""
    while True:
        frame = json.loads(await ws.receive_from(timeout=WAIT))
        if frame["kind"] != "queue":
            return frame


def test_resolving_the_ticket_tells_the_visitors_page_to_ask_for_a_rating(page):
    client, cookie = visitor(page)
    say(client, page, "Hello?", "c-0000000001")
    ticket = Ticket.objects.get()
    agent = make_user("ayla", first_name="Ayla")

    async def scenario():
        ws = await opened(cookie)
        await database_sync_to_async(
            lambda: ticket_services.ticket_set_status(ticket=ticket, status="resolved", actor=agent)
        )()
        frame = await next_frame(ws)
        assert frame["kind"] == "over"
        assert "The agent closed this chat." in frame["html"]
        await ws.disconnect()

    run(scenario)


def test_a_status_change_that_leaves_the_chat_going_says_nothing(page):
    client, cookie = visitor(page)
    say(client, page, "Hello?", "c-0000000001")
    ticket = Ticket.objects.get()

    async def scenario():
        ws = await opened(cookie)
        await database_sync_to_async(
            lambda: ticket_services.ticket_set_status(ticket=ticket, status="pending")
        )()
        await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    run(scenario)


def test_ending_the_chat_in_one_tab_shows_the_rating_in_the_others(page):
    client, cookie = visitor(page)
    say(client, page, "Hello?", "c-0000000001")
    visitor_id = visitor_from_cookies({COOKIE: cookie})

    async def scenario():
        ws = await opened(cookie)
        await database_sync_to_async(
            lambda: aftercare.visitor_chat_end(account=page.channel_account, visitor_id=visitor_id)
        )()
        frame = await next_frame(ws)
        assert frame["kind"] == "over" and "You ended the chat." in frame["html"]
        await ws.disconnect()

    run(scenario)


def test_another_visitors_resolved_ticket_is_not_announced_here(page):
    one, _cookie_one = visitor(page)
    say(one, page, "Hello?", "c-0000000001")
    _two, cookie_two = visitor(page)
    ticket = Ticket.objects.get()

    async def scenario():
        ws = await opened(cookie_two)
        await database_sync_to_async(
            lambda: ticket_services.ticket_set_status(ticket=ticket, status="resolved")
        )()
        await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    run(scenario)
