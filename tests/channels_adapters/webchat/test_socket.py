"""The visitor's websocket: only the cookie's visitor, their replies live, acks, origins.

Drives ``omnico.asgi.application`` end to end (origin check, cookies, routing, consumer, the
process's realtime hub), with commits (``transaction=True``) so pushes happen.
"""

from __future__ import annotations

import copy
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from channels_adapters.services import reply_send
from channels_adapters.webchat.consumers import CLOSE_NO_VISITOR
from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies
from customers.models import Identity
from omnico.asgi import application
from omnico.core import realtime
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets import services as ticket_services
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5


@pytest.fixture(autouse=True)
def private_channel_layer(settings):
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "redis" in layers["default"]["BACKEND"].lower():
        layers["default"].setdefault("CONFIG", {})["prefix"] = f"t{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers


def visitor_socket(
    cookie: str | None, *, origin: str = "http://testserver", name: str = "help"
) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if cookie:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/visitor/{name}/", headers=headers)


def visitor(page) -> tuple[Client, str]:
    client = start(Client(), page, name="Ayşe")
    return client, client.cookies[COOKIE].value


def run(scenario) -> None:
    async_to_sync(scenario)()


async def opened(cookie: str) -> WebsocketCommunicator:
    realtime.flush()
    ws = visitor_socket(cookie)
    ok, _code = await ws.connect(timeout=WAIT)
    assert ok
    assert json.loads(await ws.receive_from(timeout=WAIT)) == {"kind": "hello"}
    return ws


def test_the_agents_reply_arrives_live_and_the_ack_marks_it_delivered(page):
    client, cookie = visitor(page)
    say(client, page, "Hello?", "c-0000000001")
    ticket = Ticket.objects.get()
    agent = make_user("ayla", first_name="Ayla")

    async def scenario():
        ws = await opened(cookie)
        reply = await _reply(ticket, agent, "Hi <there>")
        frame = json.loads(await ws.receive_from(timeout=WAIT))
        assert frame["kind"] == "message" and frame["id"] == reply.pk
        assert "Hi &lt;there&gt;" in frame["html"]
        await ws.send_to(text_data=json.dumps({"action": "ack", "message": reply.pk}))
        await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return reply.pk

    run(scenario)
    assert Message.objects.filter(direction="out").get().delivery == "delivered"


def test_an_agent_joining_is_a_line_with_their_display_name(page):
    client, cookie = visitor(page)
    say(client, page, "Hello?", "c-0000000001")
    ticket = Ticket.objects.get()
    agent = make_user("ayla.username", first_name="Ayla", last_name="Demir")

    async def scenario():
        ws = await opened(cookie)
        await _assign(ticket, agent)
        frame = json.loads(await ws.receive_from(timeout=WAIT))
        assert frame["kind"] == "system"
        assert "Ayla Demir joined the chat." in frame["html"]
        assert "ayla.username" not in frame["html"]
        await ws.disconnect()

    run(scenario)


def test_another_visitors_reply_never_reaches_this_socket(page):
    one, _cookie_one = visitor(page)
    say(one, page, "mine", "c-0000000001")
    _two, cookie_two = visitor(page)
    ticket = Ticket.objects.get()
    agent = make_user()

    async def scenario():
        ws = await opened(cookie_two)
        await _reply(ticket, agent, "for visitor one only")
        await ws.receive_nothing(timeout=1)
        await ws.disconnect()

    run(scenario)


def test_a_forged_ack_for_another_visitors_reply_changes_nothing(page):
    one, _cookie = visitor(page)
    say(one, page, "mine", "c-0000000001")
    _two, cookie_two = visitor(page)
    ticket = Ticket.objects.get()
    reply = reply_send(ticket=ticket, author=make_user(), body="for one")
    reply.refresh_from_db()
    assert reply.delivery == "sent"

    async def scenario():
        ws = await opened(cookie_two)
        await ws.send_to(text_data=json.dumps({"action": "ack", "message": reply.pk}))
        await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()

    run(scenario)
    reply.refresh_from_db()
    assert reply.delivery == "sent"


def test_a_socket_without_a_signed_cookie_is_closed(page):
    _client, cookie = visitor(page)
    bare = Identity.objects.filter(kind="webchat").values_list("external_id", flat=True).first()

    async def scenario():
        for forged in (None, bare or "x" * 20, cookie + "x"):
            ws = visitor_socket(forged)
            ok, _code = await ws.connect(timeout=WAIT)
            assert ok
            closed = await ws.receive_output(timeout=WAIT)
            assert closed == {"type": "websocket.close", "code": CLOSE_NO_VISITOR}

    run(scenario)


