"""Fetching a customer's orders from the shop into the cache (against the loopback fake)."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from customers.models import WooCustomer, WooOrder
from customers.woocommerce import services
from customers.woocommerce.services import (
    woo_customer_refresh,
    woo_refresh_request,
    woo_refresh_request_many,
)
from tests.factories import make_customer


def _customer(email: str = "", phone: str = "", name: str = "Ayşe Yılmaz"):
    customer = make_customer(name=name)
    customer.email, customer.phone = email, phone
    customer.save(update_fields=["email", "phone"])
    return customer


def test_registered_customer_orders_are_cached_with_items_and_turkish_text(shop, connection):
    woo = shop.add_customer(email="ayse@example.com", first_name="Ayşe", last_name="Yılmaz")
    shop.add_order(customer=woo, total="249.90", items=[("Kırmızı kazak", 2), ("Şal", 1)])
    shop.add_order(customer=woo, status="completed", paid=False, total="99.00")
    shop.add_customer(email="someone@example.com")
    customer = _customer(email="ayse@example.com")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert record is not None
    assert record.woo_customer_id == woo["id"]
    assert record.error == "" and record.fetched_at is not None and record.order_count == 2
    newest, oldest = WooOrder.objects.filter(record=record).order_by("-created_at")
    assert (oldest.total, oldest.currency, oldest.status) == (
        Decimal("249.90"),
        "TRY",
        "processing",
    )
    assert [(line.name, line.quantity) for line in oldest.lines] == [
        ("Kırmızı kazak", 2),
        ("Şal", 1),
    ]
    assert oldest.paid_at is not None and oldest.payment_method == "Kredi kartı (iyzico)"
    assert oldest.shipping == "Yurtiçi Kargo"
    assert newest.paid_at is None
    assert all(call.authorized for call in shop.calls())


def test_every_page_is_read_up_to_the_cap(shop, connection, settings):
    woo = shop.add_customer(email="ayse@example.com")
    for _ in range(250):
        shop.add_order(customer=woo)
    customer = _customer(email="ayse@example.com")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert record.order_count == 250 and not record.truncated
    pages = [call.query["page"] for call in shop.calls("/orders") if "customer" in call.query]
    assert pages == ["1", "2", "3"]
    assert {call.query["per_page"] for call in shop.calls("/orders")} == {"100"}

    settings.OMNICO_WOO_MAX_PAGES = 2
    record = woo_customer_refresh(customer_id=customer.pk)
    assert record.order_count == 200 and record.truncated


def test_wrong_keys_keep_the_last_orders_and_say_so_in_plain_words(shop, connection, caplog):
    woo = shop.add_customer(email="ayse@example.com")
    shop.add_order(customer=woo)
    customer = _customer(email="ayse@example.com")
    woo_customer_refresh(customer_id=customer.pk)
    connection.consumer_secret = "cs_wrong_secret_value"
    connection.save()

    with caplog.at_level(logging.DEBUG):
        record = woo_customer_refresh(customer_id=customer.pk)

    assert "refused the keys (HTTP 401)" in record.error
    assert "Sorry, you cannot list resources." in record.error
    assert record.order_count == 1 and WooOrder.objects.filter(record=record).count() == 1
    assert "cs_wrong_secret_value" not in caplog.text and shop.key not in caplog.text


def test_a_shop_slower_than_the_timeout_is_an_error_not_a_wait(shop, connection):
    connection.timeout_seconds = 0.5
    connection.save()
    shop.delay = 1.5
    customer = _customer(email="ayse@example.com")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert record.error == "The shop did not answer within 0.5 seconds."
    assert record.fetched_at is None and record.requested_at is None


def test_a_customer_with_no_orders_is_fetched_with_none(shop, connection):
    shop.add_customer(email="ayse@example.com")
    customer = _customer(email="ayse@example.com")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert record.fetched_at is not None and record.order_count == 0 and record.error == ""
    assert record.looked_up == "ayse@example.com"


def test_a_guest_is_found_by_the_e_mail_on_their_orders(shop, connection):
    shop.add_order(email="Misafir@Example.com", total="10.00")
    shop.add_order(email="misafir@example.com.tr", total="20.00")  # contains it, not the same
    customer = _customer(email="misafir@example.com")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert record.woo_customer_id is None
    assert [o.total for o in WooOrder.objects.filter(record=record)] == [Decimal("10.00")]
    assert shop.calls("/customers")[0].query["email"] == "misafir@example.com"


def test_a_customer_known_only_by_phone_is_found_by_the_billing_phone(shop, connection):
    # The shop searches what the customer typed: written without spaces, in any prefix form.
    shop.add_order(phone="05321234567", total="30.00")
    shop.add_order(phone="+90 533 000 00 00", total="40.00")
    customer = make_customer(kind="whatsapp", external_id="905321234567")

    record = woo_customer_refresh(customer_id=customer.pk)

    assert [o.total for o in WooOrder.objects.filter(record=record)] == [Decimal("30.00")]
    assert shop.calls("/orders")[0].query["search"] == "5321234567"


def test_a_refresh_is_queued_once_while_it_runs_and_again_only_when_stale(
    connection, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    customer = _customer(email="ayse@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        assert woo_refresh_request(customer_id=customer.pk) is True
        assert woo_refresh_request(customer_id=customer.pk) is False  # already asked for
    assert queued == [[customer.pk]]

    WooCustomer.objects.filter(customer=customer).update(
        requested_at=None, fetched_at=services.timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert woo_refresh_request(customer_id=customer.pk) is False  # fresh
        assert woo_refresh_request(customer_id=customer.pk, force=True) is True
    assert queued == [[customer.pk], [customer.pk]]


def test_nothing_is_queued_without_an_enabled_shop(db, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", pytest.fail)
    assert woo_refresh_request_many(customer_ids=[_customer().pk]) == []


def test_a_shop_that_just_failed_is_not_asked_again_on_every_open(
    shop, connection, monkeypatch, django_capture_on_commit_callbacks
):
    customer = _customer(email="ayse@example.com")
    connection.consumer_key = "ck_revoked"
    connection.save()
    woo_customer_refresh(customer_id=customer.pk)  # fails: 401
    queued: list[list[int]] = []
    monkeypatch.setattr(services, "_enqueue", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        assert woo_refresh_request(customer_id=customer.pk) is False
        assert woo_refresh_request(customer_id=customer.pk, force=True) is True
    assert queued == [[customer.pk]]
