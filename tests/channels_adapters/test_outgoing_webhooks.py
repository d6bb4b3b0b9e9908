"""Outgoing webhooks fired by the real entry points: a message ingested from a channel's
webhook, a rating given on the support page (tickets/webhooks.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.channels_adapters.webchat.conftest import page, say, start  # noqa: F401
from tests.factories import make_user
from tickets import services as ticket_services
from tickets.models import Ticket, WebhookDelivery

pytestmark = pytest.mark.django_db


def _api_body(text: str, message_id: str) -> bytes:
    return json.dumps(
        {
            "id": message_id,
            "customer": {"id": "crm-42", "name": "Mehmet"},
            "text": text,
        }
    ).encode()


def test_a_message_ingested_from_a_webhook_fires_created_and_received_once_each(
    channel, post_hook, webhook_endpoint, webhook_receiver
):
    webhook_endpoint(["ticket.created", "message.received"])
    account = channel("api")

    assert post_hook(account, _api_body("Merhaba <b>destek</b>", "m-1")).status_code == 200
    assert post_hook(account, _api_body("Merhaba <b>destek</b>", "m-1")).status_code == 200
    assert post_hook(account, _api_body("Bir şey daha", "m-2")).status_code == 200

    requests = webhook_receiver.wait_for(3)
    events = sorted(request.json["event"] for request in requests)
    assert events == ["message.received", "message.received", "ticket.created"]
    received = [r.json["data"] for r in requests if r.json["event"] == "message.received"]
    assert [data["message"]["text"] for data in received] == [
        "Merhaba <b>destek</b>",  # the text as the customer wrote it (JSON, not HTML)
        "Bir şey daha",
    ]
    ticket = Ticket.objects.get()
    assert {data["ticket"]["id"] for data in received} == {ticket.pk}
    assert received[0]["customer"]["name"] == "Mehmet"
    assert received[0]["ticket"]["channel"] == "api"
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == ["delivered"] * 3


def test_a_rating_on_the_support_page_fires_rating_given(
    page,  # noqa: F811
    webhook_endpoint,
    webhook_receiver,
    django_capture_on_commit_callbacks,
):
    webhook_endpoint(["rating.given"])
    client = start(Client(), page, name="Ayşe")
    with django_capture_on_commit_callbacks(execute=True):
        assert say(client, page, "Faturam yanlış", "c-0000000001")["status"] == 200
    ticket = Ticket.objects.get()
    ticket_services.ticket_set_status(ticket=ticket, status="resolved", actor=make_user())

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/support/help/rate/", {"rating": "4", "comment": "Hızlı"})

    [request] = webhook_receiver.wait_for(1)
    data = request.json["data"]
    assert request.json["event"] == "rating.given"
    assert data["rating"] == {"score": 4, "comment": "Hızlı"}
    assert data["ticket"]["id"] == ticket.pk
