from __future__ import annotations

from email.message import EmailMessage

import pytest

from channels_adapters.email.parser import UNKNOWN_SENDER, parse_mail
from tests.channels_adapters.email.conftest import corpus_dir, corpus_files

CORPUS = corpus_files()


def corpus(name: str) -> bytes:
    return (corpus_dir() / name).read_bytes()


def test_the_corpus_is_there():
    assert len(CORPUS) >= 70, f"expected the e-mail corpus in {corpus_dir()}"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_corpus_mail_parses_into_something_an_agent_can_read(path):
    msg = parse_mail(path.read_bytes())

    assert msg.external_id and len(msg.external_id) <= 255
    assert msg.sender_id
    assert msg.text.strip() or msg.attachments or msg.meta.get("note")
    for value in (msg.text, msg.html, msg.title, msg.sender_name, msg.sender_id):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates left from raw 8-bit bytes
    for attachment in msg.attachments:
        assert attachment.filename
        assert isinstance(attachment.content, bytes)
        attachment.filename.encode("utf-8")


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_the_dedupe_key_from_the_headers_alone_is_the_id_the_full_parse_stores(path):
    from channels_adapters.email.adapter import mail_dedupe_key

    raw = path.read_bytes()
    parsed = parse_mail(raw)
    key = mail_dedupe_key(raw)
    assert len(key) <= 255
    # The Message-ID the full parse stores, and the content key that tells apart two
    # different mails sharing it.
    assert key == f"{parsed.external_id[: 254 - len(parsed.content_key)]}#{parsed.content_key}"


def test_parsing_the_same_bytes_twice_gives_the_same_id():
    raw = corpus("cpython__msg_19.eml")  # no Message-ID at all
    assert parse_mail(raw).external_id == parse_mail(raw).external_id
    assert parse_mail(raw).external_id != parse_mail(raw + b"\n.").external_id


def _mail(*, charset: str, subject: str, body: str, **headers) -> bytes:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Ayşe Yılmaz <ayse@example.com.tr>")
    mail["To"] = "destek@omnico.test"
    mail["Subject"] = subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body, charset=charset, cte="quoted-printable")
    return mail.as_bytes()


@pytest.mark.parametrize("charset", ["windows-1254", "iso-8859-9"])
def test_turkish_charset_mail_decodes_turkish_letters(charset):
    # The corpus holds no Turkish 8-bit mail, so this one is built here.
    raw = _mail(charset=charset, subject="Şikayet: kargo gecikti", body="Paketim gelmedi, ışığı ğ")
    assert charset.encode() in raw.lower()

    msg = parse_mail(raw)

    assert msg.text.strip() == "Paketim gelmedi, ışığı ğ"
    assert msg.title == "Şikayet: kargo gecikti"
    assert msg.sender_name == "Ayşe Yılmaz"
    assert msg.sender_id == "ayse@example.com.tr"


def test_unknown_charset_still_gives_text():
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nMessage-ID: <u1@example.com>\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello \xfe\xf0 world\r\n"
    )
    msg = parse_mail(raw)
    assert msg.text.startswith("hello ")
    assert msg.text.endswith("world")


def test_raw_8bit_subject_header_is_decoded_not_lost():
    raw = "From: a@example.com\r\nSubject: Sipariş iptali\r\n\r\nmetin\r\n".encode()
    assert parse_mail(raw).title == "Sipariş iptali"


def test_bounce_is_automatic():
    msg = parse_mail(corpus("zammad__mail055.eml"))
    assert msg.is_automatic
    bounce_without_from = parse_mail(corpus("chatwoot__bounced_with_no_from.eml"))
    assert bounce_without_from.is_automatic
    assert bounce_without_from.sender_id == UNKNOWN_SENDER


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "Out of office"},
        {"Precedence": "auto_reply"},
        {"Precedence": "bulk"},
        {"From": "MAILER-DAEMON@mx.example.com"},
        {"From": "postmaster@example.com"},
        {"Return_Path": "<>"},
    ],
)
def test_auto_replies_are_automatic(headers):
    assert parse_mail(
        _mail(charset="utf-8", subject="Out of office", body="away", **headers)
    ).is_automatic


def test_a_person_writing_is_not_automatic():
    raw = _mail(charset="utf-8", subject="Hi", body="hello", Auto_Submitted="no")
    assert not parse_mail(raw).is_automatic


