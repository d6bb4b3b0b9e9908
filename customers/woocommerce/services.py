"""Writes of the WooCommerce cache: ask for a refresh (cheap, from a page), do it (a task).

``woo_refresh_request`` claims the customer's record with a conditional UPDATE, so many
agents opening one ticket queue one refresh; the task is queued after commit.
``woo_customer_refresh`` calls the shop and replaces the cached orders in one transaction; a
shop that fails leaves the last good orders and records its error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import ChannelKind
from customers.models import Customer, WooCommerceConnection, WooCustomer, WooOrder
from customers.woocommerce.client import WooClient, WooError

logger = logging.getLogger(__name__)

#: A refresh asked for and not finished after this long is asked for again.
REQUEST_TIMEOUT = timedelta(minutes=2)
#: After a failed refresh, opening a ticket asks the shop again only after this long (the
#: Refresh button asks at once).
ERROR_BACKOFF = timedelta(minutes=1)


def woo_connection_enabled() -> WooCommerceConnection | None:
    return WooCommerceConnection.objects.filter(enabled=True).order_by().first()


def woo_client(*, connection: WooCommerceConnection) -> WooClient:
    return WooClient(
        store_url=connection.store_url,
        consumer_key=connection.consumer_key,
        consumer_secret=connection.consumer_secret,
        timeout=connection.timeout_seconds,
        max_pages=settings.OMNICO_WOO_MAX_PAGES,
    )


def woo_connection_test(*, connection: WooCommerceConnection) -> str:
    """Read one order from the shop; a sentence saying it worked. Raises :class:`WooError`."""
    if not connection.consumer_key or not connection.consumer_secret:
        raise WooError(_("Set the consumer key and the consumer secret first."))
    total = woo_client(connection=connection).probe()
    if total is None:
        return _("Connected: the shop answered.")
    return _("Connected: the shop answered and has %(count)s orders.") % {"count": total}


# --- asking for a refresh --------------------------------------------------------------------


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.OMNICO_WOO_STALE_SECONDS)


def _enqueue(customer_ids: list[int]) -> None:
    from customers.woocommerce.tasks import woo_customer_refresh_task

    for customer_id in customer_ids:
        # Embedded, a background task runs on the scheduler's thread (omnico.celery), so the
        # page that asked does not wait for the shop; without a scheduler (tests, a shell) it
        # runs here and now.
        woo_customer_refresh_task.delay(customer_id)


def _due(records: QuerySet[WooCustomer], *, now: datetime, force: bool) -> QuerySet[WooCustomer]:
    """The records among ``records`` that a refresh may be queued for now."""
    if force:
        return records
    return records.filter(
        Q(requested_at__isnull=True) | Q(requested_at__lt=now - REQUEST_TIMEOUT),
        Q(fetched_at__isnull=True) | Q(fetched_at__lt=_stale_before()),
        # A shop that just failed is not asked again by every agent opening a ticket.
        Q(error_at__isnull=True) | Q(error_at__lt=now - ERROR_BACKOFF),
    )


def woo_refresh_request(
    *,
    customer_id: int,
    force: bool = False,
    connection: WooCommerceConnection | None = None,
    record: WooCustomer | None = None,
) -> bool:
    """Queue a refresh of the customer's orders if the cache is missing or stale, none is
    queued already and the shop did not just fail; ``force`` (the Refresh button): at once.
    True if one was queued (after commit). With the customer's ``record`` (the panel has it)
    this is one conditional UPDATE, and ``record.requested_at`` is set when it claimed."""
    if record is None:
        return bool(
            woo_refresh_request_many(customer_ids=[customer_id], force=force, connection=connection)
        )
    now = timezone.now()
    # The UPDATE claims it: of agents opening the ticket at once, one queues the refresh.
    if not _due(WooCustomer.objects.filter(pk=record.pk), now=now, force=force).update(
        requested_at=now
    ):
        return False
    record.requested_at = now
    transaction.on_commit(lambda: _enqueue([customer_id]))
    return True


def woo_refresh_request_many(
    *,
    customer_ids: Iterable[int],
    force: bool = False,
    connection: WooCommerceConnection | None = None,
) -> list[int]:
    """``woo_refresh_request`` for many customers (the schedule) in four queries; the ids
    queued."""
    connection = connection or woo_connection_enabled()
    ids = sorted(set(customer_ids))
    if connection is None or not ids:
        return []
    WooCustomer.objects.bulk_create(
        [WooCustomer(connection=connection, customer_id=i) for i in ids], ignore_conflicts=True
    )
    now = timezone.now()
    due = _due(
        WooCustomer.objects.filter(connection=connection, customer_id__in=ids), now=now, force=force
    )
    # Locked, then claimed by the UPDATE: a concurrent request finds nothing due.
    with transaction.atomic():
        claimed = list(due.select_for_update().values_list("pk", "customer_id"))
        if not claimed:
            return []
        WooCustomer.objects.filter(pk__in=[pk for pk, _ in claimed]).update(requested_at=now)
        queued = [customer_id for _, customer_id in claimed]
        transaction.on_commit(lambda: _enqueue(queued))
    return queued


# --- doing it ----------------------------------------------------------------------------------


def _aware(value: Any) -> datetime | None:
    """A WooCommerce ``*_gmt`` date ("2026-11-30T14:03:00", no zone) as an aware UTC time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value or "0")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return Decimal("0")


