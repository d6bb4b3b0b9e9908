"""Delivery states of replies: a provider's word moves them forward only; a claim sends once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_ticket, make_user
from tickets.delivery import message_delivery_claim, messages_delivery_update
from tickets.models import Message
from tickets.services import message_add_outbound

pytestmark = pytest.mark.django_db


def _sent_reply(ticket, external_id: str) -> Message:
    reply = message_add_outbound(ticket=ticket, author=make_user(), body="Kargonuz yolda.")
    Message.objects.filter(pk=reply.pk).update(delivery="sent", external_id=external_id)
    return reply


def test_a_read_watermark_marks_every_reply_sent_before_it_read_and_none_after():
    ticket = make_ticket()
    account = ticket.channel_account
    earlier = _sent_reply(ticket, "w-1")
    identity = ticket.customer.identities.get()
    watermark = timezone.now()
    later = _sent_reply(ticket, "w-2")
    Message.objects.filter(pk=later.pk).update(sent_at=watermark + timedelta(seconds=5))

    changed = messages_delivery_update(
        channel_account=account, state="read", recipient_id=identity.external_id, at=watermark
    )

    assert changed == 1
    assert Message.objects.get(pk=earlier.pk).delivery == "read"
    assert Message.objects.get(pk=later.pk).delivery == "sent"


def test_a_late_delivered_never_moves_a_read_reply_back():
    ticket = make_ticket()
    reply = _sent_reply(ticket, "w-3")
    messages_delivery_update(
        channel_account=ticket.channel_account, state="read", external_id="w-3"
    )

    changed = messages_delivery_update(
        channel_account=ticket.channel_account, state="delivered", external_id="w-3"
    )

    assert changed == 0 and Message.objects.get(pk=reply.pk).delivery == "read"


def test_the_same_attempt_is_claimed_once():
    ticket = make_ticket()
    reply = message_add_outbound(ticket=ticket, author=make_user(), body="Merhaba")

    assert message_delivery_claim(message_id=reply.pk, attempt=0) is not None
    assert message_delivery_claim(message_id=reply.pk, attempt=0) is None
    assert Message.objects.get(pk=reply.pk).delivery_attempts == 1
