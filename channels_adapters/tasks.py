"""Thin Celery tasks: an id in, the service does the work."""

from __future__ import annotations

import random
from datetime import timedelta

from celery import shared_task

from channels_adapters import services
from channels_adapters.base import DeliveryError
from omnico.core.db import retry_on_lost_connection

DELIVERY_MAX_RETRIES = 5


@shared_task(name="channels_adapters.ingest_event", acks_late=True)
@retry_on_lost_connection
def ingest_event(event_id: int) -> None:
    # Safe to run twice: only a pending event is claimed (FOR UPDATE SKIP LOCKED).
    services.event_ingest(event_id=event_id)


@shared_task(name="channels_adapters.ingest_pending", acks_late=True, reject_on_worker_lost=True)
@retry_on_lost_connection
def ingest_pending(slot: int = 0) -> int:
    # Queued by services.ingest_kick; works pending events until none is left (SKIP LOCKED).
    # Safe to run twice, so a worker process lost mid-task gives the message back to the queue:
    # the task cleared its kick, and nothing else would come for the events it left.
    return services.events_ingest_pending(slot=slot)


@shared_task(name="channels_adapters.sweep_events")
@retry_on_lost_connection
def sweep_events(older_than_seconds: int = 60) -> int:
    return services.events_sweep(older_than=timedelta(seconds=older_than_seconds))


@shared_task(name="channels_adapters.sweep_outbound")
@retry_on_lost_connection
def sweep_outbound() -> int:
    queued, failed = services.outbound_sweep()
    return queued + failed


@shared_task(name="channels_adapters.fetch_attachment", acks_late=True)
@retry_on_lost_connection
def fetch_attachment(attachment_id: int) -> None:
    # Safe to run twice: each attempt is claimed; a failure waits for the sweep's next try.
    services.attachment_fetch(attachment_id=attachment_id)


@shared_task(name="channels_adapters.sweep_attachments")
@retry_on_lost_connection
def sweep_attachments() -> int:
    return services.attachments_fetch_sweep()


def _backoff(retries: int) -> int:
    """5 s, 10 s, 20 s, 40 s, 80 s (capped at 10 min), with jitter."""
    base = min(5 * 2**retries, 600)
    return base + random.randint(0, base // 2)  # noqa: S311


@shared_task(bind=True, name="channels_adapters.deliver_message", max_retries=DELIVERY_MAX_RETRIES)
@retry_on_lost_connection
def deliver_message(self, message_id: int) -> None:
    """Send a reply; transient failures retry with exponential backoff, then fail visibly.

    The retry number is the claim token (``Message.delivery_attempts``), so a redelivered copy
    of this task does not send the message twice.
    """
    try:
        services.message_deliver(message_id=message_id, attempt=self.request.retries)
    except DeliveryError as exc:  # transient: permanent ones are settled by the service
        if self.request.retries >= self.max_retries:
            services.message_fail(message_id=message_id, reason=str(exc))
            return
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


# The e-mail channel's periodic poll lives in its package; import it so Celery registers it.
from channels_adapters.email import tasks as email_tasks  # noqa: E402, F401
