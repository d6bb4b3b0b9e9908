from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from channels_adapters.base import DeliveryError
from channels_adapters.email import poller
from channels_adapters.email.adapter import EmailAdapter
from channels_adapters.email.parser import parse_mail
from channels_adapters.email.sender import mail_send
from channels_adapters.services import reply_send
from customers.models import Identity
from tests.channels_adapters.email.conftest import append, free_port
from tests.channels_adapters.email.test_poller import mail
from tests.factories import make_user
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(mail_account, dovecot, django_capture_on_commit_callbacks, eager_celery):
    append(dovecot, mail_account.imap_folder, mail(1, subject="Kargo nerede?"))
    with django_capture_on_commit_callbacks(execute=True):
        poller.mail_accounts_poll()
    return Ticket.objects.get(channel_account=mail_account)


def _reply(ticket, body, capture):
    with capture(execute=True):
        return reply_send(ticket=ticket, author=make_user(), body=body)


def test_reply_goes_out_threaded_and_the_answer_threads_back(
    ticket, mail_account, dovecot, smtp_server, django_capture_on_commit_callbacks
):
    reply = _reply(ticket, "Kargonuz yolda.", django_capture_on_commit_callbacks)

    [(mail_from, rcpt_tos, raw)] = smtp_server.messages
    sent = message_from_bytes(raw, policy=policy.default)
    assert mail_from == "destek@omnico.test"
    assert rcpt_tos == ["ayse@example.com"]
    assert sent["To"].addresses[0].addr_spec == "ayse@example.com"
    assert sent["From"].addresses[0].display_name == "Omnico Destek"
    assert str(sent["Subject"]) == f"Re: Kargo nerede? [#{ticket.pk}]"
    assert sent["In-Reply-To"] == "<mail-1-ayse@example.com>"
    assert "<mail-1-ayse@example.com>" in sent["References"]
    assert sent["Message-ID"].endswith("@omnico.test>")
    assert sent.get_content().strip() == "Kargonuz yolda."

    reply.refresh_from_db()
    assert reply.delivery == Message.Delivery.SENT
    assert f"<{reply.external_id}>" == sent["Message-ID"]

    answer = mail(
        2,
        subject="Re: teşekkürler",
        In_Reply_To=sent["Message-ID"],
        References=f"<mail-1-ayse@example.com> {sent['Message-ID']}",
    )
    assert EmailAdapter().thread_ticket_id(mail_account, parse_mail(answer)) == ticket.pk
    append(dovecot, mail_account.imap_folder, answer)
    with django_capture_on_commit_callbacks(execute=True):
        poller.mail_accounts_poll()
    assert Message.objects.get(external_id="mail-2-ayse@example.com").ticket_id == ticket.pk

    second = _reply(ticket, "Rica ederiz.", django_capture_on_commit_callbacks)
    followup = message_from_bytes(smtp_server.messages[-1][2], policy=policy.default)
    assert followup["In-Reply-To"] == "<mail-2-ayse@example.com>"
    refs = followup["References"].split()
    assert refs[-1] == "<mail-2-ayse@example.com>"
    assert {"<mail-1-ayse@example.com>", sent["Message-ID"]} <= set(refs)
    second.refresh_from_db()
    assert second.delivery == Message.Delivery.SENT


def test_subject_token_threads_only_for_the_same_customer(ticket, mail_account):
    own = parse_mail(mail(5, subject=f"Yine ben [#{ticket.pk}]"))
    stranger = parse_mail(mail(6, sender="eve@example.com", subject=f"Hi [#{ticket.pk}]"))
    adapter = EmailAdapter()
    assert adapter.thread_ticket_id(mail_account, own) == ticket.pk
    assert adapter.thread_ticket_id(mail_account, stranger) is None


def _recipient(ticket):
    return Identity.objects.get(customer=ticket.customer, kind="email")


def _pending(ticket):
    return Message.objects.create(
        ticket=ticket,
        channel_account=ticket.channel_account,
        direction=Message.Direction.OUTBOUND,
        body="Merhaba",
        sent_at=ticket.created_at,
        delivery=Message.Delivery.PENDING,
    )


def test_wrong_smtp_password_is_a_permanent_failure(ticket, mail_account):
    mail_account.password = "not-the-password"  # noqa: S105
    with pytest.raises(DeliveryError) as caught:
        mail_send(account=mail_account, message=_pending(ticket), recipient=_recipient(ticket))
    assert caught.value.permanent
    assert "Wrong user name or password" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_refused_recipient_is_a_permanent_failure(ticket, mail_account, smtp_server):
    smtp_server.refuse.add("ayse@example.com")
    with pytest.raises(DeliveryError) as caught:
        mail_send(account=mail_account, message=_pending(ticket), recipient=_recipient(ticket))
    assert caught.value.permanent
    assert "550" in str(caught.value)


def test_refused_connection_is_transient(ticket, mail_account):
    mail_account.smtp_port = free_port()
    with pytest.raises(DeliveryError) as caught:
        mail_send(account=mail_account, message=_pending(ticket), recipient=_recipient(ticket))
    assert not caught.value.permanent
    assert "Connection refused" in str(caught.value)


def test_disabled_account_sends_nothing(ticket, mail_account, smtp_server):
    mail_account.enabled = False
    with pytest.raises(DeliveryError) as caught:
        mail_send(account=mail_account, message=_pending(ticket), recipient=_recipient(ticket))
    assert caught.value.permanent
    assert smtp_server.messages == []
