"""The webhook fast path answers exactly as the plain Django view does, case by case."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from django.db import OperationalError

from channels_adapters import asgi as hooks_asgi
from channels_adapters import services, throttle
from channels_adapters.asgi import WebhookFastPath
from channels_adapters.signing import sign
from configuration.models import ChannelAccount
from omnico import asgi as omnico_asgi
from tests.channels_adapters.conftest import make_channel

pytestmark = pytest.mark.django_db(transaction=True)  # the fast path works in its own thread

PLAIN = omnico_asgi.django_asgi_app
FAST = WebhookFastPath(PLAIN)


@pytest.fixture(autouse=True)
def fresh_counts(settings):
    settings.OMNICO_WEBHOOK_RATE_STORAGE = "memory://"
    settings.OMNICO_API_MAX_BODY_BYTES = 4096
    hooks_asgi._accounts.clear()
    yield
    throttle.webhook_limits_reset()
    hooks_asgi._accounts.clear()


@dataclass
class Case:
    body: Callable[[int], bytes]
    path: str = "/hooks/api/api-main/"
    signed: bool = True
    host: str = "127.0.0.1"
    chunked: bool = False
    account: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    before: int = 0  # requests sent first (to spend a rate)
    database_down: bool = False  # storing the event fails as with the database out of reach


def _message(n: int) -> bytes:
    return json.dumps(
        {"id": f"m-{n}", "customer": {"id": "c-1", "name": "Ayşe"}, "text": "Sipariş nerede?"}
    ).encode()


def _nested(n: int) -> bytes:
    return (
        b'{"id": "x", "customer": {"id": "c"}, "text": "hi", "e": '
        + b"[" * 1500
        + b"]" * 1500
        + b"}"
    )


CASES = {
    "valid": Case(_message),
    "bad signature": Case(_message, signed=False),
    "unknown account": Case(_message, path="/hooks/api/nobody/"),
    "unknown channel": Case(_message, path="/hooks/fax/api-main/"),
    "disabled account": Case(_message, account={"enabled": False}),
    "malformed body": Case(lambda n: b'{"id": '),
    "not an object": Case(lambda n: b"[1, 2]"),
    "too large": Case(lambda n: _message(n) + b" " * 5000),
    "too large, no length": Case(lambda n: _message(n) + b" " * 5000, chunked=True),
    "wrong host": Case(_message, host="evil.example"),
    "rate limited": Case(
        _message, settings={"OMNICO_WEBHOOK_RATE_PER_ACCOUNT": "2/minute"}, before=2
    ),
    "address rate limited": Case(
        _message, settings={"OMNICO_WEBHOOK_RATE_PER_ADDRESS": "1/minute"}, before=1
    ),
    "nested JSON": Case(_nested),
    "database down": Case(_message, database_down=True),
}


def _post(app, case: Case, account, n: int) -> httpx.Response:
    body = case.body(n)
    headers = {"Content-Type": "application/json"}
    headers["X-Omnico-Signature"] = sign(account.secret if case.signed else "guess", body)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{case.host}") as c:
            if case.chunked:

                async def stream():
                    for start in range(0, len(body), 1000):
                        yield body[start : start + 1000]

                return await c.post(case.path, content=stream(), headers=headers)
            return await c.post(case.path, content=body, headers=headers)

    return asyncio.run(go())


def _database_down(**kwargs):
    raise OperationalError("couldn't get a connection after 0.80 sec")


def _answer(app, case: Case, settings, monkeypatch) -> tuple:
    for name, value in case.settings.items():
        setattr(settings, name, value)
    if case.database_down:
        monkeypatch.setattr(services, "event_record", _database_down)
    throttle.webhook_limits_reset()
    hooks_asgi._accounts.clear()
    account = make_channel("api", **case.account)
    for n in range(case.before):
        _post(app, case, account, 1000 + n)
    response = _post(app, case, account, 1)
    ChannelAccount.objects.filter(pk=account.pk).update(name=f"used-{account.pk}")
    retry_after = response.headers.get("retry-after")
    return (
        response.status_code,
        response.content,
        response.headers.get("content-type"),
        response.headers.get("x-content-type-options"),
        retry_after is not None and 0 < int(retry_after) <= 60,
    )


@pytest.mark.parametrize("name", list(CASES))
def test_the_fast_path_answers_as_the_django_view(name, settings, monkeypatch):
    case = CASES[name]

    plain = _answer(PLAIN, case, settings, monkeypatch)
    fast = _answer(FAST, case, settings, monkeypatch)

    assert fast == plain
    assert (
        plain[0]
        == {
            "valid": 200,
            "bad signature": 403,
            "unknown account": 404,
            "unknown channel": 404,
            "disabled account": 404,
            "malformed body": 400,
            "not an object": 400,
            "too large": 413,
            "too large, no length": 413,
            "wrong host": 400,
            "rate limited": 429,
            "address rate limited": 429,
            "nested JSON": 400,
            "database down": 503,
        }[name]
    )
    # Retry-After with every 429 and 503, only then
    assert plain[4] == (name.endswith("rate limited") or name == "database down")


def test_the_fast_path_can_be_switched_off(settings):
    settings.OMNICO_WEBHOOK_FAST_PATH = False
    assert omnico_asgi.build_application().application_mapping["http"] is PLAIN

    settings.OMNICO_WEBHOOK_FAST_PATH = True
    http = omnico_asgi.build_application().application_mapping["http"]
    assert isinstance(http, WebhookFastPath)


def test_the_fast_path_routes_by_django_s_own_url_patterns():
    assert hooks_asgi.hook_route("/hooks/telegram/bot-1/") == ("telegram", "bot-1")
    assert hooks_asgi.hook_route("/hooks/telegram/bot-1") is None  # no slash: Django's answer
    assert hooks_asgi.hook_route("/hooks/telegram/a/b/") is None
    assert hooks_asgi.hook_route("/inbox/") is None
