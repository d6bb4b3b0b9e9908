"""The agent websocket: who may connect, and what reaches whom when tickets change.

Each test drives ``omnico.asgi.application`` (origin check, session auth, routing, consumer)
with a real session cookie, changes tickets through the services, and reads what arrives.
Commits must happen for anything to be pushed, hence ``transaction=True``. Under scripts/test
the channel layer is Redis: every test gets its own key prefix, so parallel workers and tests
never see each other's pushes.
"""

from __future__ import annotations

import copy
import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_adapters.services import message_fail
from inbox import realtime as inbox_realtime
from inbox.consumers import CLOSE_UNAUTHENTICATED
from omnico.asgi import application
from omnico.core import realtime, realtime_hub
from omnico.core.language import scope_language
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets import routing, services
from tickets.models import Ticket, TicketStatus
from tickets.receiving import Incoming, ticket_receive

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5  # seconds; a frame normally arrives in milliseconds


@pytest.fixture(autouse=True)
def private_channel_layer(settings):
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "redis" in layers["default"]["BACKEND"].lower():
        layers["default"].setdefault("CONFIG", {})["prefix"] = f"t{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layers  # channels drops its cached layer on this change


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def socket(
    cookie: str | None = None, *, origin: str = "http://testserver", language: str = ""
) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    cookies = []
    if cookie:
        cookies.append(f"{django_settings.SESSION_COOKIE_NAME}={cookie}")
    if language:
        cookies.append(f"{django_settings.LANGUAGE_COOKIE_NAME}={language}")
    if cookies:
        headers.append((b"cookie", "; ".join(cookies).encode()))
    return WebsocketCommunicator(application, "/ws/agent/", headers=headers)


async def connected(cookie: str, **kw) -> WebsocketCommunicator:
    # Pushes are sent after commit by a background thread (Redis layer): let the ones of the
    # test's setup go out first, so they do not reach a socket opened after them.
    realtime.flush()
    ws = socket(cookie, **kw)
    ok, _code = await ws.connect(timeout=WAIT)
    assert ok
    hello = await ws.receive_from(timeout=WAIT)
    assert 'data-live="hello"' in hello
    return ws


async def frame(ws: WebsocketCommunicator, live: str, **attrs) -> str:
    """The next frame of kind ``live`` whose data attributes match; others are skipped."""
    wanted = [f'data-live="{live}"'] + [f'data-{k}="{v}"' for k, v in attrs.items()]
    while True:
        text = await ws.receive_from(timeout=WAIT)
        if all(part in text for part in wanted):
            return text


async def nothing_more_about(ws: WebsocketCommunicator, live: str, ticket_id: int) -> None:
    while not await ws.receive_nothing(timeout=0.3):
        text = await ws.receive_from(timeout=WAIT)
        assert not (f'data-live="{live}"' in text and f'data-ticket="{ticket_id}"' in text), text


def run(coroutine_fn):
    return async_to_sync(coroutine_fn)()


@pytest.fixture
def agent_a(db):
    return make_user("live-a")


@pytest.fixture
def agent_b(db):
    return make_user("live-b")


# --- who may connect --------------------------------------------------------------------------


def test_anonymous_socket_is_closed_with_4401():
    async def scenario():
        ws = socket(None)
        ok, _code = await ws.connect(timeout=WAIT)
        closing = await ws.receive_output(timeout=WAIT)
        assert closing == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
        await ws.disconnect()

    run(scenario)


def test_socket_from_a_foreign_origin_is_refused(agent_a):
    cookie = session_cookie(agent_a)

    async def scenario():
        ws = socket(cookie, origin="https://evil.example")
        ok, _code = await ws.connect(timeout=WAIT)
        assert not ok

    run(scenario)


def test_deactivated_agent_socket_is_closed(agent_a):
    cookie = session_cookie(agent_a)
    agent_a.is_active = False
    agent_a.save(update_fields=["is_active"])

    async def scenario():
        ws = socket(cookie)
        await ws.connect(timeout=WAIT)
        closing = await ws.receive_output(timeout=WAIT)
        assert closing["type"] == "websocket.close"
        assert closing["code"] == CLOSE_UNAUTHENTICATED

    run(scenario)


def _logged_in(user) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, client.cookies[django_settings.SESSION_COOKIE_NAME].value


async def closed_with(ws: WebsocketCommunicator, code: int) -> bool:
    while True:
        output = await ws.receive_output(timeout=WAIT)
        if output["type"] == "websocket.close":
            return output.get("code") == code


