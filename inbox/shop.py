"""The customer's shop (WooCommerce) beside the ticket: which customers to keep fresh."""

from __future__ import annotations

from customers.woocommerce.services import woo_connection_enabled, woo_refresh_request_many
from tickets.models import Ticket, TicketStatus

#: Tickets whose customers' orders the schedule keeps fresh.
SERVED_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING)


def woo_refresh_active() -> list[int]:
    """Queue a refresh for every customer of an open or pending ticket whose cached orders are
    stale; the customer ids queued."""
    connection = woo_connection_enabled()
    if connection is None:
        return []
    customer_ids = (
        Ticket.objects.filter(status__in=SERVED_STATUSES)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    return woo_refresh_request_many(customer_ids=list(customer_ids), connection=connection)
