"""Outgoing webhooks: the outbox written with the change, signed delivery to a loopback
receiver, retries with backoff, giving up, timeouts, disabled endpoints, secrets kept out of
logs (tickets/webhooks.py)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.factories import make_ticket, make_user
from tickets import services, webhooks
from tickets.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def verify(secret: str, request) -> dict:
    """What a receiver does: recompute the signature over "{timestamp}.{raw body}", compare
    in constant time, refuse an old timestamp; then parse the JSON."""
    timestamp = request.headers["X-Omnico-Timestamp"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(request.headers["X-Omnico-Signature"], f"sha256={expected}")
    assert abs(time.time() - int(timestamp)) < 300
    return request.json


def _make_due(*deliveries: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        next_at=timezone.now() - timedelta(minutes=1)
    )


def test_a_new_ticket_is_posted_signed_and_the_receiver_can_verify_it(
    webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = webhook_endpoint(["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(body="Siparişim nerede?")

    [request] = webhook_receiver.wait_for(1)
    payload = verify(secret, request)
    delivery = WebhookDelivery.objects.get()
    assert request.headers["X-Omnico-Event"] == "ticket.created"
    assert request.headers["X-Omnico-Delivery"] == str(delivery.pk)
    assert payload["event"] == "ticket.created" and payload["version"] == 1
    assert payload["id"] == str(delivery.event_id)
    assert payload["data"]["ticket"]["id"] == ticket.pk
    assert payload["data"]["ticket"]["status"] == "open"
    assert payload["data"]["customer"] == {"id": ticket.customer_id, "name": "Ayşe"}
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None


def test_a_tampered_body_does_not_verify(webhook_endpoint, webhook_receiver):
    endpoint, secret = webhook_endpoint(["ticket.created"])
    with transaction.atomic():
        make_ticket()
    # (non-transactional test: deliver by hand, as the task after commit would)
    webhooks.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    [request] = webhook_receiver.wait_for(1)
    request.body = request.body.replace(b"open", b"shut")
    with pytest.raises(AssertionError):
        verify(secret, request)


def test_a_500_is_tried_again_after_the_backoff_and_then_delivered(
    webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint(["ticket.created"])
    webhook_receiver.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed", 1, 500)
    assert delivery.last_answer == '{"status": 500}'
    wait = (delivery.next_at - delivery.last_tried_at).total_seconds()
    assert 29 <= wait <= 31  # the first of OMNICO_WEBHOOK_RETRY_SECONDS

    assert webhooks.webhooks_sweep() == []  # not due yet: nothing sent
    _make_due(delivery)
    assert webhooks.webhooks_sweep() == [delivery.pk]

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    assert len(webhook_receiver.requests) == 2
    assert len({r.headers["X-Omnico-Delivery"] for r in webhook_receiver.requests}) == 1


def test_the_backoff_grows_and_the_last_delay_repeats(settings):
    settings.OMNICO_WEBHOOK_RETRY_SECONDS = [30, 120, 600]
    assert [webhooks.retry_delay(n) for n in (1, 2, 3, 4, 9)] == [30, 120, 600, 600, 600]


def test_delivery_gives_up_after_the_maximum_attempts(
    settings, webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    settings.OMNICO_WEBHOOK_MAX_ATTEMPTS = 3
    webhook_endpoint(["ticket.created"])
    webhook_receiver.answer(503, 503, 503, 503)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    delivery = WebhookDelivery.objects.get()
    for _ in range(3):
        _make_due(delivery)
        webhooks.webhooks_sweep()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("gave_up", 3, 503)
    assert len(webhook_receiver.requests) == 3


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_try(
    settings, webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    settings.OMNICO_WEBHOOK_TIMEOUT_SECONDS = 1
    webhook_receiver.delay = 2.5
    webhook_endpoint(["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status, delivery.last_answer) == (
        "failed",
        None,
        "Timed out.",
    )


def test_a_change_that_rolls_back_writes_and_sends_nothing(
    webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint(["ticket.created", "ticket.status_changed"])
    ticket = make_ticket()
    WebhookDelivery.objects.all().delete()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.ticket_set_status(ticket=ticket, status="pending")
        assert WebhookDelivery.objects.count() == 1  # written with the change...
        raise RuntimeError("the change fails after the status moved")
    assert WebhookDelivery.objects.count() == 0  # ...and gone with it
    assert webhook_receiver.requests == []


def test_a_delivery_is_claimed_once_and_never_sent_twice(webhook_endpoint, webhook_receiver):
    webhook_endpoint(["ticket.created"])
    make_ticket()  # no commit callbacks: the row waits
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) == "delivered"
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) is None  # a repeated task
    assert len(webhook_receiver.requests) == 1


def test_a_disabled_endpoint_keeps_its_deliveries_pending_and_unsent(
    webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint, _secret = webhook_endpoint(["ticket.created"])
    make_ticket()  # the row waits (its task has not run)
    endpoint.enabled = False
    endpoint.save()
    delivery = WebhookDelivery.objects.get()
    _make_due(delivery)
    assert webhooks.webhook_deliver(delivery_id=delivery.pk) is None
    assert webhooks.webhooks_sweep() == []
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()  # a disabled endpoint gets no new rows
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == ["pending"]
    assert webhook_receiver.requests == []

    endpoint.enabled = True
    endpoint.save()
    assert webhooks.webhooks_sweep() == [delivery.pk]
    assert len(webhook_receiver.requests) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_back_by_the_sweep(
    webhook_endpoint, webhook_receiver
):
    webhook_endpoint(["ticket.created"])
    make_ticket()
    delivery = WebhookDelivery.objects.get()
    long_ago = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state="sending", claimed_at=long_ago, attempts=1
    )
    assert webhooks.webhooks_sweep() == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)


def test_a_pending_row_whose_task_was_lost_is_sent_by_the_sweep(webhook_endpoint, webhook_receiver):
    webhook_endpoint(["ticket.created"])
    make_ticket()  # its task never ran (a dead broker)
    delivery = WebhookDelivery.objects.get()
    assert webhooks.webhooks_sweep() == []  # its own task normally runs at once
    WebhookDelivery.objects.update(next_at=timezone.now() - timedelta(seconds=30))
    assert webhooks.webhooks_sweep() == [delivery.pk]
    assert len(webhook_receiver.requests) == 1


def test_only_subscribed_endpoints_get_an_event(webhook_endpoint, webhook_receiver):
    webhook_endpoint(["message.received"], name="messages")
    webhook_endpoint(["ticket.assigned"], name="assignments")
    make_ticket()
    assert list(WebhookDelivery.objects.values_list("event", "endpoint__name")) == [
        ("message.received", "messages")
    ]


def test_assigning_changing_status_and_resolving_each_fire_once(webhook_endpoint):
    webhook_endpoint(
        ["ticket.assigned", "ticket.status_changed", "ticket.resolved"], name="everything"
    )
    ticket = make_ticket()
    agent = make_user("ayla")
    services.ticket_assign(ticket=ticket, assignee=agent)
    services.ticket_set_status(ticket=ticket, status="pending", actor=agent)
    services.ticket_set_status(ticket=ticket, status="resolved", actor=agent)
    services.ticket_set_status(ticket=ticket, status="resolved", actor=agent)  # no change
    rows = list(WebhookDelivery.objects.order_by("pk"))
    assert [row.event for row in rows] == [
        "ticket.assigned",
        "ticket.status_changed",
        "ticket.status_changed",
        "ticket.resolved",
    ]
    assigned, pending, resolved_change, resolved = (row.payload["data"] for row in rows)
    assert assigned["ticket"]["assignee"] == {"id": agent.pk, "username": "ayla"}
    assert assigned["previous_assignee"] is None
    assert (pending["old_status"], pending["new_status"]) == ("open", "pending")
    assert resolved["ticket"]["status"] == "resolved"
    assert resolved["actor"] == {"id": agent.pk, "username": "ayla"}


def test_routing_an_agent_a_new_ticket_fires_ticket_assigned(
    webhook_endpoint, django_capture_on_commit_callbacks
):
    from tickets.routing import agent_go_active

    webhook_endpoint(["ticket.assigned"])
    agent = make_user("ayla")
    agent_go_active(user=agent)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    ticket.refresh_from_db()
    assert ticket.assignee_id == agent.pk
    delivery = WebhookDelivery.objects.get(event="ticket.assigned")
    assert delivery.payload["data"]["ticket"]["assignee"]["id"] == agent.pk


def test_no_subscribed_endpoint_costs_no_query(django_assert_num_queries):
    ticket = make_ticket()
    with django_assert_num_queries(0):
        assert webhooks.webhook_ticket_event(event="ticket.created", ticket=ticket) == []
        webhooks.webhook_ticket_status(ticket=ticket, old="open", actor_id=1)


def test_the_secret_is_never_logged(
    webhook_endpoint, webhook_receiver, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    endpoint, secret = webhook_endpoint(["ticket.created"])
    webhook_receiver.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket()
    _make_due(*WebhookDelivery.objects.all())
    webhooks.webhooks_sweep()
    assert len(webhook_receiver.requests) == 2
    assert caplog.records  # deliveries were logged...
    assert secret not in caplog.text  # ...without their secret
    assert secret not in str(WebhookDelivery.objects.get().__dict__)


def test_the_secret_is_encrypted_at_rest(webhook_endpoint):
    from django.db import connection

    endpoint, secret = webhook_endpoint(["ticket.created"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret FROM configuration_webhookendpoint WHERE id = %s", [endpoint.pk]
        )
        stored = cursor.fetchone()[0]
    assert secret.startswith("whsec_") and secret not in stored
    endpoint.refresh_from_db()
    assert endpoint.secret == secret