def test_logging_out_closes_that_sessions_socket_and_not_the_agents_other_one(agent_a):
    laptop, laptop_cookie = _logged_in(agent_a)
    _phone, phone_cookie = _logged_in(agent_a)

    async def scenario():
        on_laptop = await connected(laptop_cookie)
        on_phone = await connected(phone_cookie)
        await database_sync_to_async(laptop.post)(reverse("logout"))
        realtime.flush()
        assert await closed_with(on_laptop, CLOSE_UNAUTHENTICATED)
        assert await on_phone.receive_nothing(timeout=0.3)
        await on_phone.disconnect()

    run(scenario)


def test_deactivating_an_agent_closes_every_socket_of_theirs_at_once(agent_a, agent_b):
    _one, first_cookie = _logged_in(agent_a)
    _two, second_cookie = _logged_in(agent_a)
    other_cookie = session_cookie(agent_b)

    async def scenario():
        sockets = [await connected(first_cookie), await connected(second_cookie)]
        colleague = await connected(other_cookie)
        agent_a.is_active = False
        await database_sync_to_async(agent_a.save)()
        realtime.flush()
        for ws in sockets:
            assert await closed_with(ws, CLOSE_UNAUTHENTICATED)
        assert await colleague.receive_nothing(timeout=0.3)
        await colleague.disconnect()

    run(scenario)


# --- what reaches whom ------------------------------------------------------------------------


def test_new_ticket_row_reaches_a_connected_agent_after_commit(agent_a):
    cookie = session_cookie(agent_a)
    account = make_account()

    async def scenario():
        ws = await connected(cookie)
        customer = await database_sync_to_async(make_customer)(
            kind=account.kind, name="Zeynep Kaya"
        )
        ticket = await database_sync_to_async(make_ticket)(
            account=account, customer=customer, body="Siparişim nerede?"
        )
        row = await frame(ws, "row", ticket=ticket.pk)
        assert 'data-created="1"' in row
        assert f'id="ticket-row-{ticket.pk}"' in row
        assert "Zeynep Kaya" in row
        assert "Siparişim nerede?" in row
        await ws.disconnect()

    run(scenario)


def test_a_push_reaches_the_socket_without_a_hop_to_the_sync_thread(agent_a, monkeypatch):
    """Channels' dispatch closes stale connections on the one sync thread before every message
    of every socket; with many agents that queue delayed frames by seconds. The consumer skips
    it (its database work already goes through database_sync_to_async)."""
    hops = []

    async def counted():
        hops.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counted)
    cookie = session_cookie(agent_a)
    account = make_account()

    async def scenario():
        ws = await connected(cookie)
        ticket = await database_sync_to_async(make_ticket)(account=account, body="Merhaba")
        await frame(ws, "row", ticket=ticket.pk)
        await ws.disconnect()

    run(scenario)
    assert hops == []


def test_rows_the_hub_delivers_together_reach_the_page_in_one_websocket_message(agent_a):
    """A batch of changes (an ingest transaction of 20 messages) costs each socket one send:
    one compression and one write per socket instead of one per row. live.js reads every
    envelope of a message."""
    cookie = session_cookie(agent_a)
    tickets = [make_ticket(body=f"Batch {n}") for n in range(3)]
    realtime.flush()

    async def scenario():
        ws = await connected(cookie)
        hub = realtime_hub.Hub.get(get_channel_layer())
        await hub.dispatch(
            [(realtime.AGENTS_GROUP, {"type": "inbox.ticket", "ticket_id": t.pk}) for t in tickets]
        )
        message = await ws.receive_from(timeout=WAIT)
        assert [f'data-ticket="{t.pk}"' in message for t in tickets] == [True, True, True]
        assert message.count('data-live="row"') == 3
        await ws.disconnect()

    run(scenario)


def test_customer_text_in_a_pushed_row_is_escaped(agent_a):
    cookie = session_cookie(agent_a)

    async def scenario():
        ws = await connected(cookie)
        ticket = await database_sync_to_async(make_ticket)(body="<script>alert(1)</script>")
        row = await frame(ws, "row", ticket=ticket.pk)
        assert "<script>" not in row
        assert "&lt;script&gt;" in row
        await ws.disconnect()

    run(scenario)