def test_inline_image_mail_has_inline_attachment_with_its_content_id():
    msg = parse_mail(corpus("chatwoot__mail_with_plain_text_and_inline_image.eml"))
    inline = [a for a in msg.attachments if a.is_inline]
    assert [a.filename for a in inline] == ["poster (8).jpg", "poster (7).jpg", "poster (1).jpg"]
    assert all(a.content_type == "image/jpeg" and a.content_id for a in inline)
    # This fixture's image bodies are empty upstream; this one carries a real PNG:
    png = parse_mail(corpus("zammad__mail102.eml")).attachments[0]
    assert png.is_inline and png.content_id and png.content.startswith(b"\x89PNG")


def test_koi8r_filename_decodes():
    msg = parse_mail(corpus("djmailbox__message_with_koi8r_filename_attachments.eml"))
    names = [a.filename for a in msg.attachments]
    assert "Ведомости.pdf" in names
    assert msg.text.startswith("Добрый день")


def test_rfc2231_non_ascii_filename_decodes():
    msg = parse_mail(corpus("mikelmail__attachment_emails__attachment_nonascii_filename.eml"))
    assert [a.filename for a in msg.attachments] == ["ciële.txt"]


def _html_mail(html: str, text: str | None = None) -> bytes:
    mail = EmailMessage()
    mail["From"] = "a@example.com"
    mail["Subject"] = "html"
    if text is not None:
        mail.set_content(text)
        mail.add_alternative(html, subtype="html")
    else:
        mail.set_content(html, subtype="html")
    return mail.as_bytes()


def test_html_script_is_stripped_and_text_derived_when_no_text_part():
    html = (
        '<p>Merhaba <b>dünya</b></p><script>alert("x")</script>'
        '<a href="javascript:alert(1)" onclick="evil()">link</a><img src="cid:logo@x">'
    )
    msg = parse_mail(_html_mail(html))

    assert "<script" not in msg.html and "alert" not in msg.html
    assert "onclick" not in msg.html and "javascript:" not in msg.html
    assert "<b>dünya</b>" in msg.html
    assert 'src="cid:logo@x"' in msg.html
    assert msg.text.splitlines()[0] == "Merhaba dünya"
    assert "alert" not in msg.text


def test_alternative_keeps_the_text_part():
    msg = parse_mail(_html_mail("<p>HTML version</p>", text="Text version"))
    assert msg.text.strip() == "Text version"
    assert "HTML version" in msg.html


def test_thread_hints_and_ticket_token():
    raw = _mail(
        charset="utf-8",
        subject="Re: Kargo [#42]",
        body="cevap",
        In_Reply_To="<out-2@omnico.test>",
        References="<in-1@example.com> <out-1@omnico.test> <out-2@omnico.test>",
    )
    msg = parse_mail(raw)
    assert msg.thread_message_ids[0] == "out-2@omnico.test"
    assert set(msg.thread_message_ids) == {
        "in-1@example.com",
        "out-1@omnico.test",
        "out-2@omnico.test",
    }
    assert msg.ticket_token == 42
    assert msg.title == "Re: Kargo [#42]"


def test_broken_references_keep_the_valid_ids():
    msg = parse_mail(corpus("mikelmail__error_emails__multiple_references_with_one_invalid.eml"))
    assert msg.thread_message_ids


def test_sender_falls_back_to_reply_to_then_placeholder():
    raw = b"Reply-To: Can <can@example.com>\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_mail(raw).sender_id == "can@example.com"
    nobody = parse_mail(b"Subject: x\r\n\r\nbody\r\n")
    assert nobody.sender_id == UNKNOWN_SENDER
    assert nobody.text.strip() == "body"


def test_broken_multipart_boundary_is_salvaged():
    msg = parse_mail(corpus("mikelmail__mime_emails__raw_email_with_illegal_boundary.eml"))
    assert "This is an outlook test" in msg.text
    assert "NextPart" not in msg.text


def test_memoised_headers_give_each_mail_its_own_values_and_stay_bounded(monkeypatch):
    from channels_adapters.email import parser

    registry = parser.MAIL_POLICY.header_factory
    monkeypatch.setattr(registry, "MAX_ENTRIES", 3)

    def mail(sender: str, subject: str) -> bytes:
        return (
            f"From: {sender}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nMerhaba\r\n"
        ).encode()

    first = parser.parse_mail(mail("Ayşe <ayse@example.com>", "bir"))
    again = parser.parse_mail(mail("Ayşe <ayse@example.com>", "bir"))
    other = parser.parse_mail(mail("Mehmet <mehmet@example.com>", "iki"))

    assert (first.sender_id, first.title, first.text) == (again.sender_id, again.title, again.text)
    assert (other.sender_id, other.sender_name, other.title) == (
        "mehmet@example.com",
        "Mehmet",
        "iki",
    )
    assert len(registry._parsed) <= 3
