"""An agent's reply to a web-chat visitor is pushed by the process that stored it, after commit,
with no Celery task; its delivery states and "nothing is lost" hold as for every channel."""

from __future__ import annotations

import json

import pytest

from channels_adapters import tasks
from channels_adapters.services import reply_send
from channels_adapters.webchat import realtime as webchat_realtime
from channels_adapters.webchat.adapter import WebChatAdapter
from omnico.core import realtime
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_account, make_ticket, make_user
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

CID = "0b0e2f9c-2222-4c4c-9d9d-000000000001"


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The delivery tasks queued (none run)."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.deliver_message, "delay", lambda *a, **k: calls.append((a, k)))
    return calls


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str, dict]]:
    sent: list[tuple[str, str, dict]] = []
    monkeypatch.setattr(
        realtime, "publish", lambda group, kind, **data: sent.append((group, kind, data))
    )
    return sent


@pytest.fixture
def visitor_ticket(client, page, django_capture_on_commit_callbacks) -> Ticket:
    start(client, page)
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Is anyone there?", CID)
    return Ticket.objects.get()


def _visitor_group(ticket: Ticket) -> str:
    visitor = ticket.customer.identities.get(kind="webchat").external_id
    return realtime.visitor_group(visitor)


def test_a_web_chat_reply_is_pushed_to_the_visitor_and_sent_at_commit_without_a_task(
    visitor_ticket, queued, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="Hello, Ayla here")
    assert queued == []
    assert reply.delivery == Message.Delivery.SENT  # the agent's answer shows it sent
    stored = Message.objects.get(pk=reply.pk)
    assert (stored.delivery, stored.external_id) == ("sent", f"webchat-{reply.pk}")
    pushes = [(group, kind) for group, kind, _ in published]
    assert (_visitor_group(visitor_ticket), "visitor.message") in pushes
    # the chat box hears of it stored, then sent
    assert pushes.count((realtime.ticket_group(visitor_ticket.pk), "ticket.message")) == 2


def test_a_telegram_reply_still_goes_through_the_delivery_task(
    db, queued, django_capture_on_commit_callbacks
):
    ticket = make_ticket(account=make_account(kind="telegram"))
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=ticket, author=make_user(), body="Hello")
    assert queued == [((reply.pk,), {})]
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.PENDING


def test_a_push_that_fails_leaves_the_reply_pending_for_the_task(
    visitor_ticket, queued, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise ConnectionError("channel layer down")

    monkeypatch.setattr(WebChatAdapter, "send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="Hello")
    assert queued == [((reply.pk,), {})]
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.PENDING


def test_a_disabled_web_chat_account_leaves_the_reply_to_the_task_that_fails_it(
    visitor_ticket, queued, django_capture_on_commit_callbacks
):
    from channels_adapters.services import message_deliver

    visitor_ticket.channel_account.enabled = False
    visitor_ticket.channel_account.save(update_fields=["enabled"])
    ticket = Ticket.objects.select_related("channel_account").get(pk=visitor_ticket.pk)
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=ticket, author=make_user(), body="Hello")
    assert queued == [((reply.pk,), {})]
    message_deliver(message_id=reply.pk, attempt=0)
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.FAILED


def test_the_visitors_ack_before_the_sent_mark_keeps_the_reply_delivered(
    visitor_ticket, queued, monkeypatch, django_capture_on_commit_callbacks
):
    """The visitor's socket may acknowledge the push before the web process marks it sent:
    delivery only moves forward."""
    from channels_adapters.webchat import services as webchat_services

    original = WebChatAdapter.send

    def send_and_ack(self, account, message, recipient):
        external_id = original(self, account, message, recipient)
        webchat_services.visitor_reply_delivered(
            account=account, visitor_id=recipient.external_id, message_id=message.pk
        )
        return external_id

    monkeypatch.setattr(WebChatAdapter, "send", send_and_ack)
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="Hello")
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.DELIVERED
    assert queued == []


def test_a_reply_to_a_visitor_who_is_away_is_shown_and_delivered_when_they_come_back(
    client, page, visitor_ticket, queued, django_capture_on_commit_callbacks
):
    # No socket is open: the push reaches nobody, and no task is there to try again.
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="Still there?")
    assert queued == []
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.SENT
    # The visitor comes back: the page's history has the reply, and shows it delivered.
    assert "Still there?" in client.get("/support/help/history/").content.decode()
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.DELIVERED


def test_a_pushed_reply_is_drawn_for_the_visitor_without_reading_it_back(
    visitor_ticket, queued, published, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """Each web process draws the visitor's frame from the event: no query per process and
    reply, and the same escaped line the database would give."""
    with django_capture_on_commit_callbacks(execute=True):
        reply_send(ticket=visitor_ticket, author=make_user(), body="Hi <b>you</b>\nline two")
    [event] = [data for _group, kind, data in published if kind == "visitor.message"]
    with django_assert_num_queries(0):
        frame = webchat_realtime.render_reply(event, "en")
    read_back = {key: value for key, value in event.items() if key not in ("body", "sent_at")}
    assert frame == webchat_realtime.render_reply(read_back, "en")
    html = json.loads(frame)["html"]
    assert "Hi &lt;b&gt;you&lt;/b&gt;<br>line two" in html


def test_a_reply_that_may_have_files_is_read_back_for_its_frame(
    visitor_ticket, published, django_capture_on_commit_callbacks
):
    """A reply sent by the task (read from the database: its files unknown) carries no text;
    the frame is drawn from the stored reply, files and all."""
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="With a file")
    account = visitor_ticket.channel_account
    identity = visitor_ticket.customer.identities.get(kind="webchat")
    published.clear()
    WebChatAdapter().send(account, Message.objects.get(pk=reply.pk), identity)
    [event] = [data for _group, kind, data in published if kind == "visitor.message"]
    assert "body" not in event
    assert "With a file" in json.loads(webchat_realtime.render_reply(event, "en"))["html"]


def test_the_visitors_push_leaves_with_the_reply_at_commit(
    visitor_ticket, queued, monkeypatch, django_capture_on_commit_callbacks
):
    """The push and the sent mark's update are published in the reply's own transaction and
    leave with it at commit (two sends: ``message_add_outbound`` publishes under its own
    savepoint), not one by one after it; the reply is stored sent in that transaction, so the
    visitor's acknowledgement cannot come before the sent mark."""
    sends: list[list[str]] = []
    monkeypatch.setattr(
        realtime, "_send", lambda messages: sends.append([m["type"] for _g, m in messages])
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=visitor_ticket, author=make_user(), body="Hello")
        assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.SENT
    assert sends == [["ticket.message", "inbox.ticket"], ["visitor.message", "ticket.message"]]
    assert queued == []
