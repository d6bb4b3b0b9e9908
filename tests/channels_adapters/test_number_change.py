"""WhatsApp "number changed": the customer's identity takes the new number, so the next message
from it lands in the same customer and their open ticket, with a system line for the agent."""

from __future__ import annotations

import json

from channels_adapters.models import InboundEvent
from channels_adapters.services import event_ingest
from customers.models import Identity
from tests.channels_adapters.conftest import CORPUS
from tickets.models import Message

OLD, NEW = "972987654321", "972912345678"


def _text(sender: str, wamid: str, body: str) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": "User A"}, "wa_id": sender}],
        "messages": [
            {
                "from": sender,
                "id": wamid,
                "timestamp": "1753851000",
                "type": "text",
                "text": {"body": body},
            }
        ],
    }
    return json.dumps(
        {"entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    ).encode()


def _notice(name: str = "pywa__system__phone_number_change.json") -> bytes:
    return (CORPUS / "whatsapp" / name).read_bytes()


def test_after_a_number_change_the_new_number_writes_into_the_same_ticket(channel, post_hook):
    account = channel("whatsapp")
    post_hook(account, _text(OLD, "wamid.first", "Siparişim nerede?"))
    first = Message.objects.select_related("ticket__customer").get(external_id="wamid.first")

    post_hook(account, _notice())
    post_hook(account, _text(NEW, "wamid.second", "Yeni numaram bu"))

    second = Message.objects.select_related("ticket").get(external_id="wamid.second")
    assert second.ticket == first.ticket
    assert second.ticket.customer_id == first.ticket.customer_id
    assert list(Identity.objects.values_list("external_id", flat=True)) == [NEW]
    first.ticket.customer.refresh_from_db()
    assert first.ticket.customer.phone == NEW
    system = Message.objects.get(ticket=first.ticket, direction=Message.Direction.SYSTEM)
    assert system.body == f"The customer changed their WhatsApp number from {OLD} to {NEW}."
    assert InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() == 3


def test_a_redelivered_number_change_adds_nothing(channel, post_hook):
    account = channel("whatsapp")
    post_hook(account, _text(OLD, "wamid.first", "Merhaba"))
    post_hook(account, _notice())
    InboundEvent.objects.all().delete()  # as if the dedupe window had passed

    post_hook(account, _notice())

    assert Message.objects.filter(direction=Message.Direction.SYSTEM).count() == 1
    assert list(Identity.objects.values_list("external_id", flat=True)) == [NEW]


def test_a_number_change_applied_one_event_at_a_time_also_moves_the_identity(channel):
    account = channel("whatsapp")
    first = InboundEvent.objects.create(
        channel_account=account, dedupe_key="m", body=_text(OLD, "wamid.first", "Merhaba")
    )
    event_ingest(event_id=first.pk)
    notice = InboundEvent.objects.create(channel_account=account, dedupe_key="n", body=_notice())

    event_ingest(event_id=notice.pk)

    notice.refresh_from_db()
    assert notice.status == InboundEvent.Status.PROCESSED
    assert list(Identity.objects.values_list("external_id", flat=True)) == [NEW]
    assert Message.objects.filter(direction=Message.Direction.SYSTEM).count() == 1


def test_an_identity_change_on_the_same_number_is_a_system_line_only(channel, post_hook):
    account = channel("whatsapp")
    post_hook(account, _text(OLD, "wamid.first", "Merhaba"))

    post_hook(account, _notice("pywa__system__identity_change.json"))

    assert list(Identity.objects.values_list("external_id", flat=True)) == [OLD]
    system = Message.objects.get(direction=Message.Direction.SYSTEM)
    assert "identity changed" in system.body
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
