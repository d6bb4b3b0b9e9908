"""The web chat's background work: the offline form's acknowledgement by e-mail."""

from __future__ import annotations

import smtplib

from celery import shared_task

from channels_adapters.webchat import offline


@shared_task(
    name="channels_adapters.webchat.offline_acknowledge",
    autoretry_for=(OSError, smtplib.SMTPException),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=8,
)
def offline_acknowledge(*, email: str, name: str = "", company_name: str = "", language: str = ""):
    """Thin: the acknowledgement of an offline message (``offline.offline_acknowledge_send``)."""
    offline.offline_acknowledge_send(
        email=email, name=name, company_name=company_name, language=language
    )
