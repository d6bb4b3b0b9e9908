"""Replies stuck in pending are settled: a lost task is queued again, a dead send fails."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels_adapters import services
from customers.services import customer_resolve
from tests.factories import make_user
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive
from tickets.services import message_add_outbound


def _pending_reply(account, *, age: timedelta, attempts: int = 0) -> Message:
    customer = customer_resolve(kind=account.kind, external_id="c-9")
    ticket = ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Soru", external_id=f"in-{age}"),
    ).ticket
    # Stored, but its delivery task never ran (no on_commit here: the broker "lost" it).
    message = message_add_outbound(ticket=ticket, author=make_user(), body="Kargonuz yolda.")
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - age, delivery_attempts=attempts
    )
    return message


def test_a_reply_whose_task_was_lost_is_sent_by_the_sweep(channel, fake):
    account = channel("api")
    lost = _pending_reply(account, age=timedelta(minutes=5))

    assert services.outbound_sweep() == (1, 0)

    lost.refresh_from_db()
    assert lost.delivery == Message.Delivery.SENT
    assert len(fake.calls("callback")) == 1


def test_a_reply_whose_worker_died_mid_send_is_shown_failed_not_sent_twice(channel, fake):
    account = channel("api")
    stuck = _pending_reply(account, age=timedelta(hours=2), attempts=1)

    assert services.outbound_sweep() == (0, 1)

    stuck.refresh_from_db()
    assert stuck.delivery == Message.Delivery.FAILED
    assert "retry" in stuck.delivery_error
    assert fake.calls("callback") == []


def test_recent_pending_replies_are_left_alone(channel, fake):
    account = channel("api")
    fresh = _pending_reply(account, age=timedelta(seconds=10))
    retrying = _pending_reply(account, age=timedelta(minutes=10), attempts=2)

    assert services.outbound_sweep() == (0, 0)

    assert set(
        Message.objects.filter(pk__in=[fresh.pk, retrying.pk]).values_list("delivery", flat=True)
    ) == {Message.Delivery.PENDING}
    assert fake.calls("callback") == []
