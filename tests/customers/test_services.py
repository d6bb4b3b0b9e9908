from __future__ import annotations

import pytest

from configuration.models import ChannelKind
from customers.models import Customer, Identity
from customers.services import customer_resolve
from tests.tickets.concurrency import postgres_only, run_concurrently


@pytest.mark.django_db
def test_first_contact_creates_the_customer_and_identity():
    customer = customer_resolve(
        kind=ChannelKind.TELEGRAM, external_id="123", name="Ayşe Yılmaz", display="@ayse"
    )

    assert customer.name == "Ayşe Yılmaz"
    identity = Identity.objects.get()
    assert (identity.customer, identity.kind, identity.external_id, identity.display) == (
        customer,
        "telegram",
        "123",
        "@ayse",
    )


@pytest.mark.django_db
def test_later_contacts_reuse_the_same_customer():
    first = customer_resolve(kind=ChannelKind.WHATSAPP, external_id="905551112233", name="Ali")
    again = customer_resolve(kind=ChannelKind.WHATSAPP, external_id="905551112233", name="Veli")

    assert again.pk == first.pk
    assert again.name == "Ali"  # a later display name does not overwrite the customer
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_same_external_id_on_another_channel_is_another_customer():
    a = customer_resolve(kind=ChannelKind.WHATSAPP, external_id="905551112233")
    b = customer_resolve(kind=ChannelKind.API, external_id="905551112233")
    assert a.pk != b.pk


@pytest.mark.django_db
def test_name_falls_back_to_the_external_id():
    customer = customer_resolve(kind=ChannelKind.EMAIL, external_id="ayse@example.com")
    assert customer.name == "ayse@example.com"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_contacts_create_one_customer():
    results = run_concurrently(
        lambda i: (
            customer_resolve(
                kind=ChannelKind.MESSENGER, external_id="psid-77", name=f"Visitor {i}"
            ).pk
        ),
        4,
    )

    assert len(set(results)) == 1
    assert Customer.objects.count() == 1
    assert Identity.objects.count() == 1
