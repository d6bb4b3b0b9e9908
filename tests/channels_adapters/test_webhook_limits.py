"""What a webhook may cost: a body no bigger than the channel's provider sends, and a rate per
account and per client address (429 with Retry-After; providers retry, nothing is lost)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from channels_adapters import throttle
from channels_adapters.asgi import WebhookFastPath
from channels_adapters.models import InboundEvent
from tests.channels_adapters.conftest import signature_headers

MIB = 1024 * 1024


def _forget_counts() -> None:
    if limiter := throttle._limiters.get(("memory://", throttle.HOOKS_PREFIX)):
        limiter.storage.reset()


@pytest.fixture(autouse=True)
def counts_in_memory(settings):
    settings.OMNICO_WEBHOOK_RATE_STORAGE = "memory://"
    _forget_counts()
    yield
    _forget_counts()


def _message(n: int = 1, pad: int = 0) -> bytes:
    data = {"id": f"m-{n}", "customer": {"id": "c-1"}, "text": "Merhaba"}
    return json.dumps(data).encode() + b" " * pad


def _whatsapp(pad: int) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": []}).encode() + b" " * pad


def test_a_telegram_body_over_1_mib_is_413_and_not_stored(channel, post_hook):
    account = channel("telegram")
    body = json.dumps({"update_id": 1}).encode() + b" " * MIB

    assert post_hook(account, body).status_code == 413
    assert not InboundEvent.objects.exists()


def test_a_whatsapp_body_may_be_as_big_as_meta_sends_but_no_bigger(channel, post_hook):
    account = channel("whatsapp")

    assert post_hook(account, _whatsapp(2 * MIB)).status_code == 200
    assert post_hook(account, _whatsapp(3 * MIB)).status_code == 413
    assert InboundEvent.objects.count() == 1


def test_the_api_channel_keeps_its_documented_limit(channel, post_hook, settings):
    account = channel("api")
    assert post_hook(account, _message(1, pad=MIB - 200)).status_code == 200

    settings.OMNICO_API_MAX_BODY_BYTES = 4096
    assert post_hook(account, _message(2, pad=5000)).status_code == 413


def _fast_path(kind_name: str, headers: list[tuple[bytes, bytes]], chunks):
    """Drive the fast path with a body of ``chunks``; return (status, bytes it read)."""
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/hooks/{kind_name}/",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("198.51.100.7", 40000),
    }

    async def never(*_args):
        raise AssertionError("the request reached Django")

    asyncio.run(WebhookFastPath(never)(scope, receive, send))
    return sent[0]["status"], read


def test_the_fast_path_refuses_a_declared_oversize_body_without_reading_it(channel):
    channel("telegram")
    ten_mib = iter([b" " * (64 * 1024)] * 160)

    status, read = _fast_path(
        "telegram/telegram-main", [(b"content-length", str(10 * MIB).encode())], ten_mib
    )

    assert (status, read) == (413, 0)


def test_the_fast_path_stops_reading_an_undeclared_body_at_the_limit(channel):
    channel("telegram")
    ten_mib = iter([b" " * (64 * 1024)] * 160)

    status, read = _fast_path("telegram/telegram-main", [], ten_mib)

    assert status == 413
    assert read <= MIB + 64 * 1024


def _post(client, account, body: bytes, address: str):
    url = reverse("hooks:webhook", kwargs={"kind": account.kind, "name": account.name})
    return client.post(
        url,
        data=body,
        content_type="application/json",
        REMOTE_ADDR=address,
        **signature_headers(account, body),
    )


def test_an_account_over_its_rate_is_told_when_to_retry(channel, client, settings):
    settings.OMNICO_WEBHOOK_RATE_PER_ACCOUNT = "3/minute"
    busy, quiet = channel("api"), channel("telegram")

    answers = [_post(client, busy, _message(n), f"198.51.100.{n}") for n in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1].json() == {"error": "too many requests"}
    assert InboundEvent.objects.count() == 3
    tg = json.dumps({"update_id": 9}).encode()
    assert _post(client, quiet, tg, "198.51.100.9").status_code == 200  # its own count


def test_an_address_over_its_rate_is_refused_before_any_lookup(
    channel, client, settings, django_assert_num_queries
):
    settings.OMNICO_WEBHOOK_RATE_PER_ADDRESS = "2/minute"
    account = channel("api")
    for n in range(2):
        _post(client, account, _message(n), "203.0.113.5")

    with django_assert_num_queries(0):
        refused = _post(client, account, _message(5), "203.0.113.5")

    assert refused.status_code == 429
    assert _post(client, account, _message(6), "203.0.113.6").status_code == 200


def test_when_the_count_cannot_be_kept_webhooks_still_get_in(channel, post_hook, settings):
    settings.OMNICO_WEBHOOK_RATE_STORAGE = "redis://127.0.0.1:1/0"  # nothing listens there

    assert post_hook(channel("api"), _message()).status_code == 200


@pytest.mark.services
@pytest.mark.skipif(
    not os.environ.get("OMNICO_TEST_SERVICES"), reason="needs the Redis scripts/test starts"
)
def test_in_the_full_stack_the_count_is_kept_in_redis(channel, client, settings):
    import redis

    settings.OMNICO_WEBHOOK_RATE_STORAGE = django_settings.REDIS_URL
    settings.OMNICO_WEBHOOK_RATE_PER_ADDRESS = "2/minute"
    account = channel("api")
    address = f"rate-{uuid.uuid4().hex}"  # apart from every other test's counts

    statuses = [_post(client, account, _message(n), address).status_code for n in range(3)]

    assert statuses == [200, 200, 429]
    keys = redis.Redis.from_url(django_settings.REDIS_URL).keys(f"omnico-hooks*{address}*")
    assert keys


def test_the_first_burst_builds_one_counter_even_on_many_threads(monkeypatch, settings):
    """A burst's first requests arrive together, each on its own thread."""
    import threading
    import time as real_time

    built = []
    real = throttle.storage_from_string

    def slow_storage(uri, **options):
        built.append(uri)
        real_time.sleep(0.05)  # a client library being imported meanwhile
        return real(uri, **options)

    monkeypatch.setattr(throttle, "storage_from_string", slow_storage)
    monkeypatch.setattr(throttle, "_limiters", {})
    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                throttle.webhook_throttle(kind="api", name="burst", address="203.0.113.1")
            )
        )
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert built == ["memory://"]
    assert answers == [None] * 16


def test_a_counter_that_cannot_be_built_lets_webhooks_in(monkeypatch, channel, post_hook):
    def broken(uri, **options):
        raise RuntimeError("The minimum version of 3.0 for 'redis' could not be found")

    monkeypatch.setattr(throttle, "storage_from_string", broken)
    monkeypatch.setattr(throttle, "_limiters", {})

    assert post_hook(channel("api"), _message()).status_code == 200
