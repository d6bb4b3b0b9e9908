"""Shared fixtures for channel tests: eager Celery, a loopback fake provider, signed webhooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from channels_adapters.signing import sign
from configuration.models import ChannelAccount, ChannelKind
from omnico.celery import app as celery_app
from tests.fakes.provider import FakeProvider

CORPUS = Path(
    os.environ.get("OMNICO_CORPUS")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
)
SECRET = "hook-s3cret"


@pytest.fixture(autouse=True)
def eager_celery():
    """Run tasks in-process even when REDIS_URL points the app at a real broker (CI)."""
    old = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = old


@pytest.fixture
def fake():
    with FakeProvider() as provider:
        yield provider


def make_channel(kind: str, fake: FakeProvider | None = None, **extra) -> ChannelAccount:
    base = fake.url if fake else ""
    fields = {
        "token": "123456:tg-token" if kind == ChannelKind.TELEGRAM else "graph-token",
        "secret": SECRET,
        "verify_token": "verify-me",
        "base_url": base,
        "external_id": "1122334455667" if kind == ChannelKind.WHATSAPP else "",
        "callback_url": f"{base}/callback" if (kind == ChannelKind.API and base) else "",
    }
    fields.update(extra)
    return ChannelAccount.objects.create(kind=kind, name=f"{kind}-main", **fields)


@pytest.fixture
def channel(db, fake):
    """``channel("whatsapp")`` → an account of that kind whose provider is the fake."""
    return lambda kind, **extra: make_channel(kind, fake, **extra)


def signature_headers(account: ChannelAccount, body: bytes) -> dict[str, str]:
    if account.kind == ChannelKind.TELEGRAM:
        return {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": account.secret}
    if account.kind == ChannelKind.API:
        return {"HTTP_X_OMNICO_SIGNATURE": sign(account.secret, body)}
    return {"HTTP_X_HUB_SIGNATURE_256": sign(account.secret, body)}


@pytest.fixture
def post_hook(client, django_capture_on_commit_callbacks):
    """POST a body to an account's webhook, correctly signed unless ``headers`` are given;
    after-commit work (the eager ingest task) runs before it returns."""

    def post(account: ChannelAccount, body: bytes, headers: dict[str, str] | None = None):
        url = reverse("hooks:webhook", kwargs={"kind": account.kind, "name": account.name})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                url,
                data=body,
                content_type="application/json",
                **(signature_headers(account, body) if headers is None else headers),
            )

    return post
