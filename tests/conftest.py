from pathlib import Path

import pytest
from django.utils import translation

from tests.factories import make_account, make_user

# CI=true: a skip for a missing service is a failure (the hooks live in tests/skip_policy.py).
from tests.skip_policy import (  # noqa: F401
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
)

# A test about to time out first writes every thread's stack to stderr (tests/timeout_dump.py).
from tests.timeout_dump import pytest_timeout_cancel_timer, pytest_timeout_set_timer  # noqa: F401


@pytest.fixture
def agent(db):
    return make_user("agent-a")


@pytest.fixture
def admin_user(db):
    return make_user("boss", staff=True, capacity=None)


@pytest.fixture
def account(db):
    return make_account()


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests create many users; a real password hash costs ~0.25 s each on this machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def messenger_media_on_loopback_only(settings):
    """Corpus Messenger payloads link to Meta's CDN, which tests must not call: only the
    loopback fake provider's links are fetched."""
    settings.OMNICO_MESSENGER_MEDIA_HOSTS = ["127.0.0.1"]


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A Turkish request leaves Turkish active in the thread; the next test starts in English."""
    yield
    translation.deactivate()


#: Per-test timeout (pytest-timeout) of the tests that start browsers or whole processes.
SLOW_TEST_TIMEOUT = 300


def pytest_collection_modifyitems(config, items):
    """The e2e tests and the tests marked ``services`` get SLOW_TEST_TIMEOUT unless they set
    their own ``@pytest.mark.timeout``; the rest keep the 120 s of pyproject.toml."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        if item.path.is_relative_to(e2e) or item.get_closest_marker("services") is not None:
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT))


@pytest.fixture(autouse=True)
def support_limits_fresh(settings):
    """The support page's rate limits count in this process's memory, from zero in each test
    (the suite starts many chats from 127.0.0.1)."""
    from channels_adapters.webchat.limits import support_limits_reset

    settings.OMNICO_SUPPORT_RATE_STORAGE = "memory://"
    support_limits_reset()


@pytest.fixture(autouse=True)
def support_settings_forgotten():
    """Each test's rollback takes back its support pages, group types and subjects without a
    signal: the next test starts without what this process remembered of them."""
    yield
    from channels_adapters.webchat.settings_memo import MEMO

    MEMO.bump()


@pytest.fixture(autouse=True)
def webhook_endpoints_none_at_start():
    """Each test starts without webhook endpoints (a rollback takes them back without a
    signal), remembered as none: no test pays a query to learn it (configuration.webhooks)."""
    from configuration import webhooks

    webhooks.MEMO.bump()
    webhooks.MEMO.get(webhooks._KEY, tuple)


@pytest.fixture
def webhook_receiver():
    """A loopback webhook receiver (tests/fakes/webhook_receiver.py); endpoints may use it."""
    from tests.fakes.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def webhook_endpoint(db, settings, webhook_receiver):
    """``webhook_endpoint(events)`` → (endpoint at the loopback receiver, its secret)."""
    from configuration.models import WebhookEndpoint
    from configuration.webhooks import webhook_endpoint_create
    from omnico.celery import app as celery_app

    settings.OMNICO_WEBHOOK_ALLOW_PRIVATE = True
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # deliveries run in the test (no worker)

    def make(events, **fields):
        endpoint = WebhookEndpoint(
            name=fields.pop("name", f"crm-{WebhookEndpoint.objects.count()}"),
            url=webhook_receiver.url,
            events=list(events),
            **fields,
        )
        endpoint.full_clean(exclude=["secret"])
        return endpoint, webhook_endpoint_create(endpoint=endpoint)

    yield make
    celery_app.conf.task_always_eager = eager
