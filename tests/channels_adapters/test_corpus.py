"""Every real payload in the shared corpus goes through the signed webhook and the ingest path:
each yields messages or delivery updates, or is ignored with a reason; none fails or is lost,
and delivering it twice changes nothing.

``PINS`` states, for every messenger file of the corpus, how many messages it creates or why it
is ignored: a type that starts being dropped (or a service event that starts opening tickets)
fails here, and so does a file added to the corpus without a pin."""

from __future__ import annotations

import json
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Ignored:
    """The file creates nothing; the event keeps this reason for the admin."""

    reason: str


#: What each file of the corpus must become: its number of messages, or why it is ignored.
PINS: dict[str, int | Ignored] = {
    "telegram/nutgram__audio.json": 1,
    "telegram/nutgram__business_message.json": 1,
    "telegram/nutgram__callback_query.json": 1,
    "telegram/nutgram__callback_query_complex.json": 1,
    "telegram/nutgram__callback_query_inaccessible_message.json": 1,
    "telegram/nutgram__callback_query_without_message.json": 1,
    "telegram/nutgram__channel_post.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/nutgram__chat_member.json": Ignored(
        "A member joined, left or changed role in a group."
    ),
    "telegram/nutgram__chat_owner_changed.json": Ignored(
        "A service message in the chat (chat_owner_changed), nothing a customer wrote."
    ),
    "telegram/nutgram__checklist.json": 1,
    "telegram/nutgram__chosen_inline_result.json": Ignored(
        "An inline result the user sent into another chat, not to the support."
    ),
    "telegram/nutgram__command_tag_valid.json": 1,
    "telegram/nutgram__community_chat_added.json": Ignored(
        "A service message in the chat (community_chat_added), nothing a customer wrote."
    ),
    "telegram/nutgram__contact.json": 1,
    "telegram/nutgram__deleted_business_messages.json": Ignored(
        "Messages were deleted in a business chat (only their ids are sent)."
    ),
    "telegram/nutgram__dice.json": 1,
    "telegram/nutgram__entities.json": 1,
    "telegram/nutgram__food.json": 1,
    "telegram/nutgram__forum_topic_created.json": Ignored(
        "A service message in the chat (forum_topic_created), nothing a customer wrote."
    ),
    "telegram/nutgram__inline_query.json": Ignored(
        "An inline search typed in another chat (sent on each keystroke, not to the support)."
    ),
    "telegram/nutgram__invoice.json": 1,
    "telegram/nutgram__left_chat_member.json": Ignored(
        "A service message in the chat (left_chat_member), nothing a customer wrote."
    ),
    "telegram/nutgram__location.json": 1,
    "telegram/nutgram__message_different_topic.json": 1,
    "telegram/nutgram__message_forward_origin.json": 1,
    "telegram/nutgram__message_topic.json": 1,
    "telegram/nutgram__photo.json": 1,
    "telegram/nutgram__pinned_message.json": Ignored(
        "A service message in the chat (pinned_message), nothing a customer wrote."
    ),
    "telegram/nutgram__poll.json": Ignored("The vote counts of a poll the bot sent."),
    "telegram/nutgram__poll_answer.json": 1,
    "telegram/nutgram__story.json": 1,
    "telegram/nutgram__venue.json": 1,
    "telegram/nutgram__video_note.json": 1,
    "telegram/zammad__channel__document.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/zammad__channel__start.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/zammad__channel__text.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/zammad__channel__video.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/zammad__channel__voice.json": Ignored(
        "A post in one of the bot's channels, not a customer's message."
    ),
    "telegram/zammad__private__document.json": 1,
    "telegram/zammad__private__photo.json": 1,
    "telegram/zammad__private__text.json": 1,
    "telegram/zammad__private__voice.json": 1,
    "whatsapp/pywa__callback_button__quick_reply.json": 1,
    "whatsapp/pywa__callback_selection__callback.json": 1,
    "whatsapp/pywa__flow_completion__completion.json": 1,
    "whatsapp/pywa__message__chosen_location.json": 1,
    "whatsapp/pywa__message__current_location.json": 1,
    "whatsapp/pywa__message__document.json": 1,
    "whatsapp/pywa__message__forwarded_many_times.json": 1,
    "whatsapp/pywa__message__image.json": 1,
    "whatsapp/pywa__message__media_with_url.json": 1,
    "whatsapp/pywa__message__order.json": 1,
    "whatsapp/pywa__message__reply.json": 1,
    "whatsapp/pywa__message__static_sticker.json": 1,
    "whatsapp/pywa__message__unreaction_no_emoji.json": 1,
    "whatsapp/pywa__message__unsupported.json": 1,
    "whatsapp/pywa__message__unsupported_with_type.json": 1,
    "whatsapp/pywa__message__voice.json": 1,
    "whatsapp/pywa__message_status__delivered.json": 0,  # a delivery status
    "whatsapp/pywa__message_status__played.json": 0,  # a delivery status
    "whatsapp/pywa__message_status__sent.json": 0,  # a delivery status
    "whatsapp/pywa__outgoing_message__delete.json": Ignored(
        "Echo of a message the business sent from the WhatsApp Business app."
    ),
    "whatsapp/pywa__system__identity_change.json": 0,  # a notice: no message, no customer yet
    "whatsapp/pywa__system__phone_number_change.json": 0,  # a notice: no message, no customer yet
    "whatsapp/pywa__template_status_update__rejected.json": Ignored(
        "A message template's review status changed."
    ),
    "whatsapp/restfb__webhook-accountUpdate-banned.json": Ignored(
        "A notice about the WhatsApp Business account."
    ),
    "whatsapp/restfb__webhook-group-participants-update.json": Ignored(
        "Participants joined or left a group."
    ),
    "whatsapp/restfb__webhook-incoming-message-audio.json": 1,
    "whatsapp/restfb__webhook-incoming-message-button.json": 1,
    "whatsapp/restfb__webhook-incoming-message-contacts-request-bsuid.json": 1,
    "whatsapp/restfb__webhook-incoming-message-contacts.json": 1,
    "whatsapp/restfb__webhook-incoming-message-emoji.json": 1,
    "whatsapp/restfb__webhook-incoming-message-interactive-btn.json": 1,
    "whatsapp/restfb__webhook-incoming-message-interactive-list.json": 1,
    "whatsapp/restfb__webhook-incoming-message-status-bsuid.json": 0,  # a delivery status
    "whatsapp/restfb__webhook-incoming-message-status-errors.json": 0,  # a delivery status
    "whatsapp/restfb__webhook-incoming-message-sticker.json": 1,
    "whatsapp/restfb__webhook-incoming-message-text-bsuid.json": 1,
    "whatsapp/restfb__webhook-incoming-message-video.json": 1,
    "messenger/mserifbm__wsAuthRequest.json": 1,
    "messenger/mserifbm__wsTextMessageRequest.json": 1,
    "messenger/restfb__messaging-accountlinking-unlinked.json": 1,
    "messenger/restfb__messaging-airline-itinerary-template.json": 1,
    "messenger/restfb__messaging-button-template.json": 1,
    "messenger/restfb__messaging-message-basic-echo.json": Ignored(
        "Echo of a message the page sent."
    ),
    "messenger/restfb__messaging-message-basic.json": 1,
    "messenger/restfb__messaging-message-location-attachment.json": 1,
    "messenger/restfb__messaging-message-media-attachment.json": 1,
    "messenger/restfb__messaging-message-product-template-2.json": 1,
    "messenger/restfb__messaging-message-product-template.json": 1,
    "messenger/restfb__messaging-message-quickreply.json": 1,
    "messenger/restfb__messaging-message-reply-1.json": 1,
    "messenger/restfb__messaging-message-reply-2.json": 1,
    "messenger/restfb__messaging-message-sticker-thumbup.json": 1,
    "messenger/restfb__messaging-optin-userref.json": 1,
    "messenger/restfb__messaging-payment.json": 1,
    "messenger/restfb__messaging-policy-callback-block.json": Ignored(
        "A policy notice from Meta about the page (not a customer)."
    ),
    "messenger/restfb__messaging-postback-basic.json": 1,
    "messenger/restfb__messaging-postback-chat.json": 1,
    "messenger/restfb__messaging-reaction-1.json": 1,
    "messenger/restfb__messaging-request-thread-control.json": Ignored(
        "Handover protocol: another app asked for the conversation."
    ),
    "messenger/restfb__messaging-take-thread-control.json": Ignored(
        "Handover protocol: another app took the conversation."
    ),
    "messenger/restfb__standby-message-basic-echo.json": Ignored(
        "Echo of a message the page sent."
    ),
    "messenger/restfb__unknown-change-value.json": Ignored(
        "A change of the page's feed (foo), not a conversation."
    ),
    "messenger/vlixfbm__attachment_callback_fallback.json": 1,
    "messenger/vlixfbm__attachment_callback_image.json": 1,
    "messenger/vlixfbm__attachment_callback_template.json": 1,
    "messenger/vlixfbm__attachment_callback_video.json": 1,
    "messenger/vlixfbm__optin_callback.json": 1,
    "messenger/vlixfbm__pass_thread_control.json": Ignored(
        "Handover protocol: another app passed the conversation."
    ),
    "messenger/vlixfbm__postback_callback.json": 1,
    "messenger/vlixfbm__regular_text_callback.json": 1,
    "messenger/vlixfbm__standby_callback.json": 1,
    "messenger/vlixfbm__text_callback_prior_message.json": 1,
    "messenger/vlixfbm__text_qr_callback.json": 1,
}


