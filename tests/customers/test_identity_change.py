"""customer_identity_change: a customer who now goes by another id on a channel."""

from __future__ import annotations

import pytest

from customers.models import Customer, Identity
from customers.services import customer_identity_change, customer_resolve


@pytest.fixture
def ayse(db):
    customer = customer_resolve(kind="whatsapp", external_id="905550000001", name="Ayşe")
    customer.phone = "905550000001"
    customer.save()
    return customer


def test_the_identity_takes_the_new_id_and_the_new_id_finds_the_customer(ayse):
    move = customer_identity_change(
        kind="whatsapp", external_id="905550000001", new_external_id="905550000002"
    )

    assert move.customer == ayse and move.moved
    assert customer_resolve(kind="whatsapp", external_id="905550000002") == ayse
    assert not Identity.objects.filter(external_id="905550000001").exists()
    ayse.refresh_from_db()
    assert ayse.phone == "905550000002"


def test_a_new_id_that_already_wrote_joins_the_customer(ayse):
    other = customer_resolve(kind="whatsapp", external_id="905550000002", name="905550000002")

    customer_identity_change(
        kind="whatsapp", external_id="905550000001", new_external_id="905550000002"
    )

    identity = Identity.objects.get(kind="whatsapp")
    assert (identity.external_id, identity.customer) == ("905550000002", ayse)
    assert Customer.objects.filter(pk=other.pk).exists()  # their ticket stays theirs


def test_applying_the_change_twice_changes_nothing_more(ayse):
    for _ in range(2):
        move = customer_identity_change(
            kind="whatsapp", external_id="905550000001", new_external_id="905550000002"
        )

    assert move.customer == ayse and not move.moved
    assert list(Identity.objects.values_list("external_id", flat=True)) == ["905550000002"]


def test_an_unknown_customer_is_left_alone(db):
    move = customer_identity_change(kind="whatsapp", external_id="1", new_external_id="2")

    assert move.customer is None
    assert not Identity.objects.exists() and not Customer.objects.exists()
