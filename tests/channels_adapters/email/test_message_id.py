"""Two different mails sharing a Message-ID are both kept; the same mail seen twice (fetched
again, or through another hop) is one message; threading still finds the right ticket."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from channels_adapters.email import poller
from channels_adapters.email.selectors import mail_reply_thread
from channels_adapters.models import InboundEvent, MailboxCursor
from tests.channels_adapters.email.conftest import append
from tickets.models import Message

pytestmark = pytest.mark.django_db

SHARED = "<shared-id@broken-client.example>"


def mail(body: str, *, sender="ayse@example.com", message_id=SHARED, **headers) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ayşe <{sender}>"
    msg["To"] = "destek@omnico.test"
    msg["Subject"] = headers.pop("Subject", "Sipariş")
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def poll(django_capture_on_commit_callbacks, eager_celery):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return poller.mail_accounts_poll()

    return run


def inbound(account):
    return Message.objects.filter(channel_account=account, direction="in").order_by("pk")


def test_two_different_mails_sharing_a_message_id_are_both_kept(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail("İlk mesajım"), mail("İkinci, başka bir mesaj"))

    [result] = poll()

    assert (result.fetched, result.stored) == (2, 2)
    messages = list(inbound(mail_account))
    assert [m.body.strip() for m in messages] == ["İlk mesajım", "İkinci, başka bir mesaj"]
    assert messages[0].external_id == "shared-id@broken-client.example"
    assert messages[1].external_id.startswith("shared-id@broken-client.example#")
    assert {m.meta["message_id"] for m in messages} == {"shared-id@broken-client.example"}
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_the_same_mail_fetched_again_or_through_another_hop_is_one_message(
    mail_account, dovecot, poll
):
    raw = mail("Merhaba")
    hop = b"Received: from relay.example by mx.example; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    hop += b"Delivered-To: destek@omnico.test\r\n"
    append(dovecot, mail_account.imap_folder, raw, hop + raw)

    [result] = poll()

    assert result.fetched == 2
    assert inbound(mail_account).count() == 1


def test_repolling_the_mailbox_from_the_start_duplicates_nothing(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail("Bir"), mail("İki"), mail("Üç"))
    poll()
    MailboxCursor.objects.filter(mail_account=mail_account).update(last_uid=0)

    [again] = poll()

    assert (again.fetched, again.stored) == (3, 0)
    assert inbound(mail_account).count() == 3


def test_the_same_two_mails_ingested_again_stay_two(mail_account, dovecot, poll):
    """Even past the event log (its rows gone), the messages' content keys settle it."""
    append(dovecot, mail_account.imap_folder, mail("Bir"), mail("İki"))
    poll()
    InboundEvent.objects.all().delete()
    MailboxCursor.objects.filter(mail_account=mail_account).update(last_uid=0)

    poll()

    assert inbound(mail_account).count() == 2
    assert InboundEvent.objects.filter(status="processed").count() == 2


def test_a_reply_to_the_shared_id_threads_and_our_reply_cites_the_real_id(
    mail_account, dovecot, poll
):
    append(dovecot, mail_account.imap_folder, mail("Bir"), mail("İki"))
    poll()
    first, second = inbound(mail_account)
    reply = mail(
        "Cevabım",
        message_id="<reply-1@example.com>",
        In_Reply_To=SHARED,
        References=SHARED,
        Subject="Re: Sipariş",
    )
    append(dovecot, mail_account.imap_folder, reply)

    poll()

    answer = inbound(mail_account).get(external_id="reply-1@example.com")
    assert answer.ticket_id == first.ticket_id
    in_reply_to, references = mail_reply_thread(message=second)
    assert "#" not in in_reply_to
    assert all("#" not in ref for ref in references)
