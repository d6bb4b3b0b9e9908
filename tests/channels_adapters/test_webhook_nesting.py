"""Deeply nested JSON in a validly signed webhook: refused with a 400, never a server error."""

from __future__ import annotations

import pytest

from channels_adapters import services
from channels_adapters.models import InboundEvent
from tests.channels_adapters.conftest import make_channel

KINDS = ["telegram", "whatsapp", "messenger", "api"]


def _nested(depth: int) -> bytes:
    """A JSON object whose ``update_id``/``id`` is fine but one field nests ``depth`` lists."""
    head = b'{"update_id": 1, "id": "x", "customer": {"id": "c-1"}, "text": "hi", "entry": '
    return head + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_json_is_a_400_and_nothing_is_stored(kind, depth, channel, post_hook):
    account = channel(kind)

    response = post_hook(account, _nested(depth))

    assert response.status_code == 400
    assert "nested" in response.json()["error"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("kind", [*KINDS, "email"])
def test_an_event_that_nests_too_deeply_at_ingest_is_kept_and_marked_failed(kind, db):
    """Stored before the guard existed, or a mail (fetched, never refused): the event stays,
    failed with its error, for an admin to see; the ingest goes on with the next."""
    account = make_channel(kind)
    body = _nested_mail(3000) if kind == "email" else _nested(100_000)
    event = InboundEvent.objects.create(channel_account=account, dedupe_key="k", body=body)

    services.event_ingest(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.FAILED
    assert ("nested deeper" if kind != "email" else "RecursionError") in event.error


def _nested_mail(depth: int) -> bytes:
    head = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: deep\r\nMessage-ID: <d@x>\r\n"
    parts = [
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(depth)
    ]
    tail = b"Content-Type: text/plain\r\n\r\nhi\r\n"
    closing = b"".join(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    return head + b"MIME-Version: 1.0\r\n" + b"".join(parts) + tail + closing


def test_the_batch_ingest_fails_only_the_nested_event_and_goes_on(db):
    account = make_channel("api")
    good = [
        InboundEvent.objects.create(
            channel_account=account,
            dedupe_key=f"message:m-{n}",
            body=b'{"id": "m-%d", "customer": {"id": "c-1"}, "text": "hi"}' % n,
        )
        for n in range(3)
    ]
    deep = InboundEvent.objects.create(
        channel_account=account, dedupe_key="deep", body=_nested(100_000)
    )

    services.events_ingest_pending()

    statuses = dict(InboundEvent.objects.values_list("pk", "status"))
    assert statuses[deep.pk] == InboundEvent.Status.FAILED
    assert {statuses[e.pk] for e in good} == {InboundEvent.Status.PROCESSED}
