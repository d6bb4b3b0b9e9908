"""Tokens: shown once, stored hashed, revocable, scoped, rate-limited; 401 vs 403."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from configuration.api_tokens import api_token_revoke
from configuration.models import ApiAuditLog, ApiToken
from tests.api.conftest import ApiClient, error
from tests.factories import make_customer

CUSTOMERS = "/api/v1/customers/"


def test_without_a_token_the_answer_is_401_with_the_bearer_challenge(db):
    response = ApiClient(None).get(CUSTOMERS, {"email": "a@example.com"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert error(response)["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "secret", ["omn_deadbeef_wrong", "not-even-ours", "omn_", "omn_nounderscore"]
)
def test_an_unknown_or_malformed_token_is_401(api, secret):
    response = ApiClient(secret).get(CUSTOMERS, {"email": "a@example.com"})
    assert response.status_code == 401
    assert error(response)["code"] == "not_authenticated"


def test_a_token_with_the_right_prefix_but_wrong_secret_is_401(api):
    forged = api.secret[:-4] + "AAAA"
    assert ApiClient(forged).get(CUSTOMERS, {"email": "a@example.com"}).status_code == 401


def test_a_revoked_token_is_refused_with_401(api):
    assert api.get(CUSTOMERS, {"email": "a@example.com"}).status_code == 200
    assert api_token_revoke(token=api.token)
    response = api.get(CUSTOMERS, {"email": "a@example.com"})
    assert response.status_code == 401
    assert "revoked" in error(response)["message"]


def test_a_token_without_the_scope_is_403_naming_it(make_api):
    api = make_api(scopes=["tickets:read"])
    response = api.get(CUSTOMERS, {"email": "a@example.com"})
    assert response.status_code == 403
    body = error(response)
    assert body["code"] == "permission_denied"
    assert "customers:read" in body["message"]


def test_a_read_scope_does_not_allow_writes(make_api):
    api = make_api(scopes=["customers:read"])
    customer = make_customer()
    assert api.get(f"{CUSTOMERS}{customer.pk}/").status_code == 200
    response = api.patch(f"{CUSTOMERS}{customer.pk}/", {"attributes": {"tier": "gold"}})
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.attributes == {}


def test_only_a_hash_of_the_token_is_stored(api):
    token = ApiToken.objects.get(pk=api.token.pk)
    assert token.token_hash == hashlib.sha256(api.secret.encode()).hexdigest()
    stored = [str(v) for v in ApiToken.objects.values_list().get(pk=token.pk)]
    assert not any(api.secret in value for value in stored)
    assert api.secret.startswith(f"omn_{token.prefix}_")


def test_last_used_is_written_at_most_once_a_minute(api, django_assert_num_queries):
    api.get(CUSTOMERS, {"email": "a@example.com"})
    first = ApiToken.objects.get(pk=api.token.pk).last_used_at
    assert first is not None
    api.get(CUSTOMERS, {"email": "a@example.com"})
    assert ApiToken.objects.get(pk=api.token.pk).last_used_at == first
    ApiToken.objects.filter(pk=api.token.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get(CUSTOMERS, {"email": "a@example.com"})
    assert ApiToken.objects.get(pk=api.token.pk).last_used_at > first - timedelta(minutes=1)


def test_over_the_rate_limit_the_answer_is_429_with_retry_after(api, settings):
    settings.OMNICO_API_RATE = "3/hour"  # an hour's window: the test never straddles two
    for _ in range(3):
        assert api.get(CUSTOMERS, {"email": "a@example.com"}).status_code == 200
    response = api.get(CUSTOMERS, {"email": "a@example.com"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert error(response)["code"] == "throttled"


def test_the_rate_limit_counts_per_token(make_api, settings):
    settings.OMNICO_API_RATE = "2/hour"
    first, second = make_api(name="one"), make_api(name="two")
    for _ in range(2):
        first.get(CUSTOMERS, {"email": "a@example.com"})
    assert first.get(CUSTOMERS, {"email": "a@example.com"}).status_code == 429
    assert second.get(CUSTOMERS, {"email": "a@example.com"}).status_code == 200


# --- the admin --------------------------------------------------------------------------------


def test_the_admin_sees_a_new_token_once_and_it_works(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:configuration_apitoken_add"),
        {"name": "Shop", "scopes": ["carts:write", "customers:read"], "acts_as": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="Shop")
    assert token.scopes == ["customers:read", "carts:write"]
    assert token.created_by == admin_user
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split(": ")[-1] for m in shown if "will not be shown again" in m)
    assert hashlib.sha256(secret.encode()).hexdigest() == token.token_hash
    assert ApiClient(secret).get(CUSTOMERS, {"email": "a@example.com"}).status_code == 200

    page = admin_client.get(reverse("admin:configuration_apitoken_change", args=[token.pk]))
    assert secret not in page.content.decode()
    listing = admin_client.get(reverse("admin:configuration_apitoken_changelist"))
    assert secret not in listing.content.decode()
    assert token.prefix in listing.content.decode()


def test_the_admin_revoke_action_revokes(admin_client, api):
    admin_client.post(
        reverse("admin:configuration_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [api.token.pk]},
    )
    assert ApiToken.objects.get(pk=api.token.pk).revoked_at is not None
    assert api.get(CUSTOMERS, {"email": "a@example.com"}).status_code == 401


def test_the_audit_log_is_readable_in_the_admin(admin_client, api):
    customer = make_customer()
    api.patch(f"{CUSTOMERS}{customer.pk}/", {"attributes": {"tier": "gold"}})
    entry = ApiAuditLog.objects.get()
    page = admin_client.get(reverse("admin:configuration_apiauditlog_changelist"))
    assert page.status_code == 200
    assert entry.path in page.content.decode()


def test_a_refused_write_is_audited_with_its_status(make_api):
    api = make_api(scopes=["customers:read"])
    customer = make_customer()
    api.patch(f"{CUSTOMERS}{customer.pk}/", {"attributes": {"tier": "gold"}})
    entry = ApiAuditLog.objects.get()
    assert (entry.token_id, entry.method, entry.status_code) == (api.token.pk, "PATCH", 403)


def test_reads_are_not_audited(api):
    api.get(CUSTOMERS, {"email": "a@example.com"})
    assert not ApiAuditLog.objects.exists()


def test_time_is_recorded_on_audit_rows(api):
    customer = make_customer()
    before = timezone.now()
    api.patch(f"{CUSTOMERS}{customer.pk}/", {"attributes": {"tier": "gold"}})
    entry = ApiAuditLog.objects.get()
    assert entry.at >= before
    assert (entry.object_type, entry.object_id, entry.status_code) == (
        "customer",
        str(customer.pk),
        200,
    )
