"""The customers app's Celery tasks (Celery finds them here)."""

from customers.woocommerce.tasks import woo_customer_refresh_task

__all__ = ["woo_customer_refresh_task"]
