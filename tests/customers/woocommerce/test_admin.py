"""The WooCommerce connection in the admin: write-only keys, https, "Test connection"."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest
from django.db import connection as db
from django.urls import reverse

from customers.models import WooCommerceConnection
from customers.woocommerce import services
from customers.woocommerce.client import WooClient, WooError, store_url_problem
from omnico.core.crypto import decrypt


def _raw(column: str, pk: int) -> str:
    table = WooCommerceConnection._meta.db_table
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _post(**changes) -> dict[str, str]:
    return {
        "name": "Mağaza",
        "store_url": "https://shop.example.com",
        "enabled": "on",
        "consumer_key": "",
        "consumer_secret": "",
        "timeout_seconds": "4",
        "order_links": "hpos",
        **changes,
    }


def test_the_keys_are_encrypted_and_never_shown_back(admin_client):
    admin_client.post(
        reverse("admin:customers_woocommerceconnection_add"),
        _post(consumer_key="ck_plain_key_1", consumer_secret="cs_plain_secret_1"),
    )
    shop = WooCommerceConnection.objects.get()
    assert (shop.consumer_key, shop.consumer_secret) == ("ck_plain_key_1", "cs_plain_secret_1")
    assert "cs_plain_secret_1" not in _raw("consumer_secret", shop.pk)
    assert decrypt(_raw("consumer_secret", shop.pk)) == "cs_plain_secret_1"

    url = reverse("admin:customers_woocommerceconnection_change", args=[shop.pk])
    page = admin_client.get(url).content.decode()
    assert "ck_plain_key_1" not in page and "cs_plain_secret_1" not in page

    admin_client.post(url, _post(consumer_secret="cs_rotated"))
    shop.refresh_from_db()
    assert (shop.consumer_key, shop.consumer_secret) == ("ck_plain_key_1", "cs_rotated")


def test_a_store_over_plain_http_is_refused_unless_on_this_machine(admin_client, settings):
    settings.DEBUG = False
    response = admin_client.post(
        reverse("admin:customers_woocommerceconnection_add"),
        _post(store_url="http://shop.example.com"),
    )
    assert response.status_code == 200
    assert "must be reached over https" in response.content.decode()
    assert not WooCommerceConnection.objects.exists()
    assert store_url_problem("http://127.0.0.1:8080") == ""
    assert store_url_problem("https://shop.example.com/tr") == ""


def _run_action(admin_client, shop: WooCommerceConnection) -> str:
    response = admin_client.post(
        reverse("admin:customers_woocommerceconnection_changelist"),
        {"action": "test_connection", "_selected_action": [shop.pk]},
        follow=True,
    )
    return response.content.decode()


def test_test_connection_says_it_worked_with_the_number_of_orders(admin_client, shop, connection):
    shop.add_order(email="a@example.com")
    shop.add_order(email="b@example.com")
    assert "Connected: the shop answered and has 2 orders." in _run_action(admin_client, connection)


def test_test_connection_reports_wrong_keys(admin_client, shop, connection):
    connection.consumer_secret = "cs_wrong"
    connection.save()
    page = _run_action(admin_client, connection)
    assert "The shop refused the keys (HTTP 401)" in page and "cs_wrong" not in page


def test_test_connection_reports_an_address_without_woocommerce(admin_client, shop, connection):
    connection.store_url = shop.url + "/blog"
    connection.save()
    assert "No WooCommerce REST API at this address (HTTP 404)" in _run_action(
        admin_client, connection
    )


def test_test_connection_reports_a_slow_shop(admin_client, shop, connection):
    connection.timeout_seconds = 0.5
    connection.save()
    shop.delay = 1.5
    assert "The shop did not answer within 0.5 seconds." in _run_action(admin_client, connection)


def test_test_connection_reports_a_closed_port(admin_client, db):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    shop = WooCommerceConnection.objects.create(
        store_url=f"http://127.0.0.1:{port}", consumer_key="ck", consumer_secret="cs"
    )
    assert "Could not connect to the shop" in _run_action(admin_client, shop)


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (socket.gaierror(-2, "Name or service not known"), r"host name could not be found \(DNS\)"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS certificate"),
    ],
)
def test_dns_and_tls_failures_are_named(cause, expected):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(str(cause), request=request) from cause

    client = WooClient(
        store_url="https://shop.example.com",
        consumer_key="ck",
        consumer_secret="cs",
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(WooError, match=expected):
        client.probe()


def test_test_connection_without_keys_asks_for_them(db):
    shop = WooCommerceConnection.objects.create(store_url="https://shop.example.com")
    with pytest.raises(WooError, match="Set the consumer key"):
        services.woo_connection_test(connection=shop)
