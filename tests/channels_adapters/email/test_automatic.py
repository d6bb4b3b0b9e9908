"""Only real automatic mail is kept out of the agents' way (stored, shown with its reason); a
person's reply that came through a list or forwarder reaches the inbox like any reply."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.urls import reverse

from channels_adapters.email import poller
from channels_adapters.email.parser import parse_mail
from tests.channels_adapters.email.conftest import append
from tickets.models import ACTIVE_STATUSES, Message, Ticket

LIST_HEADERS = {
    "Precedence": "bulk",
    "List_Id": "Destek listesi <destek.lists.example.com>",
    "List_Unsubscribe": "<mailto:leave@lists.example.com>",
}


def mail(n: int, *, sender="ayse@example.com", subject="Sipariş", body="Merhaba", **headers):
    msg = EmailMessage()
    msg["From"] = f"Ayşe <{sender}>"
    msg["To"] = "destek@omnico.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<auto-{n}-{sender}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def dsn(n: int) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        b"To: destek@omnico.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-%d@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at mx.example.com.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@example.com\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n--B--\r\n"
    ) % n


@pytest.mark.parametrize(
    "headers",
    [
        {"Precedence": "bulk"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
        LIST_HEADERS,
        {"List_Id": "<forwarder.example.com>", "X_Forwarded_For": "ayse@example.com"},
        {"Auto_Submitted": "no", "Precedence": "bulk"},
    ],
)
def test_a_person_writing_through_a_list_or_forwarder_is_not_automatic(headers):
    parsed = parse_mail(mail(1, subject="Re: Sipariş", body="Kargom nerede?", **headers))
    assert not parsed.is_automatic
    assert "automatic" not in parsed.meta


@pytest.mark.parametrize(
    ("headers", "subject", "reason"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Sipariş", "auto-submitted"),
        ({"Auto_Submitted": "auto-generated"}, "Bildirim", "auto-submitted"),
        ({"X_Autoreply": "yes"}, "Sipariş", "auto-reply"),
        ({"X_Autorespond": "yes"}, "Sipariş", "auto-reply"),
        ({"Precedence": "auto_reply"}, "Sipariş", "auto-reply"),
        ({"X_Auto_Response_Suppress": "All"}, "Automatic reply: Sipariş", "vacation"),
        ({"Precedence": "bulk"}, "Out of Office: Sipariş", "vacation"),
        ({"Precedence": "junk"}, "Otomatik yanıt: izindeyim", "vacation"),
        ({"Return_Path": "<>"}, "Sipariş", "bounce"),
        ({"X_Failed_Recipients": "x@example.com"}, "Sipariş", "bounce"),
    ],
)
def test_real_automatic_mail_is_automatic_with_its_reason(headers, subject, reason):
    parsed = parse_mail(mail(1, subject=subject, **headers))
    assert parsed.is_automatic
    assert parsed.meta["automatic"] == reason


def test_an_auto_reply_subject_alone_is_a_person():
    # "Out of office" as a subject without any header marker: a person may write that.
    assert not parse_mail(mail(1, subject="Out of office until Monday?")).is_automatic


def test_a_delivery_status_notification_is_a_delivery_report():
    parsed = parse_mail(dsn(1))
    assert parsed.is_automatic
    assert parsed.meta["automatic"] == "delivery-report"


@pytest.fixture
def poll(django_capture_on_commit_callbacks, eager_celery):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return poller.mail_accounts_poll()

    return run


def test_a_list_reply_reaches_the_inbox(mail_account, dovecot, poll):
    append(dovecot, mail_account.imap_folder, mail(1, subject="Sipariş 42", body="Kargom nerede?"))
    poll()
    ticket = Ticket.objects.get(channel_account=mail_account)
    ticket.unread = False
    ticket.save(update_fields=["unread"])

    reply = mail(
        2,
        subject="Re: Sipariş 42",
        body="Hâlâ gelmedi, yardım edin.",
        In_Reply_To="<auto-1-ayse@example.com>",
        **LIST_HEADERS,
    )
    fresh = mail(3, sender="mehmet@example.com", subject="İade", **LIST_HEADERS)
    append(dovecot, mail_account.imap_folder, reply, fresh)
    poll()

    message = Message.objects.get(external_id="auto-2-ayse@example.com")
    assert not message.is_automatic
    assert message.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert ticket.unread
    assert ticket.last_message_preview.startswith("Hâlâ gelmedi")
    opened = Message.objects.get(external_id="auto-3-mehmet@example.com").ticket
    assert opened.status in ACTIVE_STATUSES


def test_a_vacation_reply_and_a_dsn_stay_out_of_the_inbox_with_their_reason(
    mail_account, dovecot, poll, agent_client
):
    vacation = mail(
        1,
        sender="away@example.com",
        subject="Automatic reply: Sipariş",
        body="I am away until Monday.",
        X_Auto_Response_Suppress="All",
    )
    append(dovecot, mail_account.imap_folder, vacation, dsn(2))
    poll()

    kept = Message.objects.filter(channel_account=mail_account).select_related("ticket")
    assert len(kept) == 2
    assert all(m.is_automatic for m in kept)
    assert not Ticket.objects.filter(
        channel_account=mail_account, status__in=ACTIVE_STATUSES
    ).exists()
    pages = {
        m.meta["automatic"]: agent_client.get(
            reverse("ticket-detail", args=[m.ticket_id])
        ).content.decode()
        for m in kept
    }
    assert "An out-of-office or vacation reply." in pages["vacation"]
    assert "A delivery status notification." in pages["delivery-report"]
