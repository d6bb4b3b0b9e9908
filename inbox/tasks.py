"""Background work for the agent screen."""

from __future__ import annotations

from celery import shared_task

from inbox.shop import woo_refresh_active


@shared_task(name="inbox.woo_refresh_active", ignore_result=True)
def woo_refresh_active_task() -> None:
    """Beat (and the embedded scheduler): refresh the shop data of customers being served."""
    woo_refresh_active()
