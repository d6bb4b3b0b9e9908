"""Every mail of the shared e-mail corpus, pinned: what ingesting it creates (how many
messages, whether it reaches the inbox or is kept out of the way and why, how many files it
brings), and for some the decoded subject and first words. A mail that starts being dropped,
hidden, or decoded differently fails here; a mail added to the corpus must be pinned too."""

from __future__ import annotations

import pytest

from channels_adapters.email.adapter import mail_dedupe_key
from channels_adapters.models import InboundEvent
from channels_adapters.services import event_record
from channels_adapters.services.ingest import event_ingest
from configuration.models import ChannelKind, MailAccount
from tests.channels_adapters.email.conftest import corpus_dir
from tickets.models import ACTIVE_STATUSES, Message, TicketStatus

pytestmark = pytest.mark.django_db

#: Reaches the agents' inbox (an open ticket); otherwise the ``automatic`` reason it is kept
#: out of the way with (``channels_adapters.email.parser.AUTOMATIC_REASONS``), in a closed ticket.
INBOX = "inbox"

#: file -> (messages created, INBOX or why not, attachments kept)
OUTCOMES: dict[str, tuple[int, str, int]] = {
    "chatwoot__bounced_with_no_from.eml": (1, "auto-submitted", 2),
    "chatwoot__forwarder_email.eml": (1, INBOX, 2),
    "chatwoot__mail_with_plain_text_and_inline_image.eml": (1, INBOX, 3),
    "chatwoot__multiple_in_reply_to.eml": (1, INBOX, 0),
    "chatwoot__non_utf_encoded_mail.eml": (1, "auto-submitted", 0),
    "chatwoot__notification.eml": (1, INBOX, 0),
    "chatwoot__only_attachments.eml": (1, INBOX, 1),
    "chatwoot__only_text.eml": (1, INBOX, 0),
    "chatwoot__references.eml": (1, INBOX, 0),
    "chatwoot__reply_cc.eml": (1, INBOX, 0),
    "chatwoot__support_1.eml": (1, INBOX, 0),
    "chatwoot__welcome_html.eml": (1, INBOX, 0),
    "cpython__msg_02.eml": (1, INBOX, 5),
    "cpython__msg_16.eml": (1, "delivery-report", 2),
    "cpython__msg_19.eml": (1, INBOX, 0),
    "cpython__msg_26.eml": (1, INBOX, 1),
    "cpython__msg_36.eml": (1, INBOX, 2),
    "cpython__msg_41.eml": (1, INBOX, 0),
    "cpython__msg_43.eml": (1, "delivery-report", 2),
    "djmailbox__bad_character_attachment.eml": (1, INBOX, 1),
    "djmailbox__message_with_attachment.eml": (1, INBOX, 1),
    "djmailbox__message_with_defective_attachment_association.eml": (1, INBOX, 0),
    "djmailbox__message_with_invalid_encoding.eml": (1, INBOX, 0),
    "djmailbox__message_with_koi8r_filename_attachments.eml": (1, INBOX, 3),
    "djmailbox__message_with_long_content.eml": (1, INBOX, 0),
    "djmailbox__message_with_long_text_lines.eml": (1, INBOX, 0),
    "djmailbox__message_with_single_byte_encoding.eml": (1, INBOX, 0),
    "djmailbox__message_with_single_byte_extended_subject_encoding.eml": (1, INBOX, 0),
    "djmailbox__message_with_utf8_attachment.eml": (1, INBOX, 2),
    "helpdesk__all-special-chars.eml": (1, INBOX, 0),
    "helpdesk__pgp.eml": (1, INBOX, 1),
    "helpdesk__quoted_printable.eml": (1, INBOX, 0),
    "mailparser__mail_malformed_2.eml": (1, "delivery-report", 2),
    "mailparser__mail_malformed_3.eml": (1, INBOX, 0),
    "mailparser__mail_test_12.eml": (1, INBOX, 0),
    "mailparser__mail_test_13.eml": (1, INBOX, 0),
    "mailparser__mail_test_14.eml": (1, INBOX, 1),
    "mailparser__mail_test_16.eml": (1, INBOX, 0),
    "mailparser__mail_test_3.eml": (1, INBOX, 1),
    "mailparser__mail_test_7.eml": (1, INBOX, 8),
    "mailparser__mail_test_9.eml": (1, INBOX, 0),
    "mikelmail__attachment_emails__attachment_nonascii_filename.eml": (1, INBOX, 1),
    "mikelmail__error_emails__encoding_madness.eml": (1, INBOX, 0),
    "mikelmail__error_emails__header_fields_with_empty_values.eml": (1, INBOX, 0),
    "mikelmail__error_emails__multiple_references_with_one_invalid.eml": (1, INBOX, 0),
    "mikelmail__error_emails__new_line_in_to_header.eml": (1, INBOX, 0),
    "mikelmail__mime_emails__email_with_similar_boundaries.eml": (1, INBOX, 1),
    "mikelmail__mime_emails__raw_email_with_illegal_boundary.eml": (1, INBOX, 0),
    "mikelmail__plain_emails__raw_email_reply.eml": (1, INBOX, 0),
    "mikelmail__plain_emails__raw_email_string_in_date_field.eml": (1, INBOX, 0),
    "mikelmail__plain_emails__raw_email_with_partially_quoted_subject.eml": (1, INBOX, 0),
    "mikelmail__rfc6532__utf8_headers.eml": (1, INBOX, 0),
    "zammad__mail001.eml": (1, INBOX, 0),
    "zammad__mail004.eml": (1, INBOX, 0),
    "zammad__mail005.eml": (1, INBOX, 0),
    "zammad__mail011.eml": (1, INBOX, 0),
    "zammad__mail018.eml": (1, "delivery-report", 2),
    "zammad__mail023.eml": (1, INBOX, 0),
    "zammad__mail041.eml": (1, INBOX, 1),
    "zammad__mail042.eml": (1, INBOX, 2),
    "zammad__mail045.eml": (1, INBOX, 0),
    "zammad__mail054.eml": (1, INBOX, 0),
    "zammad__mail055.eml": (1, "auto-submitted", 2),
    "zammad__mail056.eml": (1, INBOX, 1),
    "zammad__mail060.eml": (1, INBOX, 0),
    "zammad__mail072.eml": (1, INBOX, 0),
    "zammad__mail076.eml": (1, INBOX, 0),
    "zammad__mail081.eml": (1, INBOX, 1),
    "zammad__mail087.eml": (1, INBOX, 1),
    "zammad__mail088.eml": (1, INBOX, 1),
    "zammad__mail091.eml": (1, INBOX, 0),
    "zammad__mail093.eml": (1, INBOX, 0),
    "zammad__mail102.eml": (1, INBOX, 3),
    "zammad__mail105.eml": (1, INBOX, 0),
}

