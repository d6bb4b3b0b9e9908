"""Mail text in its real charset: Turkish windows-1254 / ISO-8859-9 recognised whether it is
declared, mislabelled as Latin-1 or US-ASCII, or not declared at all, in bodies and headers;
genuine Latin-1 (German, French, Icelandic) unchanged."""

from __future__ import annotations

from email.header import Header

import pytest

from channels_adapters.email.parser import parse_mail

TURKISH = "Merhaba, siparişim gelmedi. İade mi değişim mi yapılır? Şimdiden teşekkürler, Işıl"
MISREAD = ("sipariþim", "Ýade", "deðiþim")


def raw_mail(
    body: bytes, *, charset: str | None, subject: bytes = b"Test", sender: bytes = b"a@example.com"
) -> bytes:
    ctype = b"text/plain" + (b"; charset=" + charset.encode() if charset else b"")
    return (
        b"From: " + sender + b"\r\nTo: destek@omnico.test\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <tr-1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"
    )


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("cp1254", "windows-1254"),
        ("iso-8859-9", "iso-8859-9"),
        ("cp1254", "iso-8859-1"),  # a Turkish client's windows-1254 labelled Latin-1
        ("cp1254", "windows-1252"),
        ("iso-8859-9", "us-ascii"),
        ("cp1254", None),  # no charset at all
        ("utf-8", "iso-8859-9"),  # UTF-8 labelled Turkish
        ("utf-8", None),
    ],
)
def test_turkish_body_decodes_whatever_its_label(encoding, declared):
    msg = parse_mail(raw_mail(TURKISH.encode(encoding), charset=declared))

    assert msg.text.strip() == TURKISH
    assert not any(wrong in msg.text for wrong in MISREAD)


@pytest.mark.parametrize("word", ["siparişim", "İade", "değişim", "Şikayet", "ılık"])
def test_a_single_turkish_word_labelled_latin1_is_turkish(word):
    msg = parse_mail(raw_mail(word.encode("cp1254"), charset="iso-8859-1"))
    assert msg.text.strip() == word


@pytest.mark.parametrize(
    "text",
    [
        "Schöne Grüße aus München, die Größe passt nicht.",
        "Réclamation: très déçue, la commande n° 42 est arrivée abîmée.",
        "Þetta er íslenska: við höfum ð, þ og ý í orðum.",  # Icelandic keeps its letters
        "Ünlü ölçü: çok güzel.",  # Turkish without the six differing letters reads the same
    ],
)
@pytest.mark.parametrize("declared", ["iso-8859-1", None])
def test_genuine_latin1_text_is_unchanged(text, declared):
    assert parse_mail(raw_mail(text.encode("latin-1"), charset=declared)).text.strip() == text


def test_latin1_label_on_windows_1252_quotes_gives_the_quotes():
    text = "“Sipariş” – teşekkürler"
    msg = parse_mail(raw_mail(text.encode("cp1254"), charset="iso-8859-1"))
    assert msg.text.strip() == text


def test_raw_8bit_turkish_subject_and_display_name_decode():
    raw = raw_mail(
        b"metin",
        charset="utf-8",
        subject="İade talebi: siparişim değişim".encode("cp1254"),
        sender="Ayşe Işık <ayse@example.com.tr>".encode("cp1254"),
    )

    msg = parse_mail(raw)

    assert msg.title == "İade talebi: siparişim değişim"
    assert msg.sender_name == "Ayşe Işık"
    assert msg.sender_id == "ayse@example.com.tr"


@pytest.mark.parametrize("declared", ["iso-8859-1", "iso-8859-9", "windows-1254", "us-ascii"])
def test_encoded_word_headers_with_turkish_bytes_decode(declared):
    def word(text: str) -> bytes:
        return (
            Header(text.encode("cp1254"), "iso-8859-1")
            .encode()
            .replace("iso-8859-1", declared)
            .encode()
        )

    raw = raw_mail(
        b"metin",
        charset="utf-8",
        subject=word("İade: siparişim değişim"),
        sender=word("Ayşe Işık") + b" <ayse@example.com.tr>",
    )

    msg = parse_mail(raw)

    assert msg.title == "İade: siparişim değişim"
    assert msg.sender_name == "Ayşe Işık"


def test_encoded_word_latin1_german_subject_is_unchanged():
    subject = Header("Grüße aus Köln".encode("latin-1"), "iso-8859-1").encode().encode()
    assert parse_mail(raw_mail(b"x", charset="utf-8", subject=subject)).title == "Grüße aus Köln"


def test_undeclared_cyrillic_and_japanese_are_detected():
    russian = "Это сообщение пришло без указания кодировки, но читается правильно."
    japanese = "このアドレスへのメルマガを解除してください。よろしくお願いします。"

    assert parse_mail(raw_mail(russian.encode("cp1251"), charset=None)).text.strip() == russian
    assert parse_mail(raw_mail(japanese.encode("shift_jis"), charset=None)).text.strip() == (
        japanese
    )
