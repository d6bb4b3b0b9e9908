"""Thin Celery tasks for tickets."""

from __future__ import annotations

from celery import shared_task

from omnico.core.db import retry_on_lost_connection
from omnico.core.tasks import BackgroundTask
from tickets import assignment, presence, routing


@shared_task(name="tickets.pool_drain")
@retry_on_lost_connection
def pool_drain() -> int:
    """The routing safety net (``CELERY_BEAT_SCHEDULE``): a ticket that entered the pool while
    a slot freed (routing skips its locks when it sees no free slot) waits at most one period.
    Every slot-freeing path drains on commit already; this catches a lost race or a crash."""
    return len(routing.pool_drain())


@shared_task(name="tickets.presence_away_sweep")
@retry_on_lost_connection
def presence_away_sweep() -> int:
    """Active agents with no agent screen open for ``OMNICO_AWAY_SECONDS`` become away
    (``CELERY_BEAT_SCHEDULE``); returns how many."""
    return len(presence.presence_away_sweep())


@shared_task(name="tickets.requeue_unanswered")
@retry_on_lost_connection
def requeue_unanswered() -> int:
    """No reply in time: tickets whose agent has not answered a waiting customer within the
    admin's limit go back to the pool (``tickets.assignment.tickets_requeue_unanswered``)."""
    return len(assignment.tickets_requeue_unanswered())


@shared_task(name="tickets.deliver_webhook", base=BackgroundTask)
@retry_on_lost_connection
def deliver_webhook(delivery_id: int) -> str | None:
    """POST one outgoing webhook (claimed first: a repeated task sends nothing twice)."""
    from tickets import webhooks

    return webhooks.webhook_deliver(delivery_id=delivery_id)


@shared_task(name="tickets.webhook_sweep")
@retry_on_lost_connection
def webhook_sweep() -> int:
    """Outgoing webhooks due again (retries, lost tasks, dead workers' claims): queued."""
    from tickets import webhooks

    return len(webhooks.webhooks_sweep())
