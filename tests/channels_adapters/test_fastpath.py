"""Webhook POSTs through the ASGI fast path (omnico.asgi): same answers as the Django view."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from channels_adapters import asgi as hooks_asgi
from channels_adapters.models import InboundEvent
from channels_adapters.signing import sign
from omnico.asgi import application
from tests.channels_adapters.conftest import make_channel
from tickets.models import Message

pytestmark = pytest.mark.django_db(transaction=True)  # the handler runs in its own thread


@pytest.fixture(autouse=True)
def fresh_account_cache():
    hooks_asgi._accounts.clear()
    yield
    hooks_asgi._accounts.clear()


def _body(external_id: str = "m-1") -> bytes:
    return json.dumps(
        {"id": external_id, "customer": {"id": "c-1", "name": "Ayşe"}, "text": "Sipariş nerede?"}
    ).encode()


def _post(path: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, content=body, headers=headers or {})

    return asyncio.run(go())


def _signed(account, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Omnico-Signature": sign(account.secret, body)}


def test_signed_post_is_stored_and_becomes_a_ticket_message():
    account = make_channel("api")
    body = _body()

    response = _post("/hooks/api/api-main/", body, _signed(account, body))

    assert response.status_code == 200
    assert response.json() == {"ok": True, "duplicate": False}
    assert response.headers["x-content-type-options"] == "nosniff"
    event = InboundEvent.objects.get()
    assert bytes(event.body) == body
    assert event.status == InboundEvent.Status.PROCESSED
    assert Message.objects.get().body == "Sipariş nerede?"


def test_a_redelivered_post_is_a_duplicate_and_stores_nothing_more():
    account = make_channel("api")
    body = _body()

    first = _post("/hooks/api/api-main/", body, _signed(account, body))
    second = _post("/hooks/api/api-main/", body, _signed(account, body))

    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert InboundEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_bad_signature_unknown_account_and_malformed_body_are_refused():
    account = make_channel("api")
    body = _body()

    wrong = {"X-Omnico-Signature": sign("not-the-secret", body)}
    assert _post("/hooks/api/api-main/", body, wrong).status_code == 403
    assert _post("/hooks/api/nobody/", body, _signed(account, body)).status_code == 404
    assert _post("/hooks/fax/api-main/", body, _signed(account, body)).status_code == 404
    broken = b'{"id": '
    response = _post("/hooks/api/api-main/", broken, _signed(account, broken))
    assert response.status_code == 400
    assert account.secret not in response.text
    assert not InboundEvent.objects.exists()


def test_a_host_outside_allowed_hosts_is_refused(settings):
    account = make_channel("api")
    settings.ALLOWED_HOSTS = ["omnico.example.com"]
    body = _body()

    assert _post("/hooks/api/api-main/", body, _signed(account, body)).status_code == 400
    assert not InboundEvent.objects.exists()


def test_a_body_over_the_upload_limit_is_413(settings):
    account = make_channel("api")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = _body() + b" " * 2048

    assert _post("/hooks/api/api-main/", body, _signed(account, body)).status_code == 413
    assert not InboundEvent.objects.exists()


def test_other_requests_still_go_through_django():
    make_channel("whatsapp")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(
                "/hooks/whatsapp/whatsapp-main/",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": "verify-me",
                    "hub.challenge": "7",
                },
            )

    response = asyncio.run(go())

    assert (response.status_code, response.text) == (200, "7")
