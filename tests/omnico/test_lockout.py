"""The sign-in lockout counts real addresses, and a username guessed from many addresses."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import uvicorn
from django.urls import reverse

from omnico.management.commands import serve

PASSWORD = "pw-for-tests-only"


def _sign_in(client, password: str, address: str):
    return client.post(
        reverse("login"), {"username": "agent-a", "password": password}, REMOTE_ADDR=address
    )


def test_a_username_guessed_from_many_addresses_is_locked_for_everyone(client, agent, settings):
    for attempt in range(settings.OMNICO_LOGIN_USERNAME_FAILURE_LIMIT - 1):
        page = _sign_in(client, "guess", f"203.0.113.{attempt + 1}")
        assert page.status_code == 200, attempt  # no one address reached its own limit

    assert _sign_in(client, "guess", "198.51.100.9").status_code == 429
    assert _sign_in(client, PASSWORD, "198.51.100.4").status_code == 429


def test_one_address_guessing_does_not_lock_the_agent_out_of_their_own_desk(
    client, agent, settings
):
    for _attempt in range(settings.AXES_FAILURE_LIMIT + 3):
        _sign_in(client, "guess", "203.0.113.7")

    assert _sign_in(client, PASSWORD, "198.51.100.4").status_code == 302


def _served_app(monkeypatch) -> object:
    """The ASGI app exactly as ``manage.py serve`` has uvicorn wrap it (proxy headers...)."""
    calls = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr(serve.settings, "OMNICO_SCHEDULER", False)
    serve.Command().handle(
        host="127.0.0.1", port=8000, workers=1, no_collectstatic=True, log_level="info"
    )
    [(app, kwargs)] = calls
    config = uvicorn.Config(app, **{k: v for k, v in kwargs.items() if k != "workers"})
    config.load()
    return config.loaded_app


def _guess_with_forged_addresses(app, tries: int, client_address: str) -> list[int]:
    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(client_address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            page = await http.get(reverse("login"))
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
            statuses = []
            for attempt in range(tries):
                answer = await http.post(
                    reverse("login"),
                    data={"username": "agent-a", "password": "guess"},
                    headers={"X-CSRFToken": token, "X-Forwarded-For": f"192.0.2.{attempt + 1}"},
                )
                statuses.append(answer.status_code)
            return statuses

    return asyncio.run(go())


@pytest.mark.django_db(transaction=True)
def test_a_local_client_cannot_dodge_the_lockout_by_forging_x_forwarded_for(
    agent, settings, monkeypatch
):
    settings.OMNICO_TRUSTED_PROXIES = []
    app = _served_app(monkeypatch)

    statuses = _guess_with_forged_addresses(app, settings.AXES_FAILURE_LIMIT + 1, "127.0.0.1")

    assert statuses[-1] == 429


@pytest.mark.django_db(transaction=True)
def test_a_configured_proxy_passes_on_the_client_address(agent, settings, monkeypatch):
    settings.OMNICO_TRUSTED_PROXIES = ["10.0.0.5"]
    app = _served_app(monkeypatch)

    statuses = _guess_with_forged_addresses(app, settings.AXES_FAILURE_LIMIT + 1, "10.0.0.5")

    assert 429 not in statuses  # each forwarded client is its own (username, address) pair