def test_watcher_gets_the_new_customer_message_and_others_do_not(agent_a, agent_b):
    cookie_a, cookie_b = session_cookie(agent_a), session_cookie(agent_b)
    account = make_account()
    customer = make_customer(kind=account.kind)
    ticket = make_ticket(account=account, customer=customer)

    async def scenario():
        watcher = await connected(cookie_a)
        other = await connected(cookie_b)
        await watcher.send_json_to({"action": "watch", "ticket": ticket.pk})
        await frame(watcher, "watching", ticket=ticket.pk)
        received = await database_sync_to_async(ticket_receive)(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="Kargo gelmedi", external_id="x-2"),
        )
        assert received.ticket.pk == ticket.pk
        pushed = await frame(watcher, "message", message=received.message.pk)
        assert f'id="message-{received.message.pk}"' in pushed
        assert "Kargo gelmedi" in pushed
        # The other agent sees the row move, not the conversation.
        await frame(other, "row", ticket=ticket.pk)
        await nothing_more_about(other, "message", ticket.pk)
        await watcher.disconnect()
        await other.disconnect()

    run(scenario)


def test_reply_delivery_state_change_reaches_the_watcher(agent_a):
    cookie = session_cookie(agent_a)
    ticket = make_ticket()

    async def scenario():
        ws = await connected(cookie)
        await ws.send_json_to({"action": "watch", "ticket": ticket.pk})
        await frame(ws, "watching", ticket=ticket.pk)
        reply = await database_sync_to_async(services.message_add_outbound)(
            ticket=ticket, author=agent_a, body="Bakıyorum"
        )
        first = await frame(ws, "message", message=reply.pk)
        assert "Bakıyorum" in first
        await frame(ws, "row", ticket=ticket.pk)  # the preview in the list changed too

        await database_sync_to_async(message_fail)(message_id=reply.pk, reason="Bot blocked")
        failed = await frame(ws, "message", message=reply.pk)
        assert "Bot blocked" in failed
        await ws.disconnect()

    run(scenario)


def test_status_change_refreshes_the_panel_for_watchers_and_the_row_for_all(agent_a, agent_b):
    cookie_a, cookie_b = session_cookie(agent_a), session_cookie(agent_b)
    ticket = make_ticket()

    async def scenario():
        watcher = await connected(cookie_a)
        other = await connected(cookie_b)
        await watcher.send_json_to({"action": "watch", "ticket": ticket.pk})
        await frame(watcher, "watching", ticket=ticket.pk)
        await database_sync_to_async(services.ticket_set_status)(
            ticket=ticket, status=TicketStatus.WAITING_ON_CUSTOMER, actor=agent_b
        )
        await frame(watcher, "refresh", ticket=ticket.pk)
        row = await frame(other, "row", ticket=ticket.pk)
        assert 'data-status="waiting_on_customer"' in row
        assert 'data-created="0"' in row
        await nothing_more_about(other, "refresh", ticket.pk)
        await watcher.disconnect()
        await other.disconnect()

    run(scenario)


def test_reassignment_reaches_both_agents(agent_a, agent_b):
    cookie_a, cookie_b = session_cookie(agent_a), session_cookie(agent_b)
    ticket = make_ticket()

    async def scenario():
        first = await connected(cookie_a)
        second = await connected(cookie_b)
        await database_sync_to_async(services.ticket_assign)(
            ticket=ticket, assignee=agent_b, actor=agent_a
        )
        for ws in (first, second):
            row = await frame(ws, "row", ticket=ticket.pk)
            assert f'data-assignee="{agent_b.pk}"' in row
            await ws.disconnect()

    run(scenario)


def test_watching_a_ticket_that_does_not_exist_is_refused(agent_a):
    cookie = session_cookie(agent_a)
    missing = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000

    async def scenario():
        ws = await connected(cookie)
        await ws.send_json_to({"action": "watch", "ticket": missing})
        refused = await frame(ws, "refused", ticket=missing)
        assert 'data-reason="not-found"' in refused
        await ws.send_json_to({"action": "watch", "ticket": "abc"})
        await frame(ws, "refused", reason="invalid")
        await ws.disconnect()

    run(scenario)


