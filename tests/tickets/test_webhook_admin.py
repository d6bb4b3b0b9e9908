"""The admin of outgoing webhooks: an endpoint's secret is shown once, rotates, a test event
and "send again" reach the receiver, and the lists are free of N+1."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from configuration.models import WebhookEndpoint
from tests.factories import make_ticket
from tickets.models import WebhookDelivery

pytestmark = pytest.mark.django_db

ENDPOINTS = "admin:configuration_webhookendpoint_changelist"
DELIVERIES = "admin:tickets_webhookdelivery_changelist"


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_adding_an_endpoint_shows_its_secret_once(
    admin_client, settings, webhook_receiver, django_capture_on_commit_callbacks
):
    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:configuration_webhookendpoint_add"),
            {
                "name": "CRM",
                "url": webhook_receiver.url,
                "events": ["ticket.created", "rating.given"],
                "enabled": "on",
            },
            follow=True,
        )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["ticket.created", "rating.given"]
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret in response.content.decode()  # shown on the page after saving...
    change = admin_client.get(
        reverse("admin:configuration_webhookendpoint_change", args=[endpoint.pk])
    )
    assert endpoint.secret not in change.content.decode()  # ...and never again
    assert endpoint.secret not in admin_client.get(reverse(ENDPOINTS)).content.decode()


def test_an_http_url_to_another_host_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:configuration_webhookendpoint_add"),
        {"name": "CRM", "url": "http://crm.example.com/hooks", "events": ["ticket.created"]},
    )
    assert response.status_code == 200
    assert "Webhook URLs must use https." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_the_secret_shows_the_new_one_and_signs_with_it(
    admin_client, webhook_endpoint, webhook_receiver
):
    endpoint, old = webhook_endpoint(["ticket.created"])
    response = admin_client.post(
        reverse(ENDPOINTS),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret_rotated_at is not None
    assert any(endpoint.secret in message for message in _messages(response)) or (
        endpoint.secret in response.content.decode()
    )


def test_send_a_test_event_reaches_the_receiver(
    admin_client, webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    endpoint, _secret = webhook_endpoint([])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse(ENDPOINTS), {"action": "send_test", "_selected_action": [endpoint.pk]}
        )
    [request] = webhook_receiver.wait_for(1)
    assert request.json["event"] == "webhook.test"
    assert WebhookDelivery.objects.get().state == "delivered"


def test_send_again_sends_a_given_up_delivery_once_more(
    admin_client, webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint(["ticket.created"])
    make_ticket()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(state="gave_up", attempts=6, last_status=500)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse(DELIVERIES), {"action": "send_again", "_selected_action": [delivery.pk]}
        )
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert len(webhook_receiver.requests) == 1


def test_a_delivery_shows_its_last_answer(admin_client, webhook_endpoint, webhook_receiver):
    from tickets import webhooks

    webhook_endpoint(["ticket.created"])
    webhook_receiver.answer(422)
    make_ticket()
    delivery = WebhookDelivery.objects.get()
    webhooks.webhook_deliver(delivery_id=delivery.pk)
    page = admin_client.get(reverse("admin:tickets_webhookdelivery_change", args=[delivery.pk]))
    assert "{&quot;status&quot;: 422}" in page.content.decode()


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_lists_cost_the_same_for_more_rows(admin_client, webhook_endpoint, webhook_receiver):
    webhook_endpoint(["message.received"], name="a")
    make_ticket()
    few = (_count(admin_client, reverse(ENDPOINTS)), _count(admin_client, reverse(DELIVERIES)))
    for name in "bcd":
        webhook_endpoint(["message.received"], name=name)
    for _ in range(3):
        make_ticket()
    assert WebhookDelivery.objects.count() == 13
    more = (_count(admin_client, reverse(ENDPOINTS)), _count(admin_client, reverse(DELIVERIES)))
    assert more == few
