"""The support page's settings are read once per web process, and a change made anywhere (the
admin, another process) shows on the next request of every process."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from channels_adapters.webchat import settings_memo
from configuration.models import GroupType, SupportPage
from omnico.core.shared_memo import SharedMemo
from tests.channels_adapters.webchat.conftest import say, start
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def cid(n: int) -> str:
    return f"0b0e2f9c-5555-4c4c-9d9d-{n:012d}"


def test_a_visitor_message_is_one_query_once_the_page_is_remembered(
    client, page, choices, django_assert_num_queries
):
    start(client, page, group_type=choices["axa"].pk, subject=choices["billing"].pk)
    assert say(client, page, "first", cid(1))["status"] == 200
    # Only the event's INSERT: not the page, its account, the group types and the subjects.
    with django_assert_num_queries(1):
        assert say(client, page, "second", cid(2)) == {"status": 200, "state": "delivered"}


def test_a_visitor_message_reads_the_shared_version_once(client, page, choices, monkeypatch):
    """The page and the choices it offers come from one look-up: one round trip to Redis for
    the memo's version per message, not one for each."""
    start(client, page, group_type=choices["axa"].pk, subject=choices["billing"].pk)
    assert say(client, page, "first", cid(1))["status"] == 200
    reads: list[str] = []
    version = settings_memo.MEMO.version

    def counted() -> object:
        reads.append(settings_memo.MEMO.name)
        return version()

    monkeypatch.setattr(settings_memo.MEMO, "version", counted)
    assert say(client, page, "second", cid(2)) == {"status": 200, "state": "delivered"}
    assert len(reads) == 1


def test_a_group_type_switched_off_is_not_set_on_the_next_message(
    client, page, choices, django_capture_on_commit_callbacks
):
    start(client, page, group_type=choices["axa"].pk, subject=choices["billing"].pk)
    assert say(client, page, "warm", cid(1))["status"] == 200
    axa = GroupType.objects.get(pk=choices["axa"].pk)
    axa.is_active = False
    axa.save()  # as the admin's list does
    with django_capture_on_commit_callbacks(execute=True):
        assert say(client, page, "second", cid(2))["status"] == 200
    from channels_adapters.models import InboundEvent

    body = bytes(InboundEvent.objects.order_by("-pk").first().body)
    assert b'"group_type": null' in body and f'"subject": {choices["billing"].pk}'.encode() in body


def test_a_page_changed_in_the_admin_shows_on_the_next_request(client, page):
    assert "Acme &amp; Co" in client.get("/support/help/").content.decode()
    admin = Client()
    admin.force_login(make_user(staff=True))
    response = admin.post(
        f"/admin/configuration/supportpage/{page.pk}/change/",
        {
            "channel_account": page.channel_account_id,
            "company_name": "Globex Help",
            "colour": "#123456",
            "welcome_text": "Welcome back",
            "embed_origins": "",
            "max_wait_minutes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    html = client.get("/support/help/").content.decode()
    assert "Globex Help" in html and "Welcome back" in html
    assert "#123456" in client.get("/support/help/theme.css").content.decode()


def test_a_disabled_account_closes_its_page_on_the_next_request(client, page):
    assert client.get("/support/help/").status_code == 200
    account = page.channel_account
    account.enabled = False
    account.save()
    assert client.get("/support/help/").status_code == 404


def test_a_request_gets_its_own_copy_of_the_remembered_page(page):
    from channels_adapters.webchat.selectors import support_page_get

    first = support_page_get(name="help")
    first.company_name = "changed by one request"
    assert support_page_get(name="help").company_name == "Acme & Co"


@pytest.mark.services
@pytest.mark.skipif(not os.environ.get("OMNICO_TEST_SERVICES"), reason="needs scripts/test's Redis")
def test_a_change_announced_by_another_process_shows_on_the_next_request(client, page, settings):
    assert settings.REDIS_URL  # the version lives in the Redis every process shares
    assert "Acme &amp; Co" in client.get("/support/help/").content.decode()
    # Another web process saves the page: this process gets no signal, only the shared version
    # that process's memo moves (its own SharedMemo, same name, same Redis).
    SupportPage.objects.filter(pk=page.pk).update(company_name="Changed elsewhere")
    assert "Acme &amp; Co" in client.get("/support/help/").content.decode()  # remembered
    SharedMemo(settings_memo.MEMO.name).bump()
    assert "Changed elsewhere" in client.get("/support/help/").content.decode()


def test_a_visitor_message_copies_no_remembered_settings(client, page, choices, monkeypatch):
    """The message POST only reads the page: the remembered instance serves it, with no deep
    copy of the page and its account per message."""
    start(client, page, group_type=choices["axa"].pk)
    assert say(client, page, "first", cid(1))["status"] == 200
    copied: list[object] = []
    get = settings_memo.MEMO.get

    def spied(key, load, *, copy_value=False):
        if copy_value:
            copied.append(key)
        return get(key, load, copy_value=copy_value)

    monkeypatch.setattr(settings_memo.MEMO, "get", spied)
    assert say(client, page, "second", cid(2)) == {"status": 200, "state": "delivered"}
    assert copied == []
