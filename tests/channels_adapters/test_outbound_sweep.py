"""Replies stuck in pending are queued again when their task is overdue, whatever their attempt
count: a lost first task, a retry lost with its worker, a claim whose worker died mid-send. They
fail only on the provider's own answer, and two copies of a task never send one reply twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from channels_adapters import services, tasks
from customers.services import customer_resolve
from tests.factories import make_user
from tickets.delivery import DELIVERY_CLAIM, message_delivery_claim
from tickets.models import Message
from tickets.receiving import Incoming, ticket_receive
from tickets.services import message_add_outbound

#: Just past the point where the sweep takes a task for lost.
OVERDUE = services.OUTBOUND_OVERDUE_AFTER + timedelta(seconds=1)


def _pending_reply(account, *, age: timedelta = timedelta(0), attempts: int = 0) -> Message:
    customer = customer_resolve(kind=account.kind, external_id="c-9")
    ticket = ticket_receive(
        channel_account=account,
        customer=customer,
        incoming=Incoming(body="Soru", external_id=f"in-{age}-{attempts}"),
    ).ticket
    # Stored, but its delivery task never ran (no on_commit here: the broker "lost" it).
    message = message_add_outbound(ticket=ticket, author=make_user(), body="Kargonuz yolda.")
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - age, delivery_attempts=attempts
    )
    return message


def _time_passes(message: Message, *, since_due: timedelta) -> None:
    """The reply's task was due ``since_due`` ago (its claim ended, its retry's time came)."""
    due = timezone.now() - since_due
    fields = {"delivery_next_at": due}
    if Message.objects.filter(pk=message.pk, delivery_claimed_until__isnull=False).exists():
        fields["delivery_claimed_until"] = due
    Message.objects.filter(pk=message.pk).update(**fields)


def _sent_callbacks(fake) -> int:
    return len(fake.calls("callback")) - fake.failed


@pytest.fixture
def fake(fake):
    """The fake provider, counting the calls it answered with an error."""
    answer = fake._answer
    fake.failed = 0

    def counting(req):
        status, content_type, body = answer(req)
        fake.failed += status >= 400
        return status, content_type, body

    fake._answer = counting
    return fake


def test_a_reply_whose_task_was_lost_is_sent_by_the_sweep(channel, fake):
    account = channel("api")
    lost = _pending_reply(account, age=timedelta(minutes=5))

    assert services.outbound_sweep() == (1, 0)

    lost.refresh_from_db()
    assert lost.delivery == Message.Delivery.SENT
    assert len(fake.calls("callback")) == 1


def test_a_reply_whose_worker_died_holding_its_claim_is_sent_once_the_claim_expires(channel, fake):
    account = channel("api")
    reply = _pending_reply(account)
    # A worker claimed it and died before it called the provider.
    assert message_delivery_claim(message_id=reply.pk, attempt=0) is not None
    assert services.outbound_sweep() == (0, 0)  # the claim is still live: hands off
    claim = Message.objects.get(pk=reply.pk).delivery_claimed_until
    assert claim is not None and claim > timezone.now() + DELIVERY_CLAIM - timedelta(seconds=5)

    _time_passes(reply, since_due=OVERDUE)
    assert services.outbound_sweep() == (1, 0)

    reply.refresh_from_db()
    assert (reply.delivery, reply.delivery_attempts) == (Message.Delivery.SENT, 2)
    assert reply.delivery_claimed_until is None and reply.delivery_next_at is None
    assert len(fake.calls("callback")) == 1


def test_a_reply_whose_retry_was_lost_is_queued_again_not_failed(channel, fake):
    account = channel("api")
    reply = _pending_reply(account)
    fake.fail_next(1, status=500)
    # Attempted once, the provider answered 500, and the retry task died with its worker.
    with pytest.raises(services.DeliveryRetry):
        services.message_deliver(message_id=reply.pk, attempt=0)
    reply.refresh_from_db()
    assert (reply.delivery, reply.delivery_attempts) == (Message.Delivery.PENDING, 1)
    assert "500" in reply.delivery_error
    assert reply.delivery_next_at > timezone.now()  # the retry's due time, for the sweep
    assert services.outbound_sweep() == (0, 0)

    # Long overdue (the old sweep failed such a reply after an hour): sent, not failed.
    _time_passes(reply, since_due=timedelta(hours=2))
    assert services.outbound_sweep() == (1, 0)

    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.SENT
    assert reply.delivery_error == ""
    assert (len(fake.calls("callback")), _sent_callbacks(fake)) == (2, 1)


def test_a_late_original_after_the_sweeps_requeue_sends_nothing(channel, fake):
    account = channel("api")
    reply = _pending_reply(account)
    fake.fail_next(1, status=500)
    with pytest.raises(services.DeliveryRetry) as retry:
        services.message_deliver(message_id=reply.pk, attempt=0)
    _time_passes(reply, since_due=OVERDUE)
    assert services.outbound_sweep() == (1, 0)
    assert _sent_callbacks(fake) == 1

    # The lost retry comes back after all (the broker's visibility timeout), with its token.
    tasks.deliver_message.apply(args=(reply.pk,), kwargs={"attempt": retry.value.attempt})
    # And the sweep's copy is redelivered too.
    tasks.deliver_message.apply(args=(reply.pk,), kwargs={"attempt": 1})

    assert _sent_callbacks(fake) == 1
    assert Message.objects.get(pk=reply.pk).delivery_attempts == 2


def test_a_live_claim_is_not_taken_by_another_copy_of_the_task(channel, fake):
    account = channel("api")
    reply = _pending_reply(account)
    assert message_delivery_claim(message_id=reply.pk, attempt=0) is not None

    # Whatever token it carries, nothing claims a reply whose claim has not expired.
    assert message_delivery_claim(message_id=reply.pk, attempt=1) is None
    assert message_delivery_claim(message_id=reply.pk) is None
    assert fake.requests == []


def test_a_provider_failing_across_requeues_ends_failed_with_its_error_after_six_tries(
    channel, fake
):
    account = channel("api")
    reply = _pending_reply(account)
    fake.fail_next(20, status=503)
    with pytest.raises(services.DeliveryRetry):
        services.message_deliver(message_id=reply.pk, attempt=0)

    # The retry was lost; the sweep's task starts at retry 0, yet the tries are counted on the
    # message: five more (eager retries), not six.
    _time_passes(reply, since_due=OVERDUE)
    assert services.outbound_sweep() == (1, 0)

    reply.refresh_from_db()
    assert len(fake.requests) == services.DELIVERY_MAX_ATTEMPTS == 6
    assert reply.delivery == Message.Delivery.FAILED
    assert "503" in reply.delivery_error


def test_a_reply_that_keeps_killing_its_worker_is_failed_not_sent_again(channel, fake):
    account = channel("api")
    reply = _pending_reply(account, attempts=services.OUTBOUND_MAX_CLAIMS)
    _time_passes(reply, since_due=OVERDUE)

    assert services.outbound_sweep() == (0, 1)

    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.FAILED
    assert "retry" in reply.delivery_error
    assert fake.requests == []


def test_recent_pending_replies_are_left_alone(channel, fake):
    account = channel("api")
    fresh = _pending_reply(account, age=timedelta(seconds=10))
    retrying = _pending_reply(account, age=timedelta(minutes=10), attempts=2)
    # Its retry is waiting out its backoff in the broker.
    Message.objects.filter(pk=retrying.pk).update(
        delivery_next_at=timezone.now() + timedelta(seconds=40)
    )

    assert services.outbound_sweep() == (0, 0)

    assert set(
        Message.objects.filter(pk__in=[fresh.pk, retrying.pk]).values_list("delivery", flat=True)
    ) == {Message.Delivery.PENDING}
    assert fake.calls("callback") == []


def test_a_requeued_reply_is_not_queued_again_at_every_sweep(channel, fake, monkeypatch):
    account = channel("api")
    reply = _pending_reply(account, age=timedelta(minutes=5))
    queued = []
    monkeypatch.setattr(tasks.deliver_message, "delay", lambda *a, **kw: queued.append((a, kw)))

    assert services.outbound_sweep() == (1, 0)
    assert services.outbound_sweep() == (0, 0)  # its task is not overdue yet
    _time_passes(reply, since_due=OVERDUE)
    assert services.outbound_sweep() == (1, 0)  # that one was lost too

    assert queued == [((reply.pk,), {}), ((reply.pk,), {})]


def test_the_schedule_retries_a_dead_workers_reply_within_a_minute_of_its_claim():
    sweep_every = settings.CELERY_BEAT_SCHEDULE["sweep-outbound-messages"]["schedule"]
    # Due (claim expired, retry time passed) → overdue → the next sweep queues it.
    assert services.OUTBOUND_OVERDUE_AFTER.total_seconds() + sweep_every <= 60
    # A live worker never loses its claim mid-send.
    assert DELIVERY_CLAIM.total_seconds() > tasks.DELIVERY_TIME_LIMIT
    # A retry's countdown, or a running delivery, never outlasts the broker's visibility
    # timeout (with Redis, the task would be handed to a second worker meanwhile).
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert max(services.outbound.delivery_backoff(n) for n in range(1, 20)) <= (
        services.DELIVERY_MAX_BACKOFF
    )
    assert visibility >= 2 * (services.DELIVERY_MAX_BACKOFF + tasks.DELIVERY_TIME_LIMIT)


def test_a_database_error_before_the_send_gives_the_claim_back(channel, fake, monkeypatch):
    from django.db import OperationalError

    from channels_adapters.services import outbound

    account = channel("api")
    reply = _pending_reply(account)

    class Dropped:
        class objects:  # noqa: N801
            @staticmethod
            def filter(**kwargs):
                raise OperationalError("terminating connection due to administrator command")

    with monkeypatch.context() as patched:
        patched.setattr(outbound, "Identity", Dropped)
        with pytest.raises(OperationalError):
            services.message_deliver(message_id=reply.pk, attempt=0)

    reply.refresh_from_db()
    assert (reply.delivery_attempts, reply.delivery_claimed_until) == (0, None)
    assert fake.requests == []
    # The task's one retry on a dropped connection (same token) sends it, once.
    services.message_deliver(message_id=reply.pk, attempt=0)
    reply.refresh_from_db()
    assert (reply.delivery, reply.delivery_attempts) == (Message.Delivery.SENT, 1)
    assert len(fake.calls("callback")) == 1


def test_a_retry_that_goes_through_brings_forward_the_accounts_replies_waiting_out_backoff(
    channel, fake, monkeypatch
):
    # The provider was down: both replies failed and wait out their backoff (up to two
    # minutes). The first retry that goes through shows the provider is back: the other is
    # queued at once with its claim token, not when its own backoff ends.
    account = channel("api")
    first = _pending_reply(account)
    second = _pending_reply(account, age=timedelta(seconds=1))
    fake.fail_next(2, status=503)
    for reply in (first, second):
        with pytest.raises(services.DeliveryRetry):
            services.message_deliver(message_id=reply.pk, attempt=0)
    queued: list[tuple] = []
    monkeypatch.setattr(tasks.deliver_message, "delay", lambda *a, **kw: queued.append((a, kw)))

    services.message_deliver(message_id=first.pk, attempt=1)  # its retry, the provider back

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivery == Message.Delivery.SENT
    assert queued == [((second.pk,), {"attempt": 1})]
    assert second.delivery == Message.Delivery.PENDING
    assert second.delivery_next_at <= timezone.now()
