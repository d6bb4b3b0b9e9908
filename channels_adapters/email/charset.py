"""Which charset the bytes of a mail's text are really in.

A declared charset is believed when the bytes decode cleanly in it and the text is plausible
(no control characters). Otherwise, or when none is declared, UTF-8 is tried, then detection
(charset-normalizer), which is trusted only for what it tells well: multi-byte East Asian
encodings and non-Latin alphabets with a recognised language. Everything else is a Western
single-byte text, and there the one question detection answers badly on short texts is asked
here directly: Turkish (windows-1254 / ISO-8859-9) or Western European (windows-1252 /
ISO-8859-1)? The two differ in six bytes only (D0 DD DE F0 FD FE: Ğ İ Ş ğ ı ş against Ð Ý Þ ð ý
þ); those letters are Icelandic/Faroese in Latin-1, which also writes á é í ó ú æ, letters that
Turkish never uses. So a text with the six bytes and (next to) none of those Western-only
letters is Turkish (one foreign name in four Turkish letters is allowed), and a German or
French mail (none of the six bytes) stays Western.
"""

from __future__ import annotations

import codecs
import unicodedata

from charset_normalizer import from_bytes

#: Codecs (``codecs.lookup(...).name``) whose bytes D0 DD DE F0 FD FE may really be Turkish.
WESTERN = frozenset({"ascii", "iso8859-1", "cp1252", "iso8859-15"})
TURKISH = frozenset({"cp1254", "iso8859-9"})
_TURKISH_BYTES = frozenset(b"\xd0\xdd\xde\xf0\xfd\xfe")
#: á é í ó ú à è ì ò ù å æ ø ã õ ñ (either case) in Latin-1: Western letters Turkish never uses.
_WESTERN_ONLY_BYTES = frozenset(
    b"\xe1\xe9\xed\xf3\xfa\xe0\xe8\xec\xf2\xf9\xe5\xe6\xf8\xe3\xf5\xf1"
    b"\xc1\xc9\xcd\xd3\xda\xc0\xc8\xcc\xd2\xd9\xc5\xc6\xd8\xc3\xd5\xd1"
)
_MULTIBYTE = frozenset(
    {
        "big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213", "euc_jp",
        "euc_kr", "gb18030", "gb2312", "gbk", "hz", "iso2022_jp", "iso2022_kr", "johab",
        "shift_jis", "shift_jis_2004", "shift_jisx0213", "utf_16", "utf_16_be", "utf_16_le",
        "utf_32", "utf_32_be", "utf_32_le",
    }
)  # fmt: skip
_NON_LATIN = frozenset(
    {
        "cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866", "cp855", "cp1253",
        "iso8859_7", "cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874", "tis_620",
    }
)  # fmt: skip
_ALLOWED_CONTROLS = frozenset("\t\n\r\x0c")
#: Fewer non-ASCII bytes than this and detection guesses (four Latin-1 letters "are" Big5).
MIN_DETECTABLE = 12


def is_plausible(text: str) -> bool:
    """No control characters a real text never holds (a wrong single-byte guess shows them)."""
    return not any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def looks_turkish(raw: bytes) -> bool:
    """Single-byte Western bytes that are windows-1254 rather than windows-1252/Latin-1."""
    turkish = sum(1 for byte in raw if byte in _TURKISH_BYTES)
    return turkish > 4 * sum(1 for byte in raw if byte in _WESTERN_ONLY_BYTES)


def decode_declared(raw: bytes, codec: codecs.CodecInfo) -> str | None:
    """``raw`` in its declared codec when that decodes cleanly to a plausible text (a Western
    declaration of Turkish bytes read as Turkish); None when the declaration is wrong."""
    try:
        text = raw.decode(codec.name)
    except (UnicodeDecodeError, LookupError):
        return None
    if not is_plausible(text):
        return None
    if codec.name in WESTERN and looks_turkish(raw):
        return raw.decode("cp1254", "replace")
    return text


def decode_detected(raw: bytes) -> str:
    """Text of bytes whose charset is unknown (none declared, or the declared one is wrong).

    Detection's East Asian or non-Latin answer is taken when the bytes are no clean Western
    text, or when there are enough of them for detection to be sure (``MIN_DETECTABLE``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    western = "cp1254" if looks_turkish(raw) else "cp1252"
    try:
        text = raw.decode(western)
        western_clean = is_plausible(text)
    except UnicodeDecodeError:
        western_clean = False
    if not western_clean or sum(1 for byte in raw if byte > 0x7F) >= MIN_DETECTABLE:
        best = from_bytes(raw).best()
        if (
            best is not None
            and best.language != "Unknown"
            and (best.encoding in _MULTIBYTE or best.encoding in _NON_LATIN)
        ):
            detected = str(best)
            if is_plausible(detected):
                return detected
    return raw.decode(western, "replace")
