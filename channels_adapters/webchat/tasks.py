"""Celery tasks of the web chat: the transcript and away mails, and the offline form's
acknowledgement (imported by channels_adapters.tasks for discovery). The three mails are
background tasks: embedded, the page that asked for one never waits for the SMTP server."""

from __future__ import annotations

import smtplib

from celery import shared_task

from channels_adapters.webchat import aftercare, offline
from omnico.core.db import retry_on_lost_connection
from omnico.core.tasks import BackgroundTask


@shared_task(
    name="channels_adapters.webchat.transcript_send", ignore_result=True, base=BackgroundTask
)
@retry_on_lost_connection
def webchat_transcript_send(*, ticket_id: int, to: str, language: str) -> bool:
    return aftercare.transcript_send(ticket_id=ticket_id, to=to, language=language)


@shared_task(name="channels_adapters.webchat.away_mail_sweep", ignore_result=True)
@retry_on_lost_connection
def webchat_away_mail_sweep() -> int:
    """Queue one mail per batch of replies a visitor who asked for it has not seen."""
    due = aftercare.away_mail_due()
    for visitor_pk, ticket_id, through in due:
        webchat_away_mail_send.delay(visitor_pk=visitor_pk, ticket_id=ticket_id, through=through)
    return len(due)


@shared_task(
    name="channels_adapters.webchat.away_mail_send", ignore_result=True, base=BackgroundTask
)
@retry_on_lost_connection
def webchat_away_mail_send(*, visitor_pk: int, ticket_id: int, through: int) -> int:
    return aftercare.away_mail_send(visitor_pk=visitor_pk, ticket_id=ticket_id, through=through)


@shared_task(
    name="channels_adapters.webchat.offline_acknowledge",
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=8,
    base=BackgroundTask,
)
def offline_acknowledge(*, email: str, name: str = "", company_name: str = "", language: str = ""):
    """Thin: the acknowledgement of an offline message (``offline.offline_acknowledge_send``)."""
    offline.offline_acknowledge_send(
        email=email, name=name, company_name=company_name, language=language
    )
