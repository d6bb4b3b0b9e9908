"""The messengers' 24-hour windows: WhatsApp free text only within 24 h of the customer's last
message; Messenger past it with the HUMAN_AGENT tag up to 7 days when the page may; the real
adapters against the loopback fake, on a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_adapters import services
from channels_adapters.windows import (
    messaging_window,
    tickets_with_last_inbound,
)
from customers.services import customer_resolve
from tests.factories import make_user
from tickets.errors import TicketRuleError
from tickets.models import Message, Ticket
from tickets.receiving import Incoming, ticket_receive

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECIPIENT = {"whatsapp": "905551112233", "messenger": "PSID-1", "telegram": "4242"}


@pytest.fixture
def clock(monkeypatch):
    """Django's clock stopped at ``NOW`` (every ``timezone.now()`` answers it)."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def _ticket(account, *, wrote_ago: timedelta, external_id: str = "in-1") -> Ticket:
    customer = customer_resolve(kind=account.kind, external_id=RECIPIENT[account.kind])
    return ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Soru", external_id=external_id, sent_at=NOW - wrote_ago),
    ).ticket


def _reply(ticket, django_capture_on_commit_callbacks, body="Kargonuz yolda."):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply_send(ticket=ticket, author=make_user(), body=body)
    message.refresh_from_db()
    return message


# --- WhatsApp ---------------------------------------------------------------------------------


def test_whatsapp_reply_23h59_after_the_customer_wrote_goes_as_free_text(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("whatsapp"), wrote_ago=timedelta(hours=23, minutes=59))

    window = messaging_window(ticket=ticket)
    assert window.is_open and window.seconds_left() == 60
    message = _reply(ticket, django_capture_on_commit_callbacks)

    (call,) = fake.calls("messages")
    assert call.data["type"] == "text"
    assert message.delivery == Message.Delivery.SENT


def test_whatsapp_reply_24h01_after_the_customer_wrote_is_refused_and_nothing_is_sent(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("whatsapp"), wrote_ago=timedelta(hours=24, minutes=1))

    assert messaging_window(ticket=ticket).takes_templates
    with pytest.raises(TicketRuleError, match="approved message template"):
        _reply(ticket, django_capture_on_commit_callbacks)

    assert fake.requests == []
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_the_window_counts_from_the_customers_last_message_on_any_of_their_tickets(channel, clock):
    account = channel("whatsapp")
    old = _ticket(account, wrote_ago=timedelta(days=3))
    Ticket.objects.filter(pk=old.pk).update(status="closed")
    new = _ticket(account, wrote_ago=timedelta(hours=2), external_id="in-2")

    assert new.pk != old.pk
    assert messaging_window(ticket=old).is_open  # the customer wrote 2 h ago, on the new one


def test_meta_reengagement_error_shows_its_reason_on_the_failed_reply(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("whatsapp"), wrote_ago=timedelta(hours=1))
    fake.graph_error_next(
        {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Message failed to send because more than 24 hours have passed "
                "since the customer last replied to this number.",
            },
        }
    )

    message = _reply(ticket, django_capture_on_commit_callbacks)

    assert message.delivery == Message.Delivery.FAILED
    assert "(#131047) Re-engagement message" in message.delivery_error
    assert "more than 24 hours have passed since the customer last replied" in (
        message.delivery_error
    )
    assert "24-hour window closed: send an approved template" in message.delivery_error
    assert len(fake.requests) == 1  # a permanent refusal: not retried


def test_a_graph_rate_limit_answered_400_is_retried_not_failed(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("whatsapp"), wrote_ago=timedelta(hours=1))
    fake.graph_error_next({"message": "(#130429) Rate limit hit", "code": 130429})

    message = _reply(ticket, django_capture_on_commit_callbacks)

    assert len(fake.calls("messages")) == 2
    assert message.delivery == Message.Delivery.SENT


# --- Messenger --------------------------------------------------------------------------------


