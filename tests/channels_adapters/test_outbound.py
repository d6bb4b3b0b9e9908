"""Replies go back through the customer's channel, with retries, failures and receipts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_adapters import services, tasks
from channels_adapters.registry import get_adapter
from channels_adapters.signing import sign
from customers.services import customer_resolve
from tests.channels_adapters.conftest import SECRET
from tests.factories import make_user
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive

RECIPIENT = {"telegram": "4242", "whatsapp": "905551112233", "messenger": "PSID-1", "api": "c-9"}


@pytest.fixture
def reply(django_capture_on_commit_callbacks):
    """An agent's reply on a fresh ticket of ``account``, delivered (eager) after commit."""

    def send(account, body="Kargonuz yolda."):
        customer = customer_resolve(kind=account.kind, external_id=RECIPIENT[account.kind])
        ticket = ticket_receive(
            channel_account=account,
            customer=customer,
            incoming=Incoming(body="Soru", external_id="in-1"),
        ).ticket
        with django_capture_on_commit_callbacks(execute=True):
            message = services.reply_send(ticket=ticket, author=make_user(), body=body)
        message.refresh_from_db()
        return message

    return send


def test_telegram_reply_is_sent_with_the_bot_api(channel, fake, reply):
    message = reply(channel("telegram"))

    (call,) = fake.calls("sendMessage")
    assert call.path == "/bot123456:tg-token/sendMessage"
    assert call.data == {"chat_id": "4242", "text": "Kargonuz yolda."}
    assert message.delivery == Message.Delivery.SENT
    assert message.external_id.startswith("4242:")


def test_whatsapp_reply_posts_to_the_phone_number_messages_endpoint(channel, fake, reply):
    message = reply(channel("whatsapp"))

    (call,) = fake.calls("messages")
    assert call.path == "/1122334455667/messages"
    assert call.headers["Authorization"] == "Bearer graph-token"
    assert call.data["to"] == "905551112233"
    assert call.data["text"]["body"] == "Kargonuz yolda."
    assert message.delivery == Message.Delivery.SENT
    assert message.external_id.startswith("wamid.fake")


def test_messenger_reply_uses_the_send_api_with_the_psid(channel, fake, reply):
    message = reply(channel("messenger"))

    (call,) = fake.calls("messages")
    assert call.path == "/me/messages"
    assert call.data["recipient"] == {"id": "PSID-1"}
    assert call.data["message"] == {"text": "Kargonuz yolda."}
    assert message.external_id.startswith("m_")


def test_api_reply_is_posted_signed_to_the_callback(channel, fake, reply):
    message = reply(channel("api"))

    (call,) = fake.calls("callback")
    assert call.headers["X-Omnico-Signature"] == sign(SECRET, call.body)
    assert json.loads(call.body) == {
        "id": message.pk,
        "ticket": message.ticket_id,
        "customer_id": "c-9",
        "text": "Kargonuz yolda.",
    }
    assert message.delivery == Message.Delivery.SENT
    assert message.external_id.startswith("cb-")


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "api"])
def test_a_server_error_is_retried_and_then_sent(kind, channel, fake, reply):
    fake.fail_next(1, status=500)

    message = reply(channel(kind))

    assert len(fake.requests) == 2
    assert message.delivery == Message.Delivery.SENT
    assert message.delivery_attempts == 2
    assert message.delivery_error == ""


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "messenger", "api"])
def test_a_client_error_fails_at_once_with_the_reason(kind, channel, fake, reply):
    fake.fail_next(1, status=400)

    message = reply(channel(kind))

    assert len(fake.requests) == 1
    assert message.delivery == Message.Delivery.FAILED
    assert "400" in message.delivery_error


def test_a_provider_that_keeps_failing_ends_failed_after_the_retries(channel, fake, reply):
    fake.fail_next(10, status=503)

    message = reply(channel("whatsapp"))

    assert len(fake.requests) == 6  # the first try and five retries
    assert message.delivery == Message.Delivery.FAILED
    assert "503" in message.delivery_error