def _order(record: WooCustomer, data: dict[str, Any]) -> WooOrder | None:
    try:
        woo_id = int(data["id"])
    except (KeyError, TypeError, ValueError):
        return None
    shipping_lines = data.get("shipping_lines") or []
    methods = [
        str(line.get("method_title") or line.get("method_id") or "")
        for line in shipping_lines
        if isinstance(line, dict)
    ]
    items = [
        {
            "name": str(line.get("name") or line.get("sku") or "—"),
            "quantity": line.get("quantity", 1),
            "total": str(line.get("total") or ""),
        }
        for line in data.get("line_items") or []
        if isinstance(line, dict)
    ]
    return WooOrder(
        record=record,
        woo_id=woo_id,
        number=str(data.get("number") or woo_id)[:40],
        status=str(data.get("status") or "")[:40],
        created_at=_aware(data.get("date_created_gmt"))
        or _aware(data.get("date_created"))
        or timezone.now(),
        total=_decimal(data.get("total")),
        currency=str(data.get("currency") or "")[:8],
        paid_at=_aware(data.get("date_paid_gmt")),
        payment_method=str(data.get("payment_method_title") or data.get("payment_method") or "")[
            :200
        ],
        shipping=", ".join(m for m in methods if m)[:300],
        items=items,
    )


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone or "")


def _same_phone(a: str, b: str) -> bool:
    """Two phone numbers written differently (+90 532…, 0532…): the last 10 digits agree."""
    a, b = _digits(a), _digits(b)
    return len(a) >= 7 and len(b) >= 7 and a[-10:] == b[-10:]


def _contact(customer: Customer) -> tuple[str, str]:
    """The e-mail and the phone to look the customer up by."""
    identities = list(customer.identities.all())
    email = customer.email or next(
        (i.external_id for i in identities if i.kind == ChannelKind.EMAIL), ""
    )
    phone = customer.phone or next(
        (i.external_id for i in identities if i.kind == ChannelKind.WHATSAPP), ""
    )
    return email.strip(), phone.strip()


def _fetch(
    client: WooClient, email: str, phone: str
) -> tuple[int | None, list[dict[str, Any]], bool, str]:
    """(shop customer id, orders newest first, truncated, looked up by) from the shop."""
    woo_customer_id: int | None = None
    orders: dict[int, dict[str, Any]] = {}
    truncated = False
    if email:
        found = client.customers_by_email(email)
        if found:
            woo_customer_id = int(found[0]["id"])
            own, truncated = client.orders_of_customer(woo_customer_id)
            orders.update({int(o["id"]): o for o in own if "id" in o})
        # Guest orders (customer 0) carry the address only in their billing e-mail.
        matching, more = client.orders_matching(email)
        truncated = truncated or more
        for order in matching:
            billing = order.get("billing") or {}
            if str(billing.get("email") or "").strip().lower() == email.lower() and "id" in order:
                orders.setdefault(int(order["id"]), order)
        looked_up = email
    elif phone:
        matching, truncated = client.orders_matching(_digits(phone)[-10:])
        for order in matching:
            billing = order.get("billing") or {}
            if _same_phone(str(billing.get("phone") or ""), phone) and "id" in order:
                orders[int(order["id"])] = order
                woo_customer_id = woo_customer_id or int(order.get("customer_id") or 0) or None
        looked_up = phone
    else:
        return None, [], False, ""
    return woo_customer_id, list(orders.values()), truncated, looked_up


def woo_customer_refresh(*, customer_id: int) -> WooCustomer | None:
    """Fetch the customer's orders from the enabled shop into the cache. Never raises for the
    shop's failures: they are recorded on the customer's record (and the old orders kept)."""
    connection = woo_connection_enabled()
    customer = Customer.objects.prefetch_related("identities").filter(pk=customer_id).first()
    if connection is None or customer is None:
        return None
    record, _created = WooCustomer.objects.get_or_create(connection=connection, customer=customer)
    email, phone = _contact(customer)
    try:
        woo_customer_id, orders, truncated, looked_up = _fetch(
            woo_client(connection=connection), email, phone
        )
    except WooError as error:
        logger.warning("WooCommerce refresh of customer %s failed: %s", customer_id, error)
        WooCustomer.objects.filter(pk=record.pk).update(
            error=str(error)[:1000], error_at=timezone.now(), requested_at=None
        )
        record.refresh_from_db()
        return record
    rows = [row for row in (_order(record, data) for data in orders) if row is not None]
    with transaction.atomic():
        WooOrder.objects.filter(record=record).delete()
        WooOrder.objects.bulk_create(rows, batch_size=500)
        WooCustomer.objects.filter(pk=record.pk).update(
            woo_customer_id=woo_customer_id,
            looked_up=looked_up[:255],
            fetched_at=timezone.now(),
            order_count=len(rows),
            truncated=truncated,
            error="",
            error_at=None,
            requested_at=None,
        )
    record.refresh_from_db()
    return record
