"""Files a channel only names (Telegram file ids, WhatsApp media ids, Messenger's expiring CDN
links) are fetched after the
message is stored, tried again on a schedule when the provider does not answer, and given up
visibly; nothing waits on the provider inside the ingest transaction."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_adapters import services
from channels_adapters.messenger.adapter import _fetchable
from tests.channels_adapters.conftest import CORPUS
from tests.factories import make_user
from tickets.models import Attachment

PHOTO = CORPUS / "telegram" / "zammad__private__photo.json"


def _largest_photo() -> str:
    return json.loads(PHOTO.read_bytes())["message"]["photo"][-1]["file_id"]


def _due_now(attachment: Attachment) -> None:
    Attachment.objects.filter(pk=attachment.pk).update(
        fetch_after=timezone.now() - timedelta(seconds=1)
    )


@pytest.fixture
def pending(channel, post_hook, fake):
    """A Telegram photo whose first fetch failed (the Bot API did not know the file yet)."""
    account = channel("telegram")
    post_hook(account, PHOTO.read_bytes())
    attachment = Attachment.objects.get(message__channel_account=account)
    assert attachment.is_fetching and attachment.fetch_attempts == 1
    return attachment


def test_the_message_is_stored_before_the_file_is_fetched(channel, fake, post_hook):
    account = channel("telegram")
    fake.telegram_files[_largest_photo()] = b"\x89PNG image"
    fake.fail_next(10)  # the Bot API is down for now

    response = post_hook(account, PHOTO.read_bytes())

    assert response.status_code == 200
    attachment = Attachment.objects.select_related("message").get()
    assert attachment.message.ticket_id  # the customer's message is in a ticket already
    assert attachment.is_fetching
    assert attachment.fetch_after > timezone.now()  # tried again later, not now


def test_the_sweep_fetches_a_due_file_and_the_chat_shows_it(pending, fake, client):
    fake.telegram_files[_largest_photo()] = b"\x89PNG image"
    assert services.attachments_fetch_sweep() == 0  # not due yet
    _due_now(pending)

    assert services.attachments_fetch_sweep() == 1  # eager: fetched here

    pending.refresh_from_db()
    assert pending.file.read() == b"\x89PNG image" and pending.size == len(b"\x89PNG image")
    assert not pending.file_ref and not pending.is_fetching and pending.fetch_attempts == 2
    client.force_login(make_user("ayse"))
    page = client.get(reverse("ticket-detail", args=[pending.message.ticket_id]))
    assert reverse("attachment", args=[pending.pk]) in page.content.decode()
    assert "Fetching the file" not in page.content.decode()


def test_each_failure_waits_longer_and_the_last_one_is_shown_in_the_chat(pending, fake, client):
    waits = []
    for _attempt in range(len(services.FETCH_BACKOFF) - 1):
        _due_now(pending)
        before = timezone.now()
        services.attachments_fetch_sweep()
        pending.refresh_from_db()
        if pending.fetch_after is not None:
            waits.append(pending.fetch_after - before)
    assert waits == sorted(waits) and waits[-1] >= timedelta(hours=5)

    pending.refresh_from_db()
    assert pending.fetch_attempts == len(services.FETCH_BACKOFF)
    assert pending.fetch_error and not pending.is_fetching
    assert services.attachments_fetch_sweep() == 0  # given up: no more tries
    client.force_login(make_user("ayse"))
    page = client.get(reverse("ticket-detail", args=[pending.message.ticket_id])).content.decode()
    assert "The file could not be fetched" in page and "Telegram" in page


def test_two_workers_never_fetch_the_same_file_at_once(pending, fake):
    fake.telegram_files[_largest_photo()] = b"\x89PNG image"
    _due_now(pending)
    attempt = pending.fetch_attempts
    # Another worker claimed this attempt a moment ago.
    Attachment.objects.filter(pk=pending.pk).update(fetch_attempts=attempt + 1)
    calls = len(fake.calls("getFile"))

    services.attachment_fetch(attachment_id=pending.pk)  # sees attempt + 1: claims that one
    services.attachment_fetch(attachment_id=pending.pk)  # already fetched: nothing to do

    assert len(fake.calls("getFile")) == calls + 1
    pending.refresh_from_db()
    assert pending.file.read() == b"\x89PNG image"


def test_a_file_over_the_size_limit_is_not_stored(channel, post_hook, fake, settings):
    settings.OMNICO_MAX_ATTACHMENT_BYTES = 1024
    account = channel("whatsapp")
    body = json.loads((CORPUS / "whatsapp" / "pywa__message__image.json").read_bytes())
    media_id = body["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    fake.whatsapp_media[media_id] = b"x" * 2048

    post_hook(account, json.dumps(body).encode())

    attachment = Attachment.objects.get()
    assert not attachment.file and attachment.is_fetching


def _messenger(urls: list[str]) -> bytes:
    item = json.loads(
        (CORPUS / "messenger" / "vlixfbm__attachment_callback_image.json").read_text()
    )
    item["message"]["attachments"] = [{"type": "image", "payload": {"url": u}} for u in urls]
    return json.dumps({"object": "page", "entry": [{"id": "PAGE", "messaging": [item]}]}).encode()


def test_a_messenger_image_on_metas_cdn_is_kept_before_its_link_expires(channel, post_hook, fake):
    account = channel("messenger")
    fake.whatsapp_media["cdn-photo"] = b"\xff\xd8 jpeg"  # the fake serves /media-files/<id>
    cdn = f"{fake.url}/media-files/cdn-photo?oe=5AB85055"  # loopback stands in for fbcdn.net
    elsewhere = "https://example.com/photo.jpg"

    post_hook(account, _messenger([cdn, elsewhere]))

    kept, linked = Attachment.objects.order_by("pk")
    assert kept.file.read() == b"\xff\xd8 jpeg" and not kept.is_fetching
    assert not linked.file and not linked.file_ref and linked.url == elsewhere  # a link stays one


def test_messenger_links_are_fetched_only_from_the_configured_hosts(settings):
    settings.OMNICO_MESSENGER_MEDIA_HOSTS = ["fbcdn.net", "fbsbx.com"]
    assert _fetchable("https://scontent-ort2-2.xx.fbcdn.net/v/t34/x.jpg?oe=5AB85055")
    assert _fetchable("https://cdn.fbsbx.com/v/t59/file.pdf")
    assert not _fetchable("https://fbcdn.net.evil.example/x.jpg")
    assert not _fetchable("https://evilfbcdn.net/x.jpg")
    assert not _fetchable("file:///etc/passwd")
    assert not _fetchable("http://169.254.169.254/latest/meta-data/")
