"""The visitor socket of a support page also accepts the page's allowed embedding origins (full
origin: scheme, host and port); the agent's socket never does."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from channels_adapters.webchat.visitor import COOKIE
from omnico.asgi import application
from tests.channels_adapters.webchat.conftest import start
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 5
SHOP = "https://shop.example"


@pytest.fixture
def embeddable(page):
    page.embed_origins = f"{SHOP}\nhttp://localhost:8080"
    page.save()
    return page


def _cookies(page) -> str:
    visitor = start(Client(), page, name="Ayşe").cookies[COOKIE].value
    agent = Client()
    agent.force_login(make_user())
    session = agent.cookies[django_settings.SESSION_COOKIE_NAME].value
    return f"{COOKIE}={visitor}; {django_settings.SESSION_COOKIE_NAME}={session}"


def _connects(path: str, origin: str, cookies: str) -> bool:
    headers = [
        (b"host", b"testserver"),
        (b"origin", origin.encode()),
        (b"cookie", cookies.encode()),
    ]

    async def scenario() -> bool:
        ws = WebsocketCommunicator(application, path, headers=headers)
        ok, _code = await ws.connect(timeout=WAIT)
        if ok:
            await ws.disconnect()
        return ok

    return async_to_sync(scenario)()


@pytest.mark.parametrize("origin", [SHOP, "https://shop.example:443", "http://localhost:8080"])
def test_an_allowed_embedding_origin_may_open_the_visitor_socket(embeddable, origin):
    assert _connects("/ws/visitor/help/", origin, _cookies(embeddable))


def test_an_allowed_embedding_origin_may_not_open_the_agent_socket(embeddable):
    cookies = _cookies(embeddable)
    assert _connects("/ws/agent/", "http://testserver", cookies)  # the site itself may
    assert not _connects("/ws/agent/", SHOP, cookies)


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example:8443",  # a foreign port of an allowed host
        "http://shop.example",  # another scheme
        "http://localhost:8081",
        "https://evil.shop.example",
    ],
)
def test_an_origin_not_exactly_in_the_list_is_refused(embeddable, origin):
    assert not _connects("/ws/visitor/help/", origin, _cookies(embeddable))


def test_another_pages_embedding_origins_do_not_open_this_pages_socket(embeddable):
    from configuration.models import ChannelKind, SupportPage
    from tests.factories import make_account

    other = SupportPage.objects.create(
        channel_account=make_account(kind=ChannelKind.WEBCHAT, name="other"),
        company_name="Other",
    )
    assert not _connects("/ws/visitor/other/", SHOP, _cookies(other))
