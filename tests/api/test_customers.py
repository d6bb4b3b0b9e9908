"""Customers: find by identity, read, set CRM attributes, merge two into one."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from configuration.models import ApiAuditLog, ChannelKind
from customers.models import Customer, Identity, ShoppingCart
from tests.api.conftest import error
from tests.factories import make_account, make_customer, make_ticket
from tickets.models import TicketEvent, TicketStatus
from tickets.services import ticket_set_status

CUSTOMERS = "/api/v1/customers/"


def test_find_by_email_identity_or_stored_email(api):
    by_identity = make_customer(kind=ChannelKind.EMAIL, external_id="ayse@example.com")
    by_field = make_customer(name="Ali")
    Customer.objects.filter(pk=by_field.pk).update(email="Ayse@Example.com")
    make_customer(name="Someone else")
    body = api.get(CUSTOMERS, {"email": "AYSE@example.com"}).json()
    assert {c["id"] for c in body} == {by_identity.pk, by_field.pk}


def test_find_by_phone_and_by_channel_id(api):
    whatsapp = make_customer(kind=ChannelKind.WHATSAPP, external_id="905551112233")
    telegram = make_customer(kind=ChannelKind.TELEGRAM, external_id="4242")
    assert [c["id"] for c in api.get(CUSTOMERS, {"phone": "905551112233"}).json()] == [whatsapp.pk]
    found = api.get(CUSTOMERS, {"kind": "telegram", "external_id": "4242"}).json()
    assert [c["id"] for c in found] == [telegram.pk]
    assert found[0]["identities"] == [
        {"kind": "telegram", "external_id": "4242", "display": "Ayşe"}
    ]
    assert api.get(CUSTOMERS, {"kind": "telegram", "external_id": "nope"}).json() == []


def test_a_look_up_without_an_identity_is_400_in_the_error_shape(api):
    response = api.get(CUSTOMERS)
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "invalid"
    assert "non_field_errors" in body["fields"]
    response = api.get(CUSTOMERS, {"kind": "carrier-pigeon", "external_id": "1"})
    assert error(response)["fields"]["kind"]


def test_read_a_customer_with_identities_and_latest_carts(api):
    customer = make_customer(kind=ChannelKind.TELEGRAM, external_id="77")
    ShoppingCart.objects.create(
        customer=customer, source="woo", external_id="c1", total=12, updated_at=timezone.now()
    )
    body = api.get(f"{CUSTOMERS}{customer.pk}/").json()
    assert body["name"] == "Ayşe"
    assert body["identities"][0]["external_id"] == "77"
    assert [cart["external_id"] for cart in body["carts"]] == ["c1"]


def test_an_unknown_customer_is_404_in_the_error_shape(api):
    response = api.get(f"{CUSTOMERS}999999/")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_patch_merges_attributes_and_removes_null_ones(api):
    customer = make_customer()
    Customer.objects.filter(pk=customer.pk).update(attributes={"tier": "silver", "old": "x"})
    response = api.patch(
        f"{CUSTOMERS}{customer.pk}/",
        {"attributes": {"tier": "gold", "crm_id": "C-9", "old": None}, "location": "İzmir"},
    )
    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.attributes == {"tier": "gold", "crm_id": "C-9"}
    assert customer.location == "İzmir"
    assert ApiAuditLog.objects.get().object_id == str(customer.pk)


def test_patched_attributes_show_under_customer_details_in_the_panel(api, agent_client):
    ticket = make_ticket()
    api.patch(f"{CUSTOMERS}{ticket.customer_id}/", {"attributes": {"crm_tier": "<b>gold</b>"}})
    page = agent_client.get(reverse("ticket-customer", args=[ticket.pk])).content.decode()
    assert "crm_tier" in page
    assert "&lt;b&gt;gold&lt;/b&gt;" in page


def test_patch_with_a_bad_field_is_400_naming_it(api):
    customer = make_customer()
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"email": "not-an-email", "age": -3})
    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"email", "age"}


# --- merge ------------------------------------------------------------------------------------


def test_merge_moves_identities_tickets_and_carts_and_deletes_the_other(api):
    keep = make_customer(kind=ChannelKind.TELEGRAM, external_id="t-1", name="Ayşe")
    other = make_customer(kind=ChannelKind.EMAIL, external_id="ayse@example.com", name="A.")
    Customer.objects.filter(pk=other.pk).update(
        email="ayse@example.com", attributes={"crm_id": "C-1"}
    )
    ticket = make_ticket(account=make_account(ChannelKind.EMAIL), customer=other)
    ShoppingCart.objects.create(customer=other, total=5, updated_at=timezone.now())

    response = api.post(f"{CUSTOMERS}{keep.pk}/merge/", {"other": other.pk})

    assert response.status_code == 200, response.json()
    assert not Customer.objects.filter(pk=other.pk).exists()
    assert set(Identity.objects.filter(customer=keep).values_list("external_id", flat=True)) == {
        "t-1",
        "ayse@example.com",
    }
    ticket.refresh_from_db()
    assert ticket.customer_id == keep.pk
    assert ShoppingCart.objects.get().customer_id == keep.pk
    keep.refresh_from_db()
    assert (keep.email, keep.attributes) == ("ayse@example.com", {"crm_id": "C-1"})
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.FIELD)
    assert event.data == {"field": "customer", "old": other.pk, "new": keep.pk}
    audit = ApiAuditLog.objects.get()
    assert (audit.object_type, audit.object_id, audit.status_code) == (
        "customer",
        str(keep.pk),
        200,
    )


def test_merging_a_customer_into_itself_is_refused(api):
    customer = make_customer()
    response = api.post(f"{CUSTOMERS}{customer.pk}/merge/", {"other": customer.pk})
    assert response.status_code == 400
    assert error(response)["code"] == "rule"
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_merging_two_active_tickets_on_one_account_is_409_and_changes_nothing(api):
    account = make_account()
    first, second = make_ticket(account=account), make_ticket(account=account)
    response = api.post(f"{CUSTOMERS}{first.customer_id}/merge/", {"other": second.customer_id})
    assert response.status_code == 409
    assert error(response)["code"] == "conflict"
    second.refresh_from_db()
    assert Customer.objects.filter(pk=second.customer_id).exists()
    # Resolved, the other conversation no longer clashes.
    ticket_set_status(ticket=second, status=TicketStatus.RESOLVED)
    ok = api.post(f"{CUSTOMERS}{first.customer_id}/merge/", {"other": second.customer_id})
    assert ok.status_code == 200


def test_merge_needs_the_customers_write_scope(make_api):
    api = make_api(scopes=["customers:read"])
    keep, other = make_customer(), make_customer()
    assert api.post(f"{CUSTOMERS}{keep.pk}/merge/", {"other": other.pk}).status_code == 403
    assert Customer.objects.filter(pk=other.pk).exists()


def test_the_find_runs_the_same_queries_for_one_match_or_many(api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(6):
        make_customer(kind=ChannelKind.WHATSAPP, external_id=f"90555000000{n}")
        make_customer(kind=ChannelKind.EMAIL, external_id=f"many{n}@example.com")
    Customer.objects.filter(identities__kind=ChannelKind.EMAIL).update(email="many@example.com")
    api.get(CUSTOMERS, {"email": "x@example.com"})  # last_used_at written

    counts = []
    for params in ({"phone": "905550000003"}, {"email": "many@example.com"}):
        with CaptureQueriesContext(connection) as ctx:
            found = api.get(CUSTOMERS, params).json()
        counts.append((len(found), len(ctx.captured_queries)))
    assert counts == [(1, 3), (6, 3)]  # token, customers, their identities


def test_a_model_validation_error_is_a_400_in_the_error_shape(api, monkeypatch):
    from django.core.exceptions import ValidationError

    import customers.api

    def refuse(**kwargs):
        raise ValidationError({"phone": ["Not a phone number."]})

    monkeypatch.setattr(customers.api, "customer_update", refuse)
    customer = make_customer()
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"phone": "abc"})
    assert response.status_code == 400
    assert error(response)["fields"] == {"phone": ["Not a phone number."]}