#: file -> (decoded subject, first words of the text)
DECODED = {
    "chatwoot__non_utf_encoded_mail.eml": ("أهلين عميلنا الكريم", "أنظروا، أنا أحتاجها فقط"),
    "djmailbox__message_with_koi8r_filename_attachments.eml": (
        "Предложения от НИУ ВШЭ на 2016 год",
        "Добрый день, уважаемые коллеги.",
    ),
    "djmailbox__message_with_single_byte_encoding.eml": (
        "Tjest",
        "Это сообщение имеет неправильную кодировка.",
    ),
    "djmailbox__message_with_single_byte_extended_subject_encoding.eml": (
        "Узнай как зарабатывать от 1000$ в неделю!",
        "Content-Type: text/html;",
    ),
    "helpdesk__all-special-chars.eml": ("Testovácí email", "íářčšáíéřášč"),
    "helpdesk__quoted_printable.eml": ("Český test", "Tohle je test českých písmen"),
    "mailparser__mail_test_12.eml": ("代开各地增值税发票", "你好！我公司可代开各类增值税发票"),
    "mikelmail__error_emails__header_fields_with_empty_values.eml": (
        "Testmail",
        "--\nJørn Støylen",
    ),
    "mikelmail__plain_emails__raw_email_with_partially_quoted_subject.eml": (
        'Re: Test: "漢字" mid "漢字" tail',
        "대부분의 마찬가지로, 우리는 하나님을 믿습니다.",
    ),
    "mikelmail__rfc6532__utf8_headers.eml": ("Säying Hello", "body"),
    "zammad__mail001.eml": ("CI Daten für PublicView", "Hallo Martin,"),
    "zammad__mail018.eml": (
        "Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)",
        "Dies ist eine automatisch erstellte Benachrichtigung",
    ),
    "zammad__mail072.eml": ("Réclamation commande n° 018255977840", "Bonjour,"),
    "zammad__mail091.eml": ("メルマガ解除", "このアドレスへのメルマガを解除してください。"),
    "zammad__mail093.eml": ("ツール", "今なら、先着100施設限定で"),
    "zammad__mail105.eml": ("aaäöüßad asd", "äöüß ad asd"),
}

FILES = sorted(path.name for path in corpus_dir().iterdir() if path.is_file())


def _account(name: str = "corpus") -> MailAccount:
    return MailAccount.objects.create(
        kind=ChannelKind.EMAIL, name=name, email_address="destek@omnico.test"
    )


def _ingest(account: MailAccount, raw: bytes) -> InboundEvent | None:
    event, _created = event_record(account=account, body=raw, dedupe_key=mail_dedupe_key(raw))
    return event_ingest(event_id=event.pk)


def test_every_corpus_file_is_pinned():
    assert len(FILES) >= 70, f"expected the e-mail corpus in {corpus_dir()}"
    assert sorted(OUTCOMES) == FILES
    assert set(DECODED) <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_corpus_mail_has_its_pinned_outcome(name):
    account = _account()
    raw = (corpus_dir() / name).read_bytes()

    event = _ingest(account, raw)

    assert event is not None and event.status == InboundEvent.Status.PROCESSED, event
    messages = list(Message.objects.filter(channel_account=account).select_related("ticket"))
    count, where, files = OUTCOMES[name]
    assert len(messages) == count
    message = messages[0]
    if where == INBOX:
        assert not message.is_automatic
        assert message.ticket.status in ACTIVE_STATUSES
        assert "automatic" not in message.meta
    else:
        assert message.is_automatic
        assert message.meta["automatic"] == where
        assert message.ticket.status == TicketStatus.CLOSED
    assert message.attachments.count() == files
    if name in DECODED:
        subject, first_words = DECODED[name]
        assert message.meta["subject"] == subject
        assert message.body.startswith(first_words)

    assert _ingest(account, raw) is None  # the same mail again: the same event, nothing new
    assert Message.objects.filter(channel_account=account).count() == count


def test_the_whole_corpus_in_one_mailbox_keeps_every_mail():
    """Some corpus mails share a Message-ID but say different things: each is kept."""
    account = _account()
    for name in FILES:
        _ingest(account, (corpus_dir() / name).read_bytes())

    assert Message.objects.filter(channel_account=account).count() == sum(
        count for count, _where, _files in OUTCOMES.values()
    )
    assert not InboundEvent.objects.exclude(status=InboundEvent.Status.PROCESSED).exists()