def _body(kind: str, raw: bytes) -> bytes:
    data = json.loads(raw)
    if kind == "messenger" and "entry" not in data:
        # A bare messaging event (SOURCES.md): Meta posts it inside the page envelope.
        envelope = {"object": "page", "entry": [{"id": "PAGE_ID", "time": 1, "messaging": [data]}]}
        return json.dumps(envelope).encode()
    return raw


def test_the_corpus_is_there():
    assert all(any(p.values[0] == kind for p in FILES) for kind in KINDS), CORPUS


def test_every_corpus_file_has_a_pinned_outcome():
    files = {f"{kind}/{path.name}" for kind, path in (p.values for p in FILES)}

    assert sorted(files - set(PINS)) == [], "corpus files without a pin in PINS"
    assert sorted(set(PINS) - files) == [], "pins of files no longer in the corpus"


@pytest.mark.parametrize(("kind", "path"), FILES)
def test_corpus_payload_creates_exactly_its_pinned_messages(kind, path, channel, post_hook):
    pin = PINS.get(f"{kind}/{path.name}")
    if pin is None:
        pytest.fail(f"{kind}/{path.name} has no pin")
    account = channel(kind)

    post_hook(account, _body(kind, path.read_bytes()))

    event = InboundEvent.objects.get(channel_account=account)
    inbound = Message.objects.filter(channel_account=account, direction=Message.Direction.INBOUND)
    if isinstance(pin, Ignored):
        assert (event.status, event.error) == (InboundEvent.Status.IGNORED, pin.reason)
        assert not inbound.exists()
    else:
        assert event.status == InboundEvent.Status.PROCESSED, event.error
        assert inbound.count() == pin


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

    assert (
        Message.objects.get(channel_account=account).body
        == "Message of a type the channel does not deliver (pool)"
    )


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


