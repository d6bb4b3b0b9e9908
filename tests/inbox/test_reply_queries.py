"""What the agent's reply POST costs in SQL: the answer is only the new message and a fresh
reply box, drawn from what the POST already read; a web-chat reply is pushed in the same
process after commit instead of by a task."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_adapters import tasks
from tests.factories import make_account, make_ticket
from tickets.models import Message

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(tasks.deliver_message, "delay", lambda pk, **kw: calls.append(pk))
    return calls


def _with_history(kind: str, messages: int):
    account = make_account(kind=kind)
    ticket = make_ticket(account=account)
    Message.objects.bulk_create(
        Message(
            ticket=ticket,
            channel_account=account,
            direction=Message.Direction.INBOUND,
            external_id=f"h{i}",
            body=f"message {i}",
            sent_at=timezone.now(),
        )
        for i in range(messages)
    )
    return ticket


def _reply(agent_client, ticket, django_assert_num_queries, django_capture_on_commit_callbacks, n):
    url = reverse("ticket-reply", args=[ticket.pk])
    agent_client.post(url, {"body": "warm-up"}, **HTMX)  # the session's first save
    with django_assert_num_queries(n), django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, {"body": "On its way"}, **HTMX)
    assert response.status_code == 200
    assert "On its way" in response.content.decode()
    return Message.objects.filter(ticket=ticket, body="On its way").get()


@pytest.mark.parametrize("history", [1, 200])
def test_a_telegram_reply_post_reads_the_ticket_once_and_queues_its_task(
    agent_client, queued, history, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # session, user, ticket; savepoint x2, lock, presence, INSERT, UPDATE ticket, release x2
    ticket = _with_history("telegram", history)
    reply = _reply(
        agent_client, ticket, django_assert_num_queries, django_capture_on_commit_callbacks, 11
    )
    assert queued[-1] == reply.pk
    assert reply.delivery == Message.Delivery.PENDING


@pytest.mark.parametrize("history", [1, 200])
def test_a_web_chat_reply_post_sends_the_reply_itself(
    agent_client, queued, history, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # as Telegram's, then after commit: the visitor's identity, the UPDATE to sent; no task
    ticket = _with_history("webchat", history)
    reply = _reply(
        agent_client, ticket, django_assert_num_queries, django_capture_on_commit_callbacks, 13
    )
    assert queued == []
    assert reply.delivery == Message.Delivery.SENT
