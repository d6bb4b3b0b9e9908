"""End-to-end fixtures: the real ASGI application (HTTP + websockets) served by uvicorn in a
thread of the test process, driven by Debian's Chromium through Playwright.

- The server runs in-process so it shares the test database, the channel layer (in-memory, or
  Redis under ``scripts/test``) and an eager Celery with the test. That needs PostgreSQL: the
  SQLite test database is in memory and cannot serve several threads at once, so on SQLite
  these tests are skipped (``scripts/test tests/e2e`` runs them on PostgreSQL + Redis).
- Chromium is Debian's (``/usr/bin/chromium``, or ``OMNICO_CHROMIUM``); Playwright's own
  browser download is never used. Without it the tests are skipped with the reason.
- Outbound replies go to the loopback fake of Telegram's Bot API (``tests/fakes/provider.py``).
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import override_settings

from configuration.models import ChannelAccount, ChannelKind
from omnico.celery import app as celery_app
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fakes.provider import FakeProvider

PASSWORD = "pw-for-tests-only"  # tests.factories.make_user's password
HOOK_SECRET = "e2e-hook-secret"
#: How long the browser waits for a pushed change (generous: CI machines have 2 cores).
LIVE_TIMEOUT_MS = 10_000


class SlowFakeProvider(FakeProvider):
    """The fake Bot API, answering after ``delay`` seconds, so a reply is visibly pending."""

    delay = 0.0

    def _answer(self, req):
        if self.delay:
            time.sleep(self.delay)
        return super()._answer(req)


class InFlight:
    """The e2e server's application, counting what it is handling: an HTTP request until its
    response is sent (eager tasks included: they run in the request after its commit), a
    websocket message from its arrival until the consumer asks for the next one (channels'
    consumers handle one message at a time). ``live``'s teardown waits until nothing is in
    flight before the test database is flushed: a flush beside a request still writing fails
    (a deadlock between TRUNCATE and the request's locks) or leaves rows behind."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.busy = 0
        self.changed = threading.Condition()

    def _add(self, n: int) -> None:
        with self.changed:
            self.busy += n
            self.changed.notify_all()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self._add(1)
            try:
                await self.app(scope, receive, send)
            finally:
                self._add(-1)
            return
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        handling = False

        async def counted_receive():
            nonlocal handling
            if handling:  # the consumer is done with the previous message
                handling = False
                self._add(-1)
            message = await receive()
            handling = True
            self._add(1)
            return message

        try:
            await self.app(scope, counted_receive, send)
        finally:
            if handling:
                self._add(-1)

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.busy == 0, timeout)


#: The running e2e server's application (``asgi_server``), for ``live``'s teardown.
_server_app: InFlight | None = None


def off_loop(fn: Callable, /, *args, **kwargs):
    """Run ``fn`` in a plain thread and return its result.

    Playwright's sync API leaves an event loop running in the test's thread, where
    ``omnico.core.realtime`` cannot push (async_to_sync refuses to run there): call services that
    publish (``agent_go_active``, ``ticket_assign``...) through this.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium per test module.

    Playwright's sync API keeps an event loop marked running in this thread, which Django's
    ORM guard mistakes for async code; the tests use the ORM only between browser steps, so
    the guard is relaxed for the module (the server threads are ordinary sync code anyway).
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium (or set OMNICO_CHROMIUM)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=LIVE_TIMEOUT_MS)

    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if old is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


# --- the server -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def asgi_server(django_db_setup) -> Iterator[str]:
    """``omnico.asgi:application`` on a free loopback port; yields its base URL."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "e2e tests need PostgreSQL (the SQLite test database is in memory and "
            "single-connection): run scripts/test tests/e2e"
        )
    import uvicorn

    from omnico.asgi import application
    from omnico.ws_protocol import SharedDeflateProtocol

    # Under pytest-xdist every worker has its own test database but Redis is shared: a
    # channel-layer prefix per worker keeps one worker's pushes out of the other's browsers.
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    if "prefix" in layers["default"].get("CONFIG", {}):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        layers["default"]["CONFIG"]["prefix"] = (
            f"{layers['default']['CONFIG']['prefix']}-e2e-{worker}"
        )
    layer_override = override_settings(CHANNEL_LAYERS=layers)
    layer_override.enable()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    global _server_app
    _server_app = InFlight(application)
    config = uvicorn.Config(
        _server_app, lifespan="off", log_level="warning", access_log=False, ws=SharedDeflateProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the e2e ASGI server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()
    layer_override.disable()


@pytest.fixture
def live(asgi_server, transactional_db, eager_celery) -> Iterator[str]:
    """The server's base URL, for a test whose data is committed (visible to the server).
    Afterwards (the browser contexts are closed by then) it waits for the server to finish
    what it is handling before the database is flushed."""
    yield asgi_server
    if _server_app is not None and not _server_app.wait_idle(timeout=10):
        pytest.fail(f"the e2e server was still handling {_server_app.busy} request(s) after 10 s")


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run in the server's request thread, after commit, as in the embedded mode."""
    old = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = old


@pytest.fixture
def fake_provider() -> Iterator[SlowFakeProvider]:
    with SlowFakeProvider() as provider:
        yield provider


@pytest.fixture
def telegram(live, fake_provider) -> ChannelAccount:
    """A Telegram account whose webhook takes ``HOOK_SECRET`` and whose Bot API is the fake.

    Its name is new in every test: the webhook fast path caches accounts by name for a few
    seconds, and the previous test's account is gone with the flushed database."""
    return ChannelAccount.objects.create(
        kind=ChannelKind.TELEGRAM,
        name=f"tg-e2e-{uuid.uuid4().hex[:8]}",
        token="123456:e2e-token",
        secret=HOOK_SECRET,
        base_url=fake_provider.url,
    )


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def ayla(live):
    """An active agent (Ayla Demir) that new tickets go to."""
    from tests.factories import make_user
    from tickets.routing import agent_go_active

    user = make_user("ayla", first_name="Ayla", last_name="Demir")
    off_loop(agent_go_active, user=user)
    return user


@pytest.fixture
def new_page(browser, live) -> Iterator[Callable]:
    """``new_page()`` → a page in a fresh browser context (its own cookies: one agent each),
    1280×800 by default; every context is closed before the database is flushed."""
    contexts = []

    def make(width: int = 1280, height: int = 800, locale: str = "en-US"):
        context = browser.new_context(
            base_url=live, viewport={"width": width, "height": height}, locale=locale
        )
        context.set_default_timeout(LIVE_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as an agent does."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action$='/accounts/login/'] button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
