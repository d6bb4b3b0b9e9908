"""Every real payload in the shared corpus goes through the signed webhook and the ingest path:
each yields messages or delivery updates, or is ignored with a reason; none fails or is lost,
and delivering it twice changes nothing."""

from __future__ import annotations

import json

import pytest

from channels_adapters.models import InboundEvent
from tests.channels_adapters.conftest import CORPUS
from tickets.models import Attachment, Message

KINDS = ("telegram", "whatsapp", "messenger")
FILES = [
    pytest.param(kind, path, id=f"{kind}/{path.name}")
    for kind in KINDS
    for path in sorted((CORPUS / kind).glob("*.json"))
]


def _body(kind: str, raw: bytes) -> bytes:
    data = json.loads(raw)
    if kind == "messenger" and "entry" not in data:
        # A bare messaging event (SOURCES.md): Meta posts it inside the page envelope.
        envelope = {"object": "page", "entry": [{"id": "PAGE_ID", "time": 1, "messaging": [data]}]}
        return json.dumps(envelope).encode()
    return raw


def test_the_corpus_is_there():
    assert all(any(p.values[0] == kind for p in FILES) for kind in KINDS), CORPUS


@pytest.mark.parametrize(("kind", "path"), FILES)
def test_corpus_payload_is_ingested_or_ignored_with_a_reason(kind, path, channel, post_hook):
    account = channel(kind)
    body = _body(kind, path.read_bytes())

    response = post_hook(account, body)

    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(channel_account=account)
    assert event.status in {InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED}, event.error
    inbound = Message.objects.filter(channel_account=account, direction=Message.Direction.INBOUND)
    if event.status == InboundEvent.Status.IGNORED:
        assert event.error  # the reason an admin reads
        assert not inbound.exists()
    for message in inbound.select_related("ticket__customer"):
        assert message.ticket.customer.identities.filter(kind=kind).exists()
        assert message.body or message.attachments.exists()
    count = inbound.count()

    again = post_hook(account, body)

    assert again.status_code == 200
    assert InboundEvent.objects.filter(channel_account=account).count() == 1
    assert inbound.count() == count


def test_whatsapp_text_becomes_a_ticket_with_the_profile_name(channel, post_hook):
    account = channel("whatsapp")
    post_hook(account, (CORPUS / "whatsapp" / "pywa__message__reply.json").read_bytes())

    message = Message.objects.select_related("ticket__customer").get(channel_account=account)
    assert message.ticket.customer.name == "Test Name"
    assert message.ticket.customer.identities.get().external_id == "972987654321"
    assert message.external_id == "wamid.xyzxyz" or message.external_id.startswith("wamid.")


def test_whatsapp_unsupported_message_is_kept_with_a_visible_note(channel, post_hook):
    account = channel("whatsapp")
    path = CORPUS / "whatsapp" / "pywa__message__unsupported_with_type.json"
    post_hook(account, path.read_bytes())

    assert Message.objects.get(channel_account=account).body == "[unsupported message type: pool]"


def test_telegram_photo_is_downloaded_through_the_bot_api(channel, post_hook, fake):
    account = channel("telegram")
    raw = (CORPUS / "telegram" / "zammad__private__photo.json").read_bytes()
    largest = json.loads(raw)["message"]["photo"][-1]["file_id"]
    fake.telegram_files[largest] = b"\x89PNG fake image"

    post_hook(account, raw)

    attachment = Attachment.objects.get(message__channel_account=account)
    assert attachment.file.read() == b"\x89PNG fake image"
    assert attachment.size == len(b"\x89PNG fake image")
    assert fake.calls("getFile")[0].data["file_id"] == largest


def test_telegram_file_that_cannot_be_fetched_is_kept_as_a_pending_reference(
    channel, post_hook, fake
):
    account = channel("telegram")
    post_hook(account, (CORPUS / "telegram" / "zammad__private__voice.json").read_bytes())

    attachment = Attachment.objects.get(message__channel_account=account)
    assert not attachment.file and attachment.is_fetching
    assert attachment.file_ref.startswith("telegram-file:")
    assert account.token not in attachment.file_ref
    assert attachment.fetch_attempts == 1  # tried once right after the message was stored


def test_telegram_service_and_non_message_updates_are_ignored(channel, post_hook):
    account = channel("telegram")
    for name in ("nutgram__callback_query.json", "nutgram__left_chat_member.json"):
        post_hook(account, (CORPUS / "telegram" / name).read_bytes())

    events = InboundEvent.objects.filter(channel_account=account)
    assert {e.status for e in events} == {InboundEvent.Status.IGNORED}
    assert not Message.objects.filter(channel_account=account).exists()


def test_messenger_echo_of_our_own_message_is_ignored(channel, post_hook):
    account = channel("messenger")
    path = CORPUS / "messenger" / "restfb__messaging-message-basic-echo.json"
    post_hook(account, path.read_bytes())

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert not Message.objects.exists()