def test_telegram_button_press_is_a_message_naming_the_button(channel, post_hook):
    account = channel("telegram")
    post_hook(account, (CORPUS / "telegram" / "nutgram__callback_query.json").read_bytes())

    message = Message.objects.select_related("ticket__customer").get(channel_account=account)
    assert message.body == "Button pressed: thedata"
    assert message.ticket.customer.identities.get().external_id == "222222222"
    assert message.ticket.customer.name == "Mario"


def test_telegram_button_press_is_answered_so_the_button_stops_spinning(channel, post_hook, fake):
    account = channel("telegram")
    raw = (CORPUS / "telegram" / "nutgram__callback_query.json").read_bytes()

    post_hook(account, raw)
    post_hook(account, raw)  # Telegram delivers the same update again: one answer only

    answers = fake.calls("answerCallbackQuery")
    assert [a.data["callback_query_id"] for a in answers] == [
        json.loads(raw)["callback_query"]["id"]
    ]


def test_a_button_answer_telegram_refuses_is_logged_and_loses_nothing(channel, post_hook, fake):
    account = channel("telegram")
    fake.fail_next(1, status=400)  # "query is too old": the press itself must still be kept

    post_hook(account, (CORPUS / "telegram" / "nutgram__callback_query.json").read_bytes())

    assert Message.objects.get(channel_account=account).body == "Button pressed: thedata"
    assert InboundEvent.objects.get().status == InboundEvent.Status.PROCESSED


def test_telegram_service_and_non_message_updates_are_ignored(channel, post_hook):
    account = channel("telegram")
    for name in ("nutgram__chat_member.json", "nutgram__left_chat_member.json"):
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
