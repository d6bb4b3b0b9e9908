"""The webhook view: who may post, what is stored, what the provider is answered."""

from __future__ import annotations

import json
import logging

import pytest
from django.urls import reverse

from channels_adapters import views
from channels_adapters.models import InboundEvent
from channels_adapters.signing import sign
from tests.channels_adapters.conftest import SECRET
from tickets.models import Message

TELEGRAM_TEXT = {
    "update_id": 5001,
    "message": {
        "message_id": 7,
        "date": 1700000000,
        "chat": {"id": 4242, "type": "private", "first_name": "Ayşe"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Ayşe", "last_name": "Yılmaz"},
        "text": "Siparişim nerede?",
    },
}


def _api_body(**overrides) -> bytes:
    data = {
        "id": "bip-1",
        "customer": {"id": "905551112233", "name": "Mehmet", "phone": "+905551112233"},
        "text": "Merhaba <b>destek</b>",
        "time": "2025-03-01T10:00:00+03:00",
        "attachments": [{"url": "https://cdn.example.com/a/receipt.pdf"}],
    }
    data.update(overrides)
    return json.dumps(data).encode()


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "messenger", "api"])
def test_bad_signature_is_refused_and_nothing_is_stored(kind, channel, post_hook):
    account = channel(kind)
    body = _api_body() if kind == "api" else json.dumps(TELEGRAM_TEXT).encode()
    wrong = {
        "telegram": {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "guess"},
        "api": {"HTTP_X_OMNICO_SIGNATURE": sign("guess", body)},
    }.get(kind, {"HTTP_X_HUB_SIGNATURE_256": sign("guess", body)})

    assert post_hook(account, body, headers=wrong).status_code == 403
    assert post_hook(account, body, headers={}).status_code == 403
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "messenger", "api"])
def test_malformed_json_is_a_400_and_not_stored(kind, channel, post_hook):
    account = channel(kind)

    response = post_hook(account, b'{"update_id": 1, "message": ')

    assert response.status_code == 400
    assert "malformed JSON" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_unknown_or_disabled_account_is_404(channel, client):
    channel("telegram", enabled=False)
    url = reverse("hooks:webhook", kwargs={"kind": "telegram", "name": "telegram-main"})
    assert client.post(url, data=b"{}", content_type="application/json").status_code == 404
    url = reverse("hooks:webhook", kwargs={"kind": "telegram", "name": "nobody"})
    assert client.post(url, data=b"{}", content_type="application/json").status_code == 404
    url = reverse("hooks:webhook", kwargs={"kind": "fax", "name": "telegram-main"})
    assert client.post(url, data=b"{}", content_type="application/json").status_code == 404


def test_same_telegram_update_twice_makes_one_message(channel, post_hook):
    account = channel("telegram")
    body = json.dumps(TELEGRAM_TEXT).encode()

    first = post_hook(account, body)
    second = post_hook(account, body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["duplicate"] is True
    message = Message.objects.select_related("ticket__customer").get()
    assert message.body == "Siparişim nerede?"
    assert message.ticket.customer.name == "Ayşe Yılmaz"
    assert message.ticket.source == "telegram"


def test_telegram_edited_message_is_a_new_message_marked_edited(channel, post_hook):
    account = channel("telegram")
    post_hook(account, json.dumps(TELEGRAM_TEXT).encode())
    edited = {
        "update_id": 5002,
        "edited_message": {**TELEGRAM_TEXT["message"], "edit_date": 1700000100, "text": "Düzelt"},
    }

    post_hook(account, json.dumps(edited).encode())

    first, second = Message.objects.order_by("id")
    assert second.ticket_id == first.ticket_id
    assert second.body == "Düzelt"
    assert second.meta["edited"] is True


def test_meta_subscription_handshake_echoes_the_challenge(channel, client):
    account = channel("whatsapp")
    url = reverse("hooks:webhook", kwargs={"kind": "whatsapp", "name": account.name})
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}

    ok = client.get(url, {**query, "hub.verify_token": "verify-me"})
    wrong = client.get(url, {**query, "hub.verify_token": "nope"})

    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert wrong.status_code == 403
    assert client.get(reverse("hooks:webhook", args=["telegram", "x"])).status_code == 404


def test_api_channel_message_becomes_a_ticket(channel, post_hook):
    account = channel("api")

    response = post_hook(account, _api_body())

    assert response.status_code == 200
    message = Message.objects.select_related("ticket__customer").get()
    assert message.body == "Merhaba <b>destek</b>"  # stored as text; templates escape it
    assert message.ticket.customer.name == "Mehmet"
    assert message.ticket.customer.phone == "+905551112233"
    assert message.sent_at.isoformat() == "2025-03-01T07:00:00+00:00"
    assert message.attachments.get().url == "https://cdn.example.com/a/receipt.pdf"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"id": ""}, "id is required"),
        ({"customer": "x"}, "customer is required"),
        ({"customer": {"name": "No id"}}, "customer.id is required"),
        ({"customer": {"id": "1", "email": "nope"}}, "customer.email"),
        ({"text": "", "attachments": []}, "text (or attachments) is required"),
        ({"time": "yesterday"}, "time must be an ISO-8601"),
        ({"attachments": [{"url": "javascript:alert(1)"}]}, "attachments[0].url"),
    ],
)
def test_api_channel_rejects_bad_fields_with_a_clear_400(overrides, error, channel, post_hook):
    account = channel("api")

    response = post_hook(account, _api_body(**overrides))

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_secrets_are_not_in_the_error_answers(channel, post_hook):
    account = channel("api")
    response = post_hook(account, b"not json")
    assert SECRET not in response.content.decode()


def test_a_flood_of_forged_requests_writes_one_warning_not_one_per_request(
    channel, post_hook, caplog, monkeypatch
):
    monkeypatch.setattr(views, "_warned", {})
    account = channel("api")
    body = _api_body()
    forged = {"HTTP_X_OMNICO_SIGNATURE": sign("guess", body)}

    with caplog.at_level(logging.WARNING, logger="channels_adapters.views"):
        for _attempt in range(50):
            assert post_hook(account, body, headers=forged).status_code == 403
        monkeypatch.setattr(views, "WARN_EVERY_SECONDS", 0.0)  # the next period begins
        post_hook(account, body, headers=forged)

    warnings = [r.getMessage() for r in caplog.records if "bad signature" in r.getMessage()]
    assert len(warnings) == 2
    assert "(and 49 more since the last warning)" in warnings[1]
    assert account.secret not in "".join(warnings)
