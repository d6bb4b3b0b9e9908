"""The support page's abuse limits: starting chats and sending messages per visitor and per
address (429, a translated "slow down", nothing stored past the limit), message size."""

from __future__ import annotations

import pytest
from django.test import Client

from channels_adapters import throttle
from channels_adapters.models import InboundEvent
from channels_adapters.webchat.adapter import MAX_TEXT_CHARS
from channels_adapters.webchat.limits import support_rate_limited
from tests.channels_adapters.webchat.conftest import say, start

pytestmark = pytest.mark.django_db

SLOW_DOWN = "You are going too fast. Please slow down and try again in a moment."


def test_a_visitor_flooding_100_messages_is_refused_after_the_limit_and_nothing_doubles(
    page, settings, django_capture_on_commit_callbacks
):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "20/minute"
    client = start(Client(), page, name="Flood")
    with django_capture_on_commit_callbacks(execute=True):
        answers = [say(client, page, f"spam {i}", f"c-{i:010d}") for i in range(100)]
    assert [a["status"] for a in answers[:20]] == [200] * 20
    assert {a["status"] for a in answers[20:]} == {429}
    assert answers[20]["error"] == SLOW_DOWN
    assert answers[20]["retry_after"] >= 1
    assert InboundEvent.objects.count() == 20
    texts = sorted(e.body for e in InboundEvent.objects.all())
    assert len(set(texts)) == 20


def test_a_refused_message_says_when_to_retry(page, settings):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "1/minute"
    client = start(Client(), page, name="A")
    say(client, page, "one", "c-0000000001")
    response = client.post(
        "/support/help/messages/",
        {"text": "two", "client_id": "c-0000000002"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_slow_down_message_is_translated(page, settings):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "1/minute"
    client = start(Client(), page, name="A")
    say(client, page, "bir", "c-0000000001")
    response = client.post(
        "/support/help/messages/",
        {"text": "iki", "client_id": "c-0000000002"},
        HTTP_ACCEPT="application/json",
        HTTP_ACCEPT_LANGUAGE="tr",
    )
    assert response.json()["error"].startswith("Çok hızlı gidiyorsunuz")


def test_the_message_limit_is_per_visitor(page, settings):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "2/minute"
    first, second = start(Client(), page, name="A"), start(Client(), page, name="B")
    assert [say(first, page, "x", f"c-a{i:09d}")["status"] for i in range(3)] == [200, 200, 429]
    assert say(second, page, "y", "c-b000000001")["status"] == 200


def test_the_message_limit_per_address_covers_every_visitor_behind_it(page, settings):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_ADDRESS = "3/minute"
    visitors = [start(Client(), page, name=str(i)) for i in range(4)]
    statuses = [say(v, page, "hi", f"c-{i:010d}")["status"] for i, v in enumerate(visitors)]
    assert statuses == [200, 200, 200, 429]
    other = start(Client(REMOTE_ADDR="10.0.0.9"), page, name="elsewhere")
    assert say(other, page, "hi", "c-9999999999")["status"] == 200


def test_starting_chats_is_limited_per_visitor_with_the_message_on_the_form(page, settings):
    settings.OMNICO_SUPPORT_RATE_START_PER_VISITOR = "2/hour"
    client = start(Client(), page, name="A")  # 1: the cookie's visitor is new (address only)
    start(client, page, name="A")  # 2
    start(client, page, name="A")  # 3
    response = client.post("/support/help/start/", {"name": "A", "email": "a@example.com"})
    assert response.status_code == 429
    assert response["Retry-After"]
    html = response.content.decode()
    assert SLOW_DOWN in html and 'role="alert"' in html
    assert 'value="a@example.com"' in html  # the answers are kept for the next try


def test_starting_chats_is_limited_per_address(page, settings):
    settings.OMNICO_SUPPORT_RATE_START_PER_ADDRESS = "2/hour"
    for _ in range(2):
        start(Client(), page, name="new visitor")
    assert Client().post("/support/help/start/", {"name": "third"}).status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.9").post("/support/help/start/", {}).status_code == 302


def test_a_message_over_the_size_limit_is_refused_and_not_stored(page):
    client = start(Client(), page, name="A")
    answer = say(client, page, "x" * (MAX_TEXT_CHARS + 1), "c-0000000001")
    assert answer["status"] == 400
    assert str(MAX_TEXT_CHARS) in answer["error"]
    assert not InboundEvent.objects.exists()


def test_when_the_counter_is_down_visitors_pass(page, settings, monkeypatch):
    settings.OMNICO_SUPPORT_RATE_MESSAGE_PER_VISITOR = "1/minute"

    def broken(_uri, **_options):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(throttle, "_limiters", {})
    monkeypatch.setattr(throttle, "storage_from_string", broken)
    client = start(Client(), page, name="A")
    assert [say(client, page, "x", f"c-{i:010d}")["status"] for i in range(3)] == [200] * 3


def test_the_decorator_limits_any_view_of_the_page(rf, settings):
    """support_rate_limited("offline") is what the offline form uses."""
    from django.http import HttpResponse

    settings.OMNICO_SUPPORT_RATE_OFFLINE_PER_ADDRESS = "1/hour"

    @support_rate_limited("offline")
    def offline(request):
        return HttpResponse("stored")

    assert offline(rf.post("/support/help/offline/")).status_code == 200
    refused = offline(rf.post("/support/help/offline/"))
    assert refused.status_code == 429
    assert SLOW_DOWN in refused.content.decode()
    as_json = offline(rf.post("/support/help/offline/", HTTP_ACCEPT="application/json"))
    assert as_json.status_code == 429 and b'"retry_after"' in as_json.content