def test_messenger_reply_within_24h_goes_as_a_response_without_a_tag(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(
        channel("messenger", human_agent_tag=True), wrote_ago=timedelta(hours=23, minutes=59)
    )

    _reply(ticket, django_capture_on_commit_callbacks)

    (call,) = fake.calls("messages")
    assert call.data["messaging_type"] == "RESPONSE"
    assert "tag" not in call.data


def test_messenger_reply_6d23h_after_goes_with_the_human_agent_tag_when_the_page_may(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(
        channel("messenger", human_agent_tag=True), wrote_ago=timedelta(days=6, hours=23)
    )

    assert messaging_window(ticket=ticket).is_tagged
    message = _reply(ticket, django_capture_on_commit_callbacks)

    (call,) = fake.calls("messages")
    assert call.data["messaging_type"] == "MESSAGE_TAG"
    assert call.data["tag"] == "HUMAN_AGENT"
    assert call.data["message"] == {"text": "Kargonuz yolda."}
    assert message.delivery == Message.Delivery.SENT


def test_messenger_reply_past_24h_is_refused_when_the_page_may_not_use_the_tag(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("messenger"), wrote_ago=timedelta(hours=24, minutes=1))

    with pytest.raises(TicketRuleError, match="may not use Messenger's Human Agent tag"):
        _reply(ticket, django_capture_on_commit_callbacks)
    assert fake.requests == []


def test_messenger_reply_7d01h_after_is_refused_even_with_the_tag(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(
        channel("messenger", human_agent_tag=True), wrote_ago=timedelta(days=7, hours=1)
    )

    with pytest.raises(TicketRuleError, match="more than 7 days ago"):
        _reply(ticket, django_capture_on_commit_callbacks)
    assert fake.requests == []


# --- channels without a window ----------------------------------------------------------------


def test_telegram_has_no_window_and_replies_days_later(
    channel, fake, clock, django_capture_on_commit_callbacks
):
    ticket = _ticket(channel("telegram"), wrote_ago=timedelta(days=30))

    assert messaging_window(ticket=ticket) is None
    assert _reply(ticket, django_capture_on_commit_callbacks).delivery == Message.Delivery.SENT


def test_last_inbound_for_a_list_of_tickets_is_one_query(channel, clock):
    account = channel("whatsapp")
    for n in range(5):
        customer = customer_resolve(kind="whatsapp", external_id=f"90555000{n}")
        ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="x", external_id=f"w{n}", sent_at=NOW - timedelta(hours=n)),
        )

    with CaptureQueriesContext(connection) as ctx:
        rows = list(
            tickets_with_last_inbound(
                Ticket.objects.select_related("channel_account").order_by("pk")
            )
        )
        windows = [messaging_window(ticket=row) for row in rows]

    assert len(ctx.captured_queries) == 1
    assert [w.seconds_left() for w in windows] == [24 * 3600 - n * 3600 for n in range(5)]


def test_a_reengagement_failure_reported_by_status_webhook_shows_metas_reason(
    channel, fake, post_hook, django_capture_on_commit_callbacks
):
    from tests.channels_adapters.test_outbound import _status

    account = channel("whatsapp")
    customer = customer_resolve(kind="whatsapp", external_id=RECIPIENT["whatsapp"])
    ticket = ticket_receive(
        channel_account=account, customer=customer, incoming=Incoming(body="Soru", external_id="i")
    ).ticket
    message = _reply(ticket, django_capture_on_commit_callbacks)
    error = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {
            "details": "Message failed to send because more than 24 hours have passed since "
            "the customer last replied to this number."
        },
    }

    post_hook(account, _status(message.external_id, "failed", errors=[error]))

    message.refresh_from_db()
    assert message.delivery == Message.Delivery.FAILED
    assert "24-hour window closed: send an approved template" in message.delivery_error
    assert "Re-engagement message: Message failed to send because" in message.delivery_error
