"""Raw RFC 5322 bytes → ``InboundMessage``, for every mail a real mailbox holds.

Nothing here may raise on bad input: unknown charsets decode with replacement characters,
a header that does not parse falls back to its raw value, a mail without Message-ID gets a
stable one from the hash of its bytes, and a mail without any sender is kept under a
placeholder identity.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import cast

import nh3
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_adapters.base import InboundAttachment, InboundMessage
from channels_adapters.email.charset import decode_declared, decode_detected

UNKNOWN_SENDER = "unknown-sender@invalid"
SYNTHETIC_DOMAIN = "omnico.invalid"
MAX_ID = 250

_ID_RE = re.compile(r"<([^<>\s]+)>")
_TOKEN_RE = re.compile(r"\[#(\d{1,12})\]")
_AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "iso-gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "unicode-1-1-utf-7": "utf-7",
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-turkish": "mac-turkish",
    "utf8": "utf-8",
}
_HTML_TAGS = nh3.ALLOWED_TAGS | {"font", "center", "span", "div", "table", "tbody", "thead"}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


class _MemoHeaderRegistry(HeaderRegistry):
    """``policy.default``'s header objects, each ``(name, value)`` parsed once per process.

    The standard registry builds a new class and runs the full RFC 5322 parser every time a
    header is read: reading a mail touches Content-Type about ten times and each costs ~50 µs.
    Header objects are immutable, so sharing them is safe; values are memoised up to
    ``MAX_VALUE`` characters and the memo is emptied when it reaches ``MAX_ENTRIES``.
    """

    MAX_ENTRIES = 4096
    MAX_VALUE = 1000

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self._parsed: dict[tuple[str, str], object] = {}

    def __getitem__(self, name):
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name, value):
        if len(value) > self.MAX_VALUE:
            return super().__call__(name, value)
        key = (name.lower(), value)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = super().__call__(name, value)
            if len(self._parsed) >= self.MAX_ENTRIES:
                self._parsed.clear()
            self._parsed[key] = parsed
        return parsed


#: ``policy.default`` with memoised header parsing.
MAIL_POLICY = policy.default.clone(header_factory=_MemoHeaderRegistry())


# --- text helpers ---------------------------------------------------------------------------


def clean_text(value: str) -> str:
    """Undo surrogate-escaped raw bytes (8-bit headers) and drop NULs the database refuses.
    The raw bytes declare no charset: UTF-8, else detection (``charset.decode_detected``)."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_detected(value.encode("utf-8", "surrogateescape"))
    return value.replace("\x00", "")


def _codec(charset: str | None) -> codecs.CodecInfo | None:
    if not charset:
        return None
    name = re.sub(r"[^a-z0-9_.:-]", "", charset.strip().lower()).strip("_-")
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name)
    except LookupError:
        return None


