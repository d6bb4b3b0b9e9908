"""What an agent reads for content Omnico does not render itself: one line naming the type and
its main content, for every family of types and for a type no one has invented yet."""

from __future__ import annotations

import json

from django.utils import translation

from channels_adapters.models import InboundEvent
from channels_adapters.summaries import summary_line
from tickets.models import Message


def test_location_names_its_coordinates_and_place():
    venue = {"location": {"latitude": 41.01, "longitude": 28.97}, "title": "Kadıköy"}

    assert summary_line("venue", venue) == "Location: 41.01, 28.97 (Kadıköy)"
    assert summary_line("location", {"coordinates": {"lat": 1.5, "long": 2}}) == (
        "Location: 1.5, 2"
    )


def test_contact_names_the_person_and_number():
    telegram = {"first_name": "Ayşe", "last_name": "Yılmaz", "phone_number": "+905551112233"}
    whatsapp = {"contacts": [{"name": {"formatted_name": "Ayşe"}, "phones": [{"phone": "+9055"}]}]}

    assert summary_line("contact", telegram) == "Contact: Ayşe Yılmaz +905551112233"
    assert summary_line("contacts", whatsapp) == "Contact: Ayşe +9055"


def test_poll_and_checklist_list_their_options():
    poll = {"question": "Which day?", "options": [{"text": "Monday"}, {"text": "Tuesday"}]}
    checklist = {"title": "Daily", "tasks": [{"id": 1, "text": "Apples"}]}

    assert summary_line("poll", poll) == "Poll: Which day? — Monday / Tuesday"
    assert summary_line("poll_answer", {"option_ids": [0, 2]}) == "Poll answer: option 1, 3"
    assert summary_line("checklist", checklist) == "Checklist: Daily — Apples"


def test_sticker_dice_and_story_show_what_they_are():
    assert summary_line("sticker", {"emoji": "👍", "file_id": "x"}) == "Sticker 👍"
    assert summary_line("dice", {"emoji": "🎯", "value": 6}) == "Dice 🎯: 6"
    assert summary_line("story", {"chat": {"username": "ayse"}, "id": 1}) == (
        "Story shared from ayse"
    )


def test_button_presses_and_list_choices_name_the_label():
    assert summary_line("callback_query", {"data": "buy", "text": "Buy now"}) == (
        "Button pressed: Buy now"
    )
    assert summary_line("postback", {"title": "Get started", "payload": "START"}) == (
        "Button pressed: Get started"
    )
    assert summary_line("list_reply", {"id": "1", "title": "Red"}) == "Chosen from a list: Red"


def test_money_invoices_payments_and_orders_show_amounts():
    invoice = {"title": "Shoes", "currency": "TRY", "total_amount": 12550}
    order = {"product_items": [{"quantity": 2, "product_retailer_id": "SKU1", "item_price": 5}]}

    assert summary_line("invoice", invoice) == "Invoice: Shoes — 125.50 TRY"
    assert summary_line("payment", {"amount": {"amount": 29.62, "currency": "USD"}}) == (
        "Payment: 29.62 USD"
    )
    assert summary_line("order", order) == "Order: 2 × SKU1 (5)"


def test_reactions_referrals_and_templates_are_described():
    assert summary_line("reaction", {"emoji": "😢", "message_id": "m1"}) == "Reaction: 😢"
    assert summary_line("reaction", {"action": "unreact"}) == "Reaction removed"
    assert summary_line("message_reaction", {"new_reaction": [{"emoji": "🔥"}]}) == ("Reaction: 🔥")
    assert summary_line("referral", {"ref": "summer", "source": "SHORTLINK"}) == (
        "Came from a referral: summer — SHORTLINK"
    )
    product = {"product": {"elements": [{"id": "1", "title": "Lamp", "image_url": "https://x"}]}}
    assert summary_line("template", product) == "Template (product): Lamp"


def test_a_type_added_after_this_release_still_shows_its_name_and_text():
    future = {"id": "h1", "caption": "Look at this", "frames": [{"label": "front"}]}

    assert summary_line("hologram_note", future) == "Hologram note: Look at this — front"
    assert summary_line("beam", {"id": "b"}) == "Beam (not shown by Omnico)"


def test_the_line_is_translated():
    with translation.override("tr"):
        line = summary_line("poll", {"question": "Hangi gün?", "options": []})

    assert line == "Anket: Hangi gün?"


# --- end to end: a made-up future type through each channel's webhook ----------------------


def _telegram_update(**fields) -> bytes:
    chat = {"id": 4242, "first_name": "Ayşe", "type": "private"}
    message = {"message_id": 7, "from": {**chat, "is_bot": False}, "chat": chat, "date": 1}
    return json.dumps({"update_id": 99, "message": {**message, **fields}}).encode()


def test_telegram_message_of_an_unknown_type_becomes_a_readable_message(channel, post_hook):
    account = channel("telegram")

    post_hook(account, _telegram_update(hologram={"title": "Hello from the future"}))

    message = Message.objects.get(channel_account=account)
    assert message.body == "Hologram: Hello from the future"
    assert message.meta["types"] == ["hologram"]


def test_telegram_update_of_an_unknown_type_from_a_user_becomes_a_message(channel, post_hook):
    account = channel("telegram")
    user = {"id": 5151, "is_bot": False, "first_name": "Can"}
    body = {"update_id": 5, "star_wish": {"id": "w1", "from": user, "wish": "A discount"}}

    post_hook(account, json.dumps(body).encode())

    message = Message.objects.select_related("ticket__customer").get(channel_account=account)
    assert message.body == "Star wish: A discount"
    assert message.ticket.customer.name == "Can"


def test_whatsapp_message_of_an_unknown_type_becomes_a_readable_message(channel, post_hook):
    account = channel("whatsapp")
    item = {
        "from": "905551112233",
        "id": "wamid.future",
        "timestamp": "1700000000",
        "type": "hologram",
        "hologram": {"caption": "Bu ne?", "id": "m1"},
    }
    value = {"messaging_product": "whatsapp", "messages": [item]}
    body = {"entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}

    post_hook(account, json.dumps(body).encode())

    assert Message.objects.get(channel_account=account).body == "Hologram: Bu ne?"


def test_messenger_event_of_an_unknown_type_becomes_a_readable_message(channel, post_hook):
    account = channel("messenger")
    item = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE"},
        "timestamp": 1700000000000,
        "game_play": {"game_id": "g1", "player_id": "p1", "score": 120, "payload": "level 3"},
    }
    body = {"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [item]}]}

    post_hook(account, json.dumps(body).encode())

    assert Message.objects.get(channel_account=account).body == "Game play: level 3"


def test_a_service_event_is_ignored_with_its_reason(channel, post_hook):
    account = channel("telegram")

    post_hook(account, _telegram_update(new_chat_title="Support group"))

    event = InboundEvent.objects.get(channel_account=account)
    assert event.status == InboundEvent.Status.IGNORED
    assert event.error == (
        "A service message in the chat (new_chat_title), nothing a customer wrote."
    )
    assert not Message.objects.exists()


def test_encrypted_passport_data_is_named_not_quoted():
    data = {"data": [{"type": "passport", "data": "c2VjcmV0"}], "credentials": {"hash": "h"}}

    assert summary_line("passport_data", data) == "Telegram Passport data shared: passport"