def test_watching_another_ticket_stops_the_first_ones_messages(agent_a):
    cookie = session_cookie(agent_a)
    account = make_account()
    customer = make_customer(kind=account.kind)
    first = make_ticket(account=account, customer=customer)
    second = make_ticket()

    async def scenario():
        ws = await connected(cookie)
        await ws.send_json_to({"action": "watch", "ticket": first.pk})
        await frame(ws, "watching", ticket=first.pk)
        await ws.send_json_to({"action": "watch", "ticket": second.pk})
        await frame(ws, "watching", ticket=second.pk)
        await database_sync_to_async(ticket_receive)(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="hâlâ bekliyorum", external_id="y-1"),
        )
        await frame(ws, "row", ticket=first.pk)
        await nothing_more_about(ws, "message", first.pk)
        await ws.disconnect()

    run(scenario)


def test_routed_assignment_toasts_the_agent(agent_a):
    cookie = session_cookie(agent_a)
    routing.agent_go_active(user=agent_a)

    async def scenario():
        ws = await connected(cookie)
        ticket = await database_sync_to_async(make_ticket)()
        toast = await frame(ws, "toast")
        assert f"#{ticket.pk}" in toast
        assert 'class="toast' in toast
        await ws.disconnect()

    run(scenario)


# --- rendered where the sockets are, once per event and language ---------------------------


def test_a_row_is_rendered_once_per_language_whatever_the_number_of_agents():
    languages = ["en", "en", "en", "tr", "tr", "tr"]
    cookies = [session_cookie(make_user(f"many-{n}")) for n in range(len(languages))]
    real = inbox_realtime.render_to_string

    async def scenario():
        sockets = [
            await connected(cookie, language=language)
            for cookie, language in zip(cookies, languages, strict=True)
        ]
        with mock.patch.object(inbox_realtime, "render_to_string", side_effect=real) as spy:
            ticket = await database_sync_to_async(make_ticket)()
            for ws in sockets:
                await frame(ws, "row", ticket=ticket.pk, created="1")
        rows = [c for c in spy.call_args_list if c.args[1].get("kind") == "row"]
        assert len(rows) == 2  # one English, one Turkish, for six sockets (one process)
        for ws in sockets:
            await ws.disconnect()

    run(scenario)


def test_nothing_is_rendered_when_no_agent_is_connected():
    real = inbox_realtime.render_to_string
    with mock.patch.object(inbox_realtime, "render_to_string", side_effect=real) as spy:
        make_ticket(body="nobody is watching")
    assert spy.call_args_list == []


def test_rendering_a_row_runs_the_same_few_queries_whatever_its_tags():
    def queries_for(ticket) -> int:
        with CaptureQueriesContext(connection) as ctx:
            html = inbox_realtime.render_inbox_ticket({"ticket_id": ticket.pk}, "en")
        assert f'id="ticket-row-{ticket.pk}"' in html
        return len(ctx.captured_queries)

    plain = make_ticket()
    tagged = make_ticket()
    for name in ("vip", "kargo", "iade"):
        tagged.tags.create(name=name)
    assert queries_for(plain) == queries_for(tagged) <= 2


def test_a_batch_of_rows_in_two_languages_is_fetched_in_the_queries_of_one_row():
    tickets = [make_ticket(body=f"row {n}") for n in range(6)]
    tickets[0].tags.create(name="vip")
    events = [{"type": "inbox.ticket", "ticket_id": t.pk} for t in tickets]
    events.append({"type": "inbox.ticket", "ticket_id": 999999})  # deleted since
    with CaptureQueriesContext(connection) as ctx:
        frames = realtime.render_now({"en": events, "tr": events})
    assert len(ctx.captured_queries) <= 2
    for language in ("en", "tr"):
        for ticket, html in zip(tickets, frames[language], strict=False):
            assert f'id="ticket-row-{ticket.pk}"' in html and f"row {tickets.index(ticket)}" in html
        assert frames[language][-1] is None
    assert "Unassigned" in frames["en"][0] and "Unassigned" not in frames["tr"][0]


def test_a_batch_of_assignment_toasts_is_fetched_in_the_queries_of_one():
    tickets = [make_ticket(body=f"row {n}") for n in range(6)]
    events = [{"type": "ticket.assigned", "ticket_id": t.pk} for t in tickets]
    events.append({"type": "ticket.assigned", "ticket_id": 999999})  # deleted since
    with CaptureQueriesContext(connection) as ctx:
        frames = realtime.render_now({"en": events, "tr": events})
    assert len(ctx.captured_queries) <= 2
    for ticket, html in zip(tickets, frames["en"], strict=False):
        assert f"Ticket #{ticket.pk} from {ticket.customer.name} was assigned to you." in html
    assert frames["en"][-1] is None and frames["tr"][-1] is None
    assert f"#{tickets[0].pk} " in frames["tr"][0] and "assigned to you" not in frames["tr"][0]