def decode_bytes(raw: bytes, charset: str | None) -> str:
    """Bytes of a text part (or header word) in their real charset: the declared one when the
    bytes decode cleanly and plausibly in it, else detection (``channels_adapters.email.charset``);
    Turkish windows-1254/ISO-8859-9 is recognised behind a Latin-1 or US-ASCII label."""
    codec = _codec(charset)
    if raw.isascii():
        if codec is None and b"\x1b$" in raw:
            codec = codecs.lookup("iso-2022-jp")  # the ESC sequences tell it even when mislabelled
        if codec is not None:
            try:
                return clean_text(raw.decode(codec.name, "replace"))
            except Exception:  # noqa: S110 - a codec may still choke (utf-7): fall through
                pass
        return clean_text(raw.decode("ascii"))
    if codec is not None and codec.name != "utf-8" and not codec.name.startswith("utf-16"):
        try:  # mislabelled UTF-8 is common; a real 8-bit text is almost never valid UTF-8
            return clean_text(raw.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    if codec is not None:
        declared = decode_declared(raw, codec)
        if declared is not None:
            return clean_text(declared)
    return clean_text(decode_detected(raw))


def decode_rfc2047(value: str) -> str:
    """``=?charset?q?...?=`` words of a raw header value, each decoded by ``decode_bytes`` (so
    a wrongly declared charset is caught there as in a body), leniently."""
    value = clean_text(value)
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
        words = [
            (decode_bytes(chunk, charset).encode(), "utf-8")
            if isinstance(chunk, bytes) and charset
            else (chunk, charset)
            for chunk, charset in chunks
        ]
        return clean_text(str(make_header(words)))
    except Exception:
        return value


def _newlines(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _one_line(value: str) -> str:
    return " ".join(value.split())


def normalise_id(value: str) -> str:
    """A Message-ID as we store it: without angle brackets, bounded in length."""
    value = clean_text(value).strip().strip("<>").strip()
    if len(value) > MAX_ID:
        value = "h:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def message_ids(value: str) -> list[str]:
    """Every id in an In-Reply-To/References value, in order, tolerant of broken ones."""
    found = _ID_RE.findall(value) or value.split()
    ids: list[str] = []
    for item in found:
        norm = normalise_id(item)
        if norm and norm not in ids:
            ids.append(norm)
    return ids


def synthetic_id(raw: bytes) -> str:
    """A stable id for a mail without Message-ID, from its bytes. Line endings and an mbox
    ``From `` line are left out: servers rewrite those when they store a mail."""
    canonical = raw.replace(b"\r\n", b"\n").strip()
    if canonical.startswith(b"From "):
        canonical = canonical.partition(b"\n")[2]
    return f"{hashlib.sha256(canonical).hexdigest()[:40]}@{SYNTHETIC_DOMAIN}"


#: Headers each hop or mailbox adds to the same mail: left out of its content key.
_TRANSPORT_HEADERS = frozenset(
    {
        b"received", b"delivered-to", b"return-path", b"x-original-to", b"x-received",
        b"authentication-results", b"arc-seal", b"arc-message-signature",
        b"arc-authentication-results", b"received-spf", b"x-delivered-to", b"envelope-to",
        b"status", b"x-status", b"x-keywords", b"x-uid", b"content-length", b"lines",
        b"x-gm-message-state", b"x-google-smtp-source", b"x-forwarded-to", b"x-forwarded-for",
    }
)  # fmt: skip
_TRANSPORT_PREFIXES = (b"x-spam-", b"x-virus-", b"x-ms-exchange-", b"x-mimecast-")
CONTENT_KEY_LENGTH = 24


def content_key(raw: bytes) -> str:
    """What the mail says, hashed: its bytes without the headers transport adds (Received,
    Delivered-To, spam scores...), line endings and an mbox ``From `` line. The same mail
    fetched twice, or delivered through another hop, has the same key; two different mails
    sharing a Message-ID do not."""
    canonical = raw.replace(b"\r\n", b"\n").strip()
    if canonical.startswith(b"From "):
        canonical = canonical.partition(b"\n")[2]
    head, _sep, body = canonical.partition(b"\n\n")
    kept: list[bytes] = []
    keep = True
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line.strip())
            continue
        name = line.partition(b":")[0].strip().lower()
        keep = name not in _TRANSPORT_HEADERS and not name.startswith(_TRANSPORT_PREFIXES)
        if keep:
            kept.append(line.rstrip())
    digest = hashlib.sha256(b"\n".join(kept) + b"\n\n" + body.rstrip())
    return digest.hexdigest()[:CONTENT_KEY_LENGTH]


# --- headers --------------------------------------------------------------------------------


def header(msg: Message, name: str) -> str:
    """One header as text: parsed when possible, else the raw value with RFC 2047 decoded."""
    try:
        value = msg.get(name)
        if value is None:
            return ""
        return clean_text(str(value))
    except Exception:
        return raw_header(msg, name)


def raw_header(msg: Message, name: str) -> str:
    return decode_rfc2047(_raw_value(msg, name))


def _raw_value(msg: Message, name: str) -> str:
    """The header's value as the mail has it: encoded words and 8-bit bytes (surrogate-escaped)
    not decoded yet."""
    for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    try:
        value = msg.get(name)
        if value is not None and hasattr(value, "addresses"):
            found = [(str(a.display_name), str(a.addr_spec)) for a in value.addresses]
            found = [(clean_text(n), clean_text(a)) for n, a in found if "@" in a]
            if found:
                return found
    except Exception:  # noqa: S110 - the header is broken: fall back to the raw value
        pass
    raw = raw_header(msg, name)
    if not raw:
        return []
    pairs = getaddresses([raw]) or [parseaddr(raw)]
    return [(clean_text(n), clean_text(a)) for n, a in pairs if "@" in a]


def _sender(msg: Message) -> tuple[str, str]:
    for name in ("From", "Sender", "Reply-To", "Return-Path"):
        found = _addresses(msg, name)
        if found:
            display, address = found[0]
            display = _raw_display_name(msg, name, address) or display
            return decode_rfc2047(display).strip().strip('"'), address.strip().lower()
    return "", ""


def _raw_display_name(msg: Message, name: str, address: str) -> str:
    """The display name of ``address`` in the header as written, its encoded words and 8-bit
    bytes not decoded yet (``decode_rfc2047`` decodes them, charset checked)."""
    try:
        pairs = getaddresses([_raw_value(msg, name)])
    except Exception:
        return ""
    for display, found in pairs:
        if clean_text(found).strip().lower() == address.strip().lower():
            return display
    return ""


def _subject(msg: Message) -> str:
    """The Subject decoded from its raw value (charsets checked); the parser's own reading when
    ours left encoded words it understood (an illegal space inside one, say)."""
    ours = raw_header(msg, "Subject")
    if "=?" in ours:
        theirs = header(msg, "Subject")
        if "=?" not in theirs:
            return theirs
    return ours


def _sent_at(msg: Message) -> datetime | None:
    value = raw_header(msg, "Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except Exception:
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if when.year < 1980 or when > now + timedelta(days=1):
        return None
    return when


#: Why a mail is automatic (``automatic_reason``), as an agent reads it next to the message.
AUTOMATIC_REASONS = {
    "auto-submitted": gettext_lazy("Marked as sent automatically (Auto-Submitted)."),
    "delivery-report": gettext_lazy("A delivery status notification."),
    "auto-reply": gettext_lazy("Marked as an automatic reply."),
    "vacation": gettext_lazy("An out-of-office or vacation reply."),
    "bounce": gettext_lazy("A bounce from a mail server."),
}
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-AutoReply-From")
_AUTO_REPLY_PRECEDENCE = {"auto_reply", "auto-reply"}
#: Headers that make an auto-reply-looking subject an auto-reply; alone, each is also sent by
#: list servers and forwarders with a person's mail, which must reach the inbox.
_VACATION_HINT_PRECEDENCE = {"bulk", "junk", "list"}
_VACATION_SUBJECT = re.compile(
    r"^\s*(auto(matic|matische|matisk)?[- _]?(reply|response|antwort|svar)|out of (the )?office"
    r"|abwesen|vacation|urlaub|absence|r[ée]ponse automatique|otomatik (yan[ıi]t|cevap)"
    r"|ofis d[ıi][şs][ıi]nda|izindeyim)",
    re.IGNORECASE,
)


def automatic_reason(msg: Message, sender: str) -> str:
    """Why the mail was sent by a machine, as a key of ``AUTOMATIC_REASONS``; "" for a person.

    Only real markers count: Auto-Submitted other than "no", delivery status notifications,
    X-Autoreply-style headers, ``Precedence: auto_reply``, an auto-reply subject together with
    a header marker, bounces (null Return-Path, X-Failed-Recipients, mailer-daemon). A
    ``Precedence: bulk``/``list`` or ``List-Id`` alone is what a list or forwarder adds to a
    person's mail: not automatic."""
    auto_submitted = header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return "auto-submitted"
    if _is_delivery_report(msg):
        return "delivery-report"
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in _AUTO_REPLY_PRECEDENCE or any(header(msg, n) for n in _AUTO_REPLY_HEADERS):
        return "auto-reply"
    if _VACATION_SUBJECT.match(_subject(msg)) and (
        precedence in _VACATION_HINT_PRECEDENCE
        or header(msg, "X-Auto-Response-Suppress")
        or "vacation" in header(msg, "X-Mailer").lower()
    ):
        return "vacation"
    if header(msg, "X-Failed-Recipients") or sender.split("@", 1)[0] in _AUTOMATIC_SENDERS:
        return "bounce"
    if raw_header(msg, "Return-Path").strip() == "<>":
        return "bounce"
    return ""


def _is_delivery_report(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report":
        return True
    payload = msg.get_payload() if msg.is_multipart() else []
    return any(
        isinstance(part, Message) and part.get_content_type() == "message/delivery-status"
        for part in (payload if isinstance(payload, list) else [])
    )


# --- body -----------------------------------------------------------------------------------


class _TextFromHtml(HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr"}
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self._BLOCKS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return nh3.clean(html, tags=set())
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags=_HTML_TAGS, url_schemes=_URL_SCHEMES)


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _message_bytes(part: Message) -> bytes:
    try:
        return part.as_bytes()
    except Exception:
        try:
            return part.as_string().encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    if not name:
        for key in ("name", "filename"):
            try:
                name = part.get_param(key, header="content-type") or ""  # type: ignore[assignment]
            except Exception:
                name = ""
            if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
                try:
                    name = decode_bytes(name[2].encode("latin-1", "replace"), name[0])
                except Exception:
                    name = str(name[2])
            if name:
                break
    name = decode_rfc2047(str(name))
    return name.replace("/", "_").replace("\\", "_").strip()


def _content_id(part: Message) -> str:
    return normalise_id(header(part, "Content-ID"))


_BOUNDARY_LINE = re.compile(rb"^--([^\s]{1,200})[ \t]*\r?$", re.MULTILINE)


def _salvage_multipart(part: Message) -> Message | None:
    """A multipart whose declared boundary is missing or illegal, re-read with the boundary
    its body actually uses (the first ``--something`` line)."""
    raw = _payload_bytes(part)
    found = _BOUNDARY_LINE.search(raw)
    if not found:
        return None
    boundary = found.group(1).rstrip(b"-") if raw.count(found.group(1)) < 2 else found.group(1)
    head = b'Content-Type: multipart/mixed; boundary="' + boundary.replace(b'"', b"") + b'"\n\n'
    salvaged = parse_bytes(head + raw)
    if not salvaged.is_multipart():
        return None
    return salvaged


class _Walker:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[InboundAttachment] = []

    def walk(self, part: Message, depth: int = 0) -> None:
        maintype = part.get_content_maintype()
        if part.is_multipart() and maintype != "message":
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                self.walk(cast(Message, sub), depth + 1)
            return
        if maintype == "multipart":  # its boundary did not match: find the real one
            salvaged = _salvage_multipart(part) if depth < 8 else None
            if salvaged is not None:
                self.walk(salvaged, depth + 1)
            else:
                self.texts.append(_newlines(decode_bytes(_payload_bytes(part), None)))
            return
        if maintype == "message":
            self._attach_message(part)
            return
        try:
            disposition = part.get_content_disposition()
        except Exception:
            disposition = None
        filename = _filename(part)
        ctype = part.get_content_type()
        if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            text = _newlines(decode_bytes(_payload_bytes(part), part.get_content_charset()))
            (self.htmls if ctype == "text/html" else self.texts).append(text)
            return
        content_id = _content_id(part)
        self.attachments.append(
            InboundAttachment(
                filename=filename or self._default_name(ctype),
                content_type=ctype,
                content=_payload_bytes(part),
                content_id=content_id,
                is_inline=disposition == "inline" or (bool(content_id) and disposition is None),
            )
        )

    def _attach_message(self, part: Message) -> None:
        payload = part.get_payload()
        if part.get_content_type() == "message/rfc822" and isinstance(payload, list) and payload:
            content = _message_bytes(cast(Message, payload[0]))
            name = _filename(part) or self._default_name("message/rfc822")
        elif isinstance(payload, list):
            content = b"\n".join(_message_bytes(cast(Message, block)) for block in payload)
            name = _filename(part) or f"{part.get_content_subtype()}.txt"
        else:
            content = _payload_bytes(part)
            name = _filename(part) or f"{part.get_content_subtype()}.txt"
        self.attachments.append(
            InboundAttachment(filename=name, content_type=part.get_content_type(), content=content)
        )

    def _default_name(self, ctype: str) -> str:
        ext = ".eml" if ctype == "message/rfc822" else (mimetypes.guess_extension(ctype) or "")
        return f"attachment-{len(self.attachments) + 1}{ext}"


# --- the whole mail -------------------------------------------------------------------------


def parse_bytes(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    return BytesParser(policy=MAIL_POLICY).parsebytes(raw, headersonly=headers_only)


def mail_message_id(msg: Message, raw: bytes) -> str:
    ids = _ID_RE.findall(raw_header(msg, "Message-ID"))
    if ids:
        return normalise_id(ids[0])
    bare = normalise_id(raw_header(msg, "Message-ID"))
    return bare if bare and " " not in bare else synthetic_id(raw)


def parse_mail(raw: bytes) -> InboundMessage:
    """Everything Omnico keeps of one mail. Never raises for a malformed mail."""
    msg = parse_bytes(raw)
    message_id = mail_message_id(msg, raw)
    sender_name, sender = _sender(msg)
    subject = _one_line(_subject(msg))

    walker = _Walker()
    try:
        walker.walk(msg)
    except Exception as exc:  # a structure the walker did not expect: keep the mail raw
        walker.attachments.append(
            InboundAttachment(filename="message.eml", content_type="message/rfc822", content=raw)
        )
        walker.texts.append(
            _("This mail could not be read completely (%(error)s).") % {"error": type(exc).__name__}
        )

    text = "\n\n".join(t.strip("\n") for t in walker.texts if t.strip())
    html = "\n".join(h for h in walker.htmls if h.strip())
    safe_html = sanitise_html(html) if html else ""
    if not text and html:
        text = html_to_text(html)

    in_reply_to = message_ids(raw_header(msg, "In-Reply-To"))
    references = message_ids(raw_header(msg, "References"))
    thread_ids = [*in_reply_to, *[r for r in reversed(references) if r not in in_reply_to]]
    token = _TOKEN_RE.search(subject)

    meta: dict = {
        "message_id": message_id,
        "subject": subject,
        "to": [a for _n, a in _addresses(msg, "To")][:20],
        "cc": [a for _n, a in _addresses(msg, "Cc")][:20],
        "in_reply_to": in_reply_to[:1],
        "references": references[-20:],
    }
    if not sender:
        meta["note"] = "no sender address"
    if not text and not walker.attachments:
        meta["note"] = "empty message"
    automatic = automatic_reason(msg, sender)
    if automatic:
        meta["automatic"] = automatic

    return InboundMessage(
        external_id=message_id,
        sender_id=(sender or UNKNOWN_SENDER)[:255],
        sender_name=sender_name or (sender if sender else _("Unknown sender")),
        text=text,
        html=safe_html,
        sent_at=_sent_at(msg),
        attachments=walker.attachments,
        meta=meta,
        is_automatic=bool(automatic),
        title=subject,
        email=sender if len(sender) <= 254 else "",
        thread_message_ids=thread_ids,
        ticket_token=int(token.group(1)) if token else None,
        content_key=content_key(raw),
    )
