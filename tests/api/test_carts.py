"""Carts: a shop pushes its carts and orders, idempotent by its own id."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from configuration.models import ApiAuditLog, ChannelKind
from customers.models import Customer, Identity, ShoppingCart
from tests.api.conftest import error
from tests.factories import make_customer

CARTS = "/api/v1/carts/"


def _cart(**overrides):
    return {
        "email": "ayse@example.com",
        "name": "Ayşe Yılmaz",
        "source": "woocommerce",
        "external_id": "cart-42",
        "status": "added",
        "items": [{"name": "Kettle", "quantity": 2, "price": "149.90", "sku": "K-1"}],
        "total": "299.80",
        "currency": "try",
        **overrides,
    }


def test_a_first_push_creates_the_cart_and_a_customer_known_by_email(api):
    response = api.post(CARTS, _cart())
    assert response.status_code == 201, response.json()
    cart = ShoppingCart.objects.get()
    assert (cart.source, cart.external_id, cart.status, cart.currency) == (
        "woocommerce",
        "cart-42",
        "added",
        "TRY",
    )
    assert cart.lines[0].quantity == 2
    assert str(cart.lines[0].price) == "149.90"
    identity = Identity.objects.get(kind=ChannelKind.EMAIL)
    assert identity.external_id == "ayse@example.com"
    assert identity.customer_id == cart.customer_id
    assert ApiAuditLog.objects.get().object_id == str(cart.pk)


def test_pushing_the_same_cart_again_changes_nothing_and_keeps_one_row(api):
    first = api.post(CARTS, _cart()).json()
    again = api.post(CARTS, _cart())
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert ShoppingCart.objects.count() == 1
    assert Customer.objects.count() == 1


def test_a_later_push_updates_status_and_items(api):
    now = timezone.now()
    api.post(CARTS, _cart(updated_at=now.isoformat()))
    later = (now + timedelta(minutes=5)).isoformat()
    api.post(CARTS, _cart(status="converted", items=[], total="0", updated_at=later))
    cart = ShoppingCart.objects.get()
    assert (cart.status, cart.items, cart.total) == ("converted", [], 0)


def test_an_older_push_arriving_late_does_not_go_back_in_time(api):
    now = timezone.now()
    api.post(CARTS, _cart(status="abandoned", updated_at=now.isoformat()))
    stale = (now - timedelta(minutes=5)).isoformat()
    response = api.post(CARTS, _cart(status="added", updated_at=stale))
    assert response.status_code == 200
    assert ShoppingCart.objects.get().status == "abandoned"


def test_carts_of_different_shops_with_the_same_id_are_different_rows(api):
    api.post(CARTS, _cart())
    api.post(CARTS, _cart(source="other-shop"))
    assert ShoppingCart.objects.count() == 2


def test_a_cart_for_a_known_customer_id(api):
    customer = make_customer()
    response = api.post(CARTS, _cart(email=None, customer=customer.pk) | {"email": None})
    assert response.status_code == 400  # email null is not an e-mail
    payload = _cart(customer=customer.pk)
    del payload["email"]
    assert api.post(CARTS, payload).status_code == 201
    assert ShoppingCart.objects.get().customer_id == customer.pk


def test_a_bad_push_is_400_naming_the_fields(api):
    payload = _cart(status="lost", total="abc", external_id="")
    del payload["email"]
    response = api.post(CARTS, payload)
    assert response.status_code == 400
    assert {"status", "total", "external_id"} <= set(error(response)["fields"])
    assert not ShoppingCart.objects.exists()


def test_pushing_carts_needs_the_carts_scope(make_api):
    api = make_api(scopes=["customers:read", "customers:write"])
    response = api.post(CARTS, _cart())
    assert response.status_code == 403
    assert not ShoppingCart.objects.exists()