@pytest.mark.parametrize("path", ["/ws/visitor/help/", "/ws/agent/"])
@pytest.mark.parametrize(
    "origin", ["http://testserver:9999", "https://testserver", "http://evil.example", ""]
)
def test_a_socket_from_another_origin_is_refused(page, path, origin):
    _client, cookie = visitor(page)
    agent = Client()
    agent.force_login(make_user())
    session = agent.cookies[django_settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    headers.append(
        (b"cookie", f"{COOKIE}={cookie}; {django_settings.SESSION_COOKIE_NAME}={session}".encode())
    )

    async def scenario():
        ws = WebsocketCommunicator(application, path, headers=headers)
        ok, _code = await ws.connect(timeout=WAIT)
        assert not ok

    run(scenario)


def test_a_trusted_origin_on_its_own_port_is_accepted(page, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["http://testserver:9999"]
    _client, cookie = visitor(page)

    async def scenario():
        ws = visitor_socket(cookie, origin="http://testserver:9999")
        ok, _code = await ws.connect(timeout=WAIT)
        assert ok
        await ws.disconnect()

    run(scenario)


async def _reply(ticket, agent, body):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: reply_send(ticket=ticket, author=agent, body=body)
    )()


async def _assign(ticket, agent):
    from channels.db import database_sync_to_async

    def assign():
        ticket_services.ticket_assign(ticket=ticket, assignee=agent, actor=agent)

    await database_sync_to_async(assign)()


def test_replies_the_channel_layer_dropped_make_the_support_page_re_fetch(page):
    """channels-redis drops a message silently when the receiving channel is full; the numbers
    the realtime module puts on what it sends show the gap, and the visitor's page re-fetches
    its conversation instead of missing the agent's reply."""
    client, cookie = visitor(page)
    group = realtime.visitor_group(visitor_from_cookies({COOKIE: cookie}))
    sequence = realtime._Sequence()

    async def scenario():
        ws = await opened(cookie)
        layer = realtime.get_channel_layer()
        await layer.group_send(group, sequence.stamp(group, {"type": "visitor.unknown"}))
        await ws.receive_nothing(timeout=0.3)
        sequence.stamp(group, {"type": "visitor.message", "message_id": 0})  # never arrives
        await layer.group_send(group, sequence.stamp(group, {"type": "visitor.unknown"}))
        assert json.loads(await ws.receive_from(timeout=WAIT)) == {"kind": "resync"}
        await ws.disconnect()

    run(scenario)


def _active_agent(username: str):
    from tickets.models import AgentPresence

    agent = make_user(username, first_name="Ayla", last_name="Demir")
    AgentPresence.objects.update_or_create(user=agent, defaults={"is_active": True})
    return agent


def test_a_first_message_given_to_an_agent_at_once_is_one_joined_line_and_no_re_fetch(page):
    """The ticket is opened and routed before the socket follows it: the socket reads it once
    subscribed and sends the "joined" line itself, instead of making the page re-fetch its
    whole history; the line is not doubled when the event arrives too."""
    _active_agent("ayla.d")
    client, cookie = visitor(page)

    async def scenario():
        from channels.db import database_sync_to_async

        ws = await opened(cookie)
        await database_sync_to_async(say)(client, page, "Hello?", "c-0000000001")
        frame = json.loads(await ws.receive_from(timeout=WAIT))
        assert frame["kind"] == "system" and frame["joined"] is True
        assert "Ayla Demir joined the chat." in frame["html"]
        await ws.receive_nothing(timeout=1)  # no "resync", no second line
        await ws.disconnect()

    run(scenario)
    assert Ticket.objects.get().assignee.username == "ayla.d"


def test_a_first_message_that_waits_in_the_pool_is_told_its_place_without_a_re_fetch(page):
    client, cookie = visitor(page)

    async def scenario():
        from channels.db import database_sync_to_async

        ws = await opened(cookie)
        await database_sync_to_async(say)(client, page, "Anyone?", "c-0000000001")
        frame = json.loads(await ws.receive_from(timeout=WAIT))
        assert frame["kind"] == "queue" and frame["position"] == 1
        assert frame["text"] == "You are number 1 in the queue."
        await ws.receive_nothing(timeout=1)  # no "resync"
        await ws.disconnect()

    run(scenario)
    assert Ticket.objects.get().assignee is None
