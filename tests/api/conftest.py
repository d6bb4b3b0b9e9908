"""Clients of ``/api/v1/`` holding a token with chosen scopes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from configuration.api_tokens import api_token_create
from configuration.models import ApiScope

ALL_SCOPES = list(ApiScope.values)


class ApiClient:
    """Django's test client speaking JSON with ``Authorization: Bearer <secret>``."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.secret = secret

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"} if self.secret else {}

    def get(self, path: str, params: dict[str, Any] | None = None):
        return self.client.get(path, params or {}, **self._headers())

    def send(self, method: str, path: str, data: Any):
        return getattr(self.client, method)(
            path, json.dumps(data), content_type="application/json", **self._headers()
        )

    def post(self, path: str, data: Any):
        return self.send("post", path, data)

    def patch(self, path: str, data: Any):
        return self.send("patch", path, data)


@pytest.fixture(autouse=True)
def throttle_counts_fresh():
    """The rate limit counts per token in the cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_api(db):
    def make(scopes: list[str] | None = None, acts_as=None, name: str = "CRM") -> ApiClient:
        issued = api_token_create(
            name=name, scopes=ALL_SCOPES if scopes is None else scopes, acts_as=acts_as
        )
        api = ApiClient(issued.secret)
        api.token = issued.token  # type: ignore[attr-defined]
        return api

    return make


@pytest.fixture
def api(make_api):
    return make_api()


def error(response) -> dict[str, Any]:
    """The one error shape, checked: ``{"error": {"code", "message", "fields"}}``."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]
