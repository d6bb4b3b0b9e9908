"""Celery task of the e-mail channel (imported by channels_adapters.tasks for discovery)."""

from __future__ import annotations

from celery import shared_task

from channels_adapters.email import poller


@shared_task(name="channels_adapters.email.poll_mail_accounts", ignore_result=True)
def poll_mail_accounts() -> int:
    """Poll every enabled mail account once; returns how many new mails were stored.

    An account another poll is reading is skipped (its lock is held by a live poller only: a
    worker killed mid-poll frees it with its database connection, ``poll_lock.mail_poll_lock``)."""
    return sum(result.stored for result in poller.mail_accounts_poll())
