"""The support page's writes: a visitor's acknowledgement of an agent's reply."""

from __future__ import annotations

import pytest
from django.test import Client

from channels_adapters.services import reply_send
from channels_adapters.webchat import services
from channels_adapters.webchat.visitor import COOKIE, visitor_from_cookies
from omnico.core import realtime
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def replied(page, django_capture_on_commit_callbacks):
    """A visitor who wrote, and the agent's reply to them, sent to their socket."""
    client = start(Client(), page, name="Ayşe")
    with django_capture_on_commit_callbacks(execute=True):
        say(client, page, "Hello?", "c-0000000001")
    with django_capture_on_commit_callbacks(execute=True):
        reply = reply_send(ticket=Ticket.objects.get(), author=make_user(), body="Hi")
    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.SENT
    visitor_id = visitor_from_cookies({COOKIE: client.cookies[COOKIE].value})
    return reply, visitor_id


def test_a_visitors_ack_is_one_statement_and_tells_the_agents_screen(
    page, replied, monkeypatch, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # The visitor socket acknowledges every reply it shows, 20 a second at a busy desk: the
    # check that the reply is this visitor's and not delivered yet is the UPDATE's own WHERE.
    reply, visitor_id = replied
    published = []
    monkeypatch.setattr(realtime, "publish", lambda group, kind, **ids: published.append(ids))
    with django_assert_num_queries(1), django_capture_on_commit_callbacks(execute=True):
        changed = services.visitor_reply_delivered(
            account=page.channel_account,
            visitor_id=visitor_id,
            message_id=reply.pk,
            ticket_id=reply.ticket_id,
        )
    assert changed == 1
    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.DELIVERED
    assert published == [{"ticket_id": reply.ticket_id, "message_id": reply.pk}]


def test_an_ack_naming_another_ticket_or_repeated_changes_nothing(page, replied, monkeypatch):
    reply, visitor_id = replied
    published = []
    monkeypatch.setattr(realtime, "publish", lambda group, kind, **ids: published.append(ids))
    ack = {"account": page.channel_account, "visitor_id": visitor_id, "message_id": reply.pk}
    assert services.visitor_reply_delivered(**ack, ticket_id=reply.ticket_id + 1) == 0
    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.SENT
    assert services.visitor_reply_delivered(**ack) == 1  # without the ticket: found by the id
    assert services.visitor_reply_delivered(**ack, ticket_id=reply.ticket_id) == 0
    assert len(published) == 1


def test_another_visitors_ack_changes_nothing(page, replied):
    reply, _visitor_id = replied
    other = start(Client(), page, name="Mallory").cookies[COOKIE].value
    changed = services.visitor_reply_delivered(
        account=page.channel_account,
        visitor_id=visitor_from_cookies({COOKIE: other}),
        message_id=reply.pk,
        ticket_id=reply.ticket_id,
    )
    assert changed == 0
    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.SENT
