"""Thin tasks: an id in, the service does the work."""

from __future__ import annotations

from celery import shared_task

from customers.woocommerce.services import woo_customer_refresh
from omnico.core.tasks import BackgroundTask


@shared_task(name="customers.woo_customer_refresh", ignore_result=True, base=BackgroundTask)
def woo_customer_refresh_task(customer_id: int) -> None:
    woo_customer_refresh(customer_id=customer_id)