def test_agent_language_comes_from_the_language_cookie_then_accept_language():
    assert scope_language({"cookies": {"django_language": "tr"}, "headers": []}) == "tr"
    accept = [(b"accept-language", b"tr-TR,tr;q=0.9,en;q=0.5")]
    assert scope_language({"cookies": {}, "headers": accept}) == "tr"
    assert scope_language({"cookies": {}, "headers": []}) == "en"


def test_turkish_agent_gets_the_turkish_rendering(agent_a):
    cookie = session_cookie(agent_a)
    rendered = {"en": '<template data-live="toast">EN</template>', "tr": "TR"}

    async def scenario():
        ws = await connected(cookie, language="tr")
        await get_channel_layer().group_send(
            f"agent.{agent_a.pk}", {"type": "toast", "html": rendered}
        )
        assert await ws.receive_from(timeout=WAIT) == "TR"
        await ws.disconnect()

    run(scenario)


def test_an_event_that_could_not_be_rendered_asks_the_page_to_resync(agent_a):
    cookie = session_cookie(agent_a)

    def broken(event, language):
        raise RuntimeError("template error")

    async def scenario():
        ws = await connected(cookie)
        with mock.patch.dict(realtime._renderers, {"inbox.ticket": broken}):
            await get_channel_layer().group_send(
                "agents", {"type": "inbox.ticket", "ticket_id": 1, "created": True}
            )
            await frame(ws, "resync")
        await ws.disconnect()

    run(scenario)


def test_messages_the_channel_layer_dropped_make_the_page_resync_instead_of_going_missing(agent_a):
    """channels-redis drops a message silently when the receiving channel is full; the
    numbers the realtime module puts on what it sends show the gap."""
    cookie = session_cookie(agent_a)
    sequence = realtime._Sequence()

    def toast(text):
        return {"type": "toast", "html": {"en": text}}

    async def scenario():
        ws = await connected(cookie)
        layer = get_channel_layer()
        await layer.group_send("agents", sequence.stamp("agents", toast("first")))
        assert await ws.receive_from(timeout=WAIT) == "first"
        sequence.stamp("agents", toast("dropped by the layer"))  # numbered, never arrives
        await layer.group_send("agents", sequence.stamp("agents", toast("third")))
        # Frames waiting together may share one websocket message (the outbox joins them):
        # what counts is that the resync comes, and before "third".
        got = await ws.receive_from(timeout=WAIT)
        if "third" not in got:
            got += await ws.receive_from(timeout=WAIT)
        assert got.index('data-live="resync"') < got.index("third")
        assert got.endswith("third") and got.count("third") == 1
        await ws.disconnect()

    run(scenario)


# --- one channel-layer message per process, fanned out locally -----------------------------


def test_a_process_subscribes_once_per_group_for_all_its_sockets_and_unsubscribes_after_the_last():
    cookies = [session_cookie(make_user(f"shared-{n}")) for n in range(4)]
    ticket = make_ticket()
    layer = get_channel_layer()
    adds, discards = [], []
    real_add, real_discard = layer.group_add, layer.group_discard

    async def add(group, channel):
        adds.append(group)
        await real_add(group, channel)

    async def discard(group, channel):
        discards.append(group)
        await real_discard(group, channel)

    async def scenario():
        with (
            mock.patch.object(layer, "group_add", add),
            mock.patch.object(layer, "group_discard", discard),
        ):
            sockets = [await connected(cookie) for cookie in cookies]
            for ws in sockets:
                await ws.send_json_to({"action": "watch", "ticket": ticket.pk})
                await frame(ws, "watching", ticket=ticket.pk)
            assert adds.count("agents") == 1
            assert adds.count(f"ticket.{ticket.pk}") == 1
            await database_sync_to_async(services.ticket_set_status)(
                ticket=ticket, status=TicketStatus.PENDING, actor=None
            )
            for ws in sockets:  # one message per group reached all four sockets
                await frame(ws, "refresh", ticket=ticket.pk)
                await frame(ws, "row", ticket=ticket.pk)
            for ws in sockets[:-1]:
                await ws.disconnect()
            assert "agents" not in discards
            await sockets[-1].disconnect()
            assert discards.count("agents") == 1
            assert discards.count(f"ticket.{ticket.pk}") == 1

    run(scenario)
