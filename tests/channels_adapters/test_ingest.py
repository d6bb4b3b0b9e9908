"""The durable inbound path: nothing is lost, nothing is doubled, a bad event blocks nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.urls import reverse
from django.utils import timezone

from channels_adapters import services
from channels_adapters.models import InboundEvent
from channels_adapters.services import inbound, ingest
from customers.models import Customer, Identity
from tests.channels_adapters.conftest import make_channel, signature_headers
from tickets.models import Message, Ticket


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no handler catches it."""


def _update(update_id: int, text: str = "Merhaba", chat_id: int = 777) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1700000000,
                "chat": {"id": chat_id, "type": "private", "first_name": "Zeynep"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "Zeynep"},
                "text": text,
            },
        }
    ).encode()


class _FailOnce:
    """A post_save receiver on Message that raises once, after parse, inside the transaction."""

    def __init__(self, exc: BaseException):
        self.exc, self.fired = exc, False

    def __call__(self, sender, instance, created, **kwargs):
        if created and not self.fired:
            self.fired = True
            raise self.exc

    def __enter__(self):
        post_save.connect(self, sender=Message, weak=False)
        return self

    def __exit__(self, *exc):
        post_save.disconnect(self, sender=Message)


def test_worker_killed_mid_ingest_leaves_the_event_pending_and_the_sweep_finishes_it(channel):
    account = channel("telegram")
    event, _ = services.event_record(account=account, body=_update(1), dedupe_key="update:1")

    with _FailOnce(WorkerKilled()), pytest.raises(WorkerKilled):
        services.event_ingest(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PENDING
    assert not Message.objects.exists()  # the half-done work was rolled back
    assert services.events_sweep() == 0  # too recent to be called stuck

    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.events_sweep() == 1

    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert Message.objects.filter(channel_account=account).count() == 1


def test_a_failing_event_is_kept_with_its_error_and_does_not_block_the_next(channel, post_hook):
    account = channel("telegram")
    broken = json.dumps({"update_id": 1, "message": {"message_id": 1, "text": "no chat"}})

    post_hook(account, broken.encode())
    post_hook(account, _update(2, "Sonraki mesaj"))

    failed, processed = InboundEvent.objects.order_by("id")
    assert failed.status == InboundEvent.Status.FAILED
    assert "not a Telegram update" in failed.error
    assert failed.attempts == 1
    assert processed.status == InboundEvent.Status.PROCESSED
    assert Message.objects.get().body == "Sonraki mesaj"


def test_admin_retry_action_processes_a_failed_event_again(
    channel, post_hook, admin_client, django_capture_on_commit_callbacks
):
    account = channel("telegram")
    with _FailOnce(RuntimeError("database hiccup")):
        post_hook(account, _update(3, "Tekrar dene"))
    event = InboundEvent.objects.get()
    assert event.status == InboundEvent.Status.FAILED
    assert "database hiccup" in event.error

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:channels_adapters_inboundevent_changelist"),
            {"action": "retry", "_selected_action": [event.pk]},
            follow=True,
        )

    assert "1 of 1 events queued again" in response.content.decode()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert event.attempts == 2
    assert Message.objects.get().body == "Tekrar dene"


def test_failed_event_shows_its_error_to_admins(channel, post_hook, admin_client):
    account = channel("telegram")
    post_hook(account, b'{"update_id": 9, "message": {"message_id": 1}}')
    event = InboundEvent.objects.get()

    page = admin_client.get(
        reverse("admin:channels_adapters_inboundevent_change", args=[event.pk])
    ).content.decode()

    assert "not a Telegram update" in page
    assert account.secret not in page


pg_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="needs PostgreSQL row locks and real concurrency"
)


def _post_concurrently(account, bodies: list[bytes]) -> list[int]:
    from django.test import Client

    url = reverse("hooks:webhook", kwargs={"kind": account.kind, "name": account.name})
    barrier = threading.Barrier(len(bodies))
    codes: list[int] = []

    def post(body: bytes) -> None:
        try:
            barrier.wait()
            response = Client().post(
                url, data=body, content_type="application/json", **signature_headers(account, body)
            )
            codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return codes


@pg_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_make_one_message(fake):
    account = make_channel("telegram", fake)

    codes = _post_concurrently(account, [_update(42)] * 4)

    assert codes == [200] * 4
    assert InboundEvent.objects.count() == 1
    assert Message.objects.count() == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


@pg_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_messages_of_a_new_customer_open_one_ticket(fake):
    account = make_channel("telegram", fake)

    codes = _post_concurrently(account, [_update(n, f"mesaj {n}") for n in range(50, 54)])

    assert codes == [200] * 4
    assert Ticket.objects.count() == 1
    assert Message.objects.count() == 4
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


@pg_only
@pytest.mark.django_db(transaction=True)
def test_parallel_batches_from_the_same_new_senders_make_one_customer_and_ticket_each(
    fake, monkeypatch
):
    """Two ingest slots read ahead the same ten first-time senders at once: each sender ends
    up with one customer (no orphan left by the slot that lost), one ticket, every message."""
    monkeypatch.setattr(inbound, "ingest_kick", lambda **kw: False)  # ingest only below
    account = make_channel("api", fake)
    ids = []
    for n in range(40):
        body = json.dumps({"id": f"p-{n}", "customer": {"id": f"new-{n % 10}"}, "text": f"{n}"})
        event, _created = services.event_record(
            account=account, body=body.encode(), dedupe_key=f"message:p-{n}"
        )
        ids.append(event.pk)
    barrier, read_ahead = threading.Barrier(2), threading.Barrier(2)
    handled: list[int | None] = []
    create_many = ingest.customers_create_many

    def both_have_read(**kw):  # both slots found none of the senders before either creates them
        read_ahead.wait(10)
        return create_many(**kw)

    monkeypatch.setattr(ingest, "customers_create_many", both_have_read)

    def slot(batch: list[int]) -> None:
        try:
            barrier.wait()
            handled.append(ingest._ingest_together(batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=slot, args=(batch,)) for batch in (ids[:20], ids[20:])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert handled == [20, 20]  # neither batch fell back to one event at a time
    assert Customer.objects.count() == Identity.objects.count() == 10
    assert Ticket.objects.count() == 10
    assert Message.objects.count() == 40
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
