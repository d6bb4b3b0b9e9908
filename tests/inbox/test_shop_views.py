"""The shop (WooCommerce) section of the ticket panel: rendered from the cache only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import WooCommerceConnection, WooCustomer
from customers.woocommerce import services
from customers.woocommerce.services import woo_customer_refresh
from tests.factories import make_customer, make_ticket
from tests.fakes.woocommerce import FakeWooCommerce

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shop():
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def connection(db, shop):
    return WooCommerceConnection.objects.create(
        store_url=shop.url, consumer_key=shop.key, consumer_secret=shop.secret, timeout_seconds=2
    )


@pytest.fixture
def queued(monkeypatch):
    """The refreshes the views queue (the task is not run)."""
    calls: list[int] = []
    monkeypatch.setattr(services, "_enqueue", calls.extend)
    return calls


@pytest.fixture
def ticket(db, account):
    customer = make_customer(name="Ayşe Yılmaz")
    customer.email = "ayse@example.com"
    customer.save(update_fields=["email"])
    return make_ticket(account=account, customer=customer)


def _fill(shop, ticket, orders: int) -> None:
    woo = shop.add_customer(email="ayse@example.com", first_name="Ayşe")
    for n in range(orders):
        shop.add_order(customer=woo, total=f"{n}.50", items=[("Kırmızı kazak", 2)])
    woo_customer_refresh(customer_id=ticket.customer_id)
    shop.requests.clear()


def test_the_panel_loads_the_shop_section_after_it_renders(agent_client, ticket, connection):
    response = agent_client.get(reverse("ticket-panel", args=[ticket.pk]))

    assert f'hx-get="{reverse("ticket-shop", args=[ticket.pk])}"' in response.content.decode()


def test_the_section_shows_the_latest_orders_from_the_cache_without_calling_the_shop(
    agent_client, ticket, connection, shop, queued
):
    _fill(shop, ticket, 7)

    response = agent_client.get(reverse("ticket-shop", args=[ticket.pk]), **HTMX)

    body = response.content.decode()
    assert shop.requests == [] and queued == []
    assert body.count('class="shop-order"') == 5
    assert "6.50 TRY" in body and "1.50 TRY" not in body
    assert "2 ×</span> Kırmızı kazak" in body
    assert "As of" in body and "Show all 7 orders" in body
    newest = WooCustomer.objects.get().orders.order_by("-created_at").first()
    assert (
        f"{shop.url}/wp-admin/admin.php?page=wc-orders&amp;action=edit&amp;id={newest.woo_id}"
        in body
    )
    assert 'hx-trigger="load delay' not in body  # nothing to wait for


def test_the_section_runs_the_same_queries_for_5_and_200_orders(
    agent_client, ticket, connection, shop, queued, django_assert_num_queries
):
    url = reverse("ticket-shop", args=[ticket.pk])
    _fill(shop, ticket, 5)
    agent_client.get(url, **HTMX)  # the session and the user, as on every later request
    with django_assert_num_queries(6):
        agent_client.get(url, **HTMX)
    _fill(shop, ticket, 195)
    with django_assert_num_queries(6):
        response = agent_client.get(url, **HTMX)
    assert "Show all 200 orders" in response.content.decode()


def test_a_missing_cache_queues_one_refresh_and_the_section_polls_until_it_lands(
    agent_client, ticket, connection, shop, queued, django_capture_on_commit_callbacks
):
    shop.add_order(email="ayse@example.com", total="12.00")
    url = reverse("ticket-shop", args=[ticket.pk])

    with django_capture_on_commit_callbacks(execute=True):
        first = agent_client.get(url, **HTMX).content.decode()
        again = agent_client.get(url, **HTMX).content.decode()

    assert queued == [ticket.customer_id] and shop.requests == []
    assert f'hx-get="{url}?poll=1" hx-trigger="load delay:2s"' in first
    assert "Fetching from the shop" in first and "Fetching from the shop" in again

    woo_customer_refresh(customer_id=ticket.customer_id)  # the task lands
    landed = agent_client.get(f"{url}?poll=1", **HTMX).content.decode()
    assert "12.00 TRY" in landed and "hx-trigger" not in landed


def test_polling_stops_after_a_few_tries(agent_client, ticket, connection, queued):
    WooCustomer.objects.create(
        connection=connection, customer=ticket.customer, requested_at=timezone.now()
    )
    body = agent_client.get(reverse("ticket-shop", args=[ticket.pk]) + "?poll=11", **HTMX)
    assert "hx-trigger" not in body.content.decode()


def test_a_shop_that_is_down_shows_the_last_orders_and_a_plain_error(
    agent_client, ticket, connection, shop, queued
):
    _fill(shop, ticket, 2)
    connection.consumer_key = "ck_revoked"
    connection.save()
    woo_customer_refresh(customer_id=ticket.customer_id)

    body = agent_client.get(reverse("ticket-shop", args=[ticket.pk]), **HTMX).content.decode()

    assert "The shop could not be read: The shop refused the keys (HTTP 401)" in body
    assert body.count('class="shop-order"') == 2


def test_refresh_by_hand_queues_a_refresh_of_a_fresh_cache(
    agent_client, ticket, connection, shop, queued, django_capture_on_commit_callbacks
):
    _fill(shop, ticket, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(reverse("ticket-shop-refresh", args=[ticket.pk]), **HTMX)
    assert queued == [ticket.customer_id]
    assert "Fetching from the shop" in response.content.decode()


def test_a_stale_cache_is_refreshed_when_the_ticket_is_opened(
    agent_client,
    ticket,
    connection,
    shop,
    queued,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    _fill(shop, ticket, 1)
    url = reverse("ticket-shop", args=[ticket.pk])
    agent_client.get(url, **HTMX)
    WooCustomer.objects.update(fetched_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(7):
        body = agent_client.get(url, **HTMX).content.decode()
    assert queued == [ticket.customer_id]
    assert body.count('class="shop-order"') == 1  # the cached order meanwhile


def test_show_all_pages_through_the_order_history(
    agent_client, ticket, connection, shop, queued, django_assert_num_queries
):
    _fill(shop, ticket, 45)
    url = reverse("ticket-shop-orders", args=[ticket.pk])
    agent_client.get(url, **HTMX)

    with django_assert_num_queries(6):
        first = agent_client.get(url, **HTMX).content.decode()
    last = agent_client.get(f"{url}?page=3", **HTMX).content.decode()

    assert first.count('class="shop-order"') == 20 and "Page 1 of 3" in first
    assert last.count('class="shop-order"') == 5 and "Page 3 of 3" in last
    assert "0.50 TRY" in last and shop.requests == []


def test_without_a_shop_the_section_goes_away(agent_client, ticket):
    response = agent_client.get(reverse("ticket-shop", args=[ticket.pk]), **HTMX)
    assert response.status_code == 200 and response.content == b""


def test_customer_text_from_the_shop_is_escaped(agent_client, ticket, connection, shop, queued):
    woo = shop.add_customer(email="ayse@example.com")
    shop.add_order(customer=woo, items=[("<script>alert(1)</script>", 1)])
    woo_customer_refresh(customer_id=ticket.customer_id)

    body = agent_client.get(reverse("ticket-shop", args=[ticket.pk]), **HTMX).content.decode()

    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
