"""The raw payload behind a customer's message is one click away for staff, escaped, and
refused by the server to agents who are not staff."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from channels_adapters.models import InboundEvent
from tests.factories import make_customer, make_user
from tickets.receiving import Incoming, ticket_receive

PAYLOAD = {"update_id": 1, "message": {"hologram": {"title": "<script>alert(1)</script>"}}}


@pytest.fixture
def message(db, account):
    event = InboundEvent.objects.create(
        channel_account=account, dedupe_key="update:1", body=json.dumps(PAYLOAD).encode()
    )
    return ticket_receive(
        channel_account=account,
        customer=make_customer(),
        incoming=Incoming(
            body="Hologram: <script>alert(1)</script>",
            external_id="1:7",
            meta={"inbound_event": event.pk, "types": ["hologram"]},
        ),
    ).message


def test_staff_read_the_raw_payload_escaped(client, message):
    client.force_login(make_user("lead", staff=True))

    response = client.get(reverse("message-raw", args=[message.pk]))

    assert response.status_code == 200
    text = response.content.decode()
    assert "&quot;hologram&quot;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text


def test_an_agent_who_is_not_staff_is_refused_the_raw_payload(agent_client, message):
    response = agent_client.get(reverse("message-raw", args=[message.pk]))

    assert response.status_code == 403
    assert b"hologram" not in response.content


def test_a_visitor_who_is_not_signed_in_gets_no_raw_payload(client, message):
    response = client.get(reverse("message-raw", args=[message.pk]))

    assert response.status_code == 302
    assert b"hologram" not in response.content


def test_a_message_with_no_stored_event_has_no_raw_payload(client, message):
    client.force_login(make_user("lead", staff=True))
    message.meta = {}
    message.save(update_fields=["meta"])

    assert client.get(reverse("message-raw", args=[message.pk])).status_code == 404


def test_the_ticket_shows_the_raw_disclosure_to_staff_only(client, agent, message):
    url = reverse("ticket-detail", args=[message.ticket_id])
    raw_url = reverse("message-raw", args=[message.pk])
    client.force_login(agent)

    as_agent = client.get(url).content.decode()
    client.force_login(make_user("lead", staff=True))
    as_staff = client.get(url).content.decode()

    assert "Hologram: &lt;script&gt;" in as_agent
    assert raw_url not in as_agent
    assert raw_url in as_staff
