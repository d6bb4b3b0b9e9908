"""Thin Celery tasks: an id in, the service does the work."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from channels_adapters import services
from omnico.core.db import retry_on_lost_connection


@shared_task(name="channels_adapters.ingest_event", acks_late=True)
@retry_on_lost_connection
def ingest_event(event_id: int) -> None:
    # Safe to run twice: only a pending event is claimed (FOR UPDATE SKIP LOCKED).
    services.event_ingest(event_id=event_id)


@shared_task(name="channels_adapters.ingest_pending", acks_late=True, reject_on_worker_lost=True)
@retry_on_lost_connection
def ingest_pending(slot: int = 0) -> int:
    # Queued by services.ingest_kick; works pending events until none is left (SKIP LOCKED),
    # then lingers for the next ones. Safe to run twice, so a worker process lost mid-task gives
    # the message back to the queue: the task held its kick, and nothing else would come for the
    # events it left.
    return services.events_ingest_pending(slot=slot, linger=settings.OMNICO_INGEST_LINGER_MS / 1000)


@shared_task(name="channels_adapters.sweep_events")
@retry_on_lost_connection
def sweep_events(older_than_seconds: int | None = None) -> int:
    if older_than_seconds is None:
        return services.events_sweep()
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


#: How long one delivery may run: the slowest provider call (Telegram's 15 s read, a 30 s SMTP
#: step) with room to spare. The hard limit stays under the claim's length
#: (``tickets.delivery.DELIVERY_CLAIM``, 60 s), so a live worker never loses its claim mid-send;
#: a send over the soft limit is interrupted and shown failed with a retry button.
DELIVERY_SOFT_TIME_LIMIT = 40
DELIVERY_TIME_LIMIT = 50


@shared_task(
    bind=True,
    name="channels_adapters.deliver_message",
    max_retries=None,  # the message counts its attempts (services.DELIVERY_MAX_ATTEMPTS)
    soft_time_limit=DELIVERY_SOFT_TIME_LIMIT,
    time_limit=DELIVERY_TIME_LIMIT,
)
@retry_on_lost_connection
def deliver_message(self, message_id: int, attempt: int | None = None) -> None:
    """Send a reply; a transient failure runs this again after the service's backoff.

    ``attempt`` is the claim token (the message's attempts when this was queued), so a
    redelivered copy of this task, or the sweep's re-queue beside a late original, does not
    send the message twice. A task queued without one (by an earlier version) used its retry
    number for it.
    """
    if attempt is None:
        attempt = self.request.retries
    try:
        services.message_deliver(message_id=message_id, attempt=attempt)
    except services.DeliveryRetry as later:
        raise self.retry(
            args=(message_id,),
            kwargs={"attempt": later.attempt},
            countdown=later.countdown,
            exc=later,
        ) from later


# The e-mail channel's periodic poll lives in its package; import it so Celery registers it.
from channels_adapters.email import tasks as email_tasks  # noqa: E402, F401
from channels_adapters.webchat import tasks as webchat_tasks  # noqa: E402, F401


@shared_task(name="channels_adapters.whatsapp.sync_templates")
@retry_on_lost_connection
def sync_whatsapp_templates() -> int:
    # Every WhatsApp account with a WABA id: its approved templates, as Meta lists them now.
    from channels_adapters.whatsapp.templates import whatsapp_templates_sync_all

    synced, _failed = whatsapp_templates_sync_all()
    return synced


@shared_task(name="channels_adapters.answer_button_press")
@retry_on_lost_connection
def answer_button_press(account_id: int, query_id: str) -> bool:
    # Queued by the Telegram adapter once a customer's button press is stored.
    return services.button_press_answer(account_id=account_id, query_id=query_id)