def test_retry_button_sends_a_failed_reply_again(
    channel, fake, reply, django_capture_on_commit_callbacks
):
    fake.fail_next(1, status=400)
    message = reply(channel("telegram"))
    assert message.delivery == Message.Delivery.FAILED

    with django_capture_on_commit_callbacks(execute=True):
        assert services.message_retry(message_id=message.pk) is True

    message.refresh_from_db()
    assert message.delivery == Message.Delivery.SENT
    assert len(fake.calls("sendMessage")) == 2


def test_a_redelivered_task_does_not_send_twice(channel, fake, reply):
    message = reply(channel("telegram"))
    Message.objects.filter(pk=message.pk).update(delivery=Message.Delivery.PENDING)

    # The same task again (retry number 0): its claim no longer matches.
    assert services.message_deliver(message_id=message.pk, attempt=0) is None
    assert len(fake.calls("sendMessage")) == 1


def _status(wamid: str, status: str, **extra) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "statuses": [
                                    {
                                        "id": wamid,
                                        "status": status,
                                        "timestamp": "1700000000",
                                        "recipient_id": "905551112233",
                                        **extra,
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


def test_whatsapp_status_callbacks_move_the_delivery_state_forward_only(channel, reply, post_hook):
    account = channel("whatsapp")
    message = reply(account)

    post_hook(account, _status(message.external_id, "delivered"))
    message.refresh_from_db()
    assert message.delivery == Message.Delivery.DELIVERED

    post_hook(account, _status(message.external_id, "read"))
    post_hook(account, _status(message.external_id, "delivered", note="late"))
    message.refresh_from_db()
    assert message.delivery == Message.Delivery.READ


def test_whatsapp_failed_status_shows_the_error_title(channel, reply, post_hook):
    account = channel("whatsapp")
    message = reply(account)
    error = {"code": 131026, "title": "Receiver is incapable of receiving this message"}

    post_hook(account, _status(message.external_id, "failed", errors=[error]))

    message.refresh_from_db()
    assert message.delivery == Message.Delivery.FAILED
    assert message.delivery_error == "Receiver is incapable of receiving this message"


def test_register_webhook_admin_action_calls_set_webhook(channel, fake, admin_client):
    account = channel("telegram")

    response = admin_client.post(
        reverse("admin:configuration_channelaccount_changelist"),
        {"action": "register_webhook", "_selected_action": [account.pk]},
        follow=True,
    )

    (call,) = fake.calls("setWebhook")
    assert call.data["url"] == "http://testserver/hooks/telegram/telegram-main/"
    assert call.data["secret_token"] == SECRET
    assert "webhook registered" in response.content.decode()


def test_a_send_that_raises_unexpectedly_shows_the_reply_failed_at_once(
    channel, fake, reply, monkeypatch
):
    # Not a DeliveryError (a bug, a dropped connection): the task ended with the reply claimed
    # and pending, and nothing showed it failed until the sweep's hour was over.
    account = channel("api")

    def broken(self, account, message, recipient):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(type(get_adapter("api")), "send", broken)

    message = reply(account)

    assert message.delivery == Message.Delivery.FAILED
    assert "retry" in message.delivery_error


def test_a_broker_refusing_the_delivery_task_leaves_the_reply_to_the_sweep(
    channel, fake, reply, monkeypatch
):
    account = channel("api")
    queue = tasks.deliver_message.delay

    def broker_down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.deliver_message, "delay", broker_down)
    message = reply(account)  # stored; the agent gets no error page for it
    assert (message.delivery, message.delivery_attempts) == (Message.Delivery.PENDING, 0)

    monkeypatch.setattr(tasks.deliver_message, "delay", queue)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert services.outbound_sweep() == (1, 0)
    message.refresh_from_db()
    assert message.delivery == Message.Delivery.SENT
