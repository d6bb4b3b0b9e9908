"""Reads of the WooCommerce cache for the agent screen: never a call to the shop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.utils import timezone

from customers.models import WooCommerceConnection, WooCustomer, WooOrder

#: Orders shown in the panel; the rest are behind "show all".
PANEL_ORDERS = 5
#: Orders per page of "show all".
HISTORY_PAGE = 20


@dataclass
class WooPanel:
    connection: WooCommerceConnection
    record: WooCustomer | None
    orders: list[WooOrder] = field(default_factory=list)

    @property
    def fetched(self) -> bool:
        return self.record is not None and self.record.fetched_at is not None

    @property
    def stale(self) -> bool:
        if self.record is None or self.record.fetched_at is None:
            return True
        age = timezone.now() - self.record.fetched_at
        return age > timedelta(seconds=settings.OMNICO_WOO_STALE_SECONDS)

    @property
    def refreshing(self) -> bool:
        return self.record is not None and self.record.requested_at is not None

    @property
    def more(self) -> int:
        """How many orders the panel does not show."""
        if self.record is None:
            return 0
        return max(0, self.record.order_count - len(self.orders))


def _with_links(connection: WooCommerceConnection, orders: list[WooOrder]) -> list[WooOrder]:
    for order in orders:
        order.admin_url = connection.order_admin_url(order.woo_id)  # type: ignore[attr-defined]
    return orders


def woo_panel(*, customer_id: int, limit: int = PANEL_ORDERS) -> WooPanel | None:
    """The customer's cached shop data for the panel (3 queries), or None without a shop."""
    connection = WooCommerceConnection.objects.filter(enabled=True).order_by().first()
    if connection is None:
        return None
    record = WooCustomer.objects.filter(connection=connection, customer_id=customer_id).first()
    if record is None:
        return WooPanel(connection=connection, record=None)
    orders = list(WooOrder.objects.filter(record=record).order_by("-created_at", "-woo_id")[:limit])
    return WooPanel(connection=connection, record=record, orders=_with_links(connection, orders))


def woo_order_history(
    *, customer_id: int, page: int | str | None
) -> tuple[WooPanel, Page[WooOrder]] | None:
    """One page of the customer's cached orders, newest first (4 queries), or None."""
    panel = woo_panel(customer_id=customer_id, limit=0)
    if panel is None or panel.record is None:
        return None
    orders = WooOrder.objects.filter(record=panel.record).order_by("-created_at", "-woo_id")
    paginator = Paginator(orders, HISTORY_PAGE)
    paginator.count = panel.record.order_count  # known: no COUNT(*)
    found = paginator.get_page(page)
    found.object_list = list(found.object_list)
    _with_links(panel.connection, found.object_list)
    return panel, found
