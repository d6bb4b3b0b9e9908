"""The files a visitor attaches on the support page: their type, checked by content, and where
they wait for ingest.

The type is sniffed from the file's first bytes (``filetype``, pure Python), never taken from
its name or the browser's word; it must be in ``OMNICO_SUPPORT_UPLOAD_TYPES``. Text has no
magic bytes: a ``.txt`` or ``.csv`` file is taken as text when it is UTF-8 without NUL bytes
(so an SVG or HTML page is never text here). A file is kept in the default storage under the
visitor's folder before its message is acknowledged; ingest attaches that same file to the
message.
"""

from __future__ import annotations

import os
import posixpath

import filetype  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename

#: How much of a file the type is judged by (``filetype`` reads at most this much).
HEAD_BYTES = 8192
TEXT_TYPES = {".txt": "text/plain", ".csv": "text/csv"}
ROOT = "webchat"


def upload_folder(*, account_id: int, visitor_id: str) -> str:
    """The storage folder of one visitor's files: the adapter accepts no file outside it."""
    return f"{ROOT}/{account_id}/{visitor_id}/"


def upload_filename(name: str) -> str:
    """The file's own name, without any folder, safe to keep and to offer for download."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    stem, ext = os.path.splitext(base)
    try:
        clean = get_valid_filename(f"{stem[:100]}{ext[:20]}")
    except Exception:  # SuspiciousFileOperation: nothing left of the name
        clean = ""
    return clean or "file"


def upload_sniff(*, head: bytes, filename: str) -> str | None:
    """The file's real type when it is one the support page takes, else None."""
    allowed = set(settings.OMNICO_SUPPORT_UPLOAD_TYPES)
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime if kind.mime in allowed else None
    text_type = TEXT_TYPES.get(os.path.splitext(filename)[1].lower())
    if text_type is None or text_type not in allowed or b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may cut a character in two; anything else is not UTF-8 text.
        if exc.start < len(head) - 4:
            return None
    return text_type


def upload_store(
    *, account_id: int, visitor_id: str, client_id: str, filename: str, file: File
) -> str:
    """Keep the file in the visitor's folder (one folder per client message id); returns its
    storage name."""
    folder = posixpath.join(upload_folder(account_id=account_id, visitor_id=visitor_id), client_id)
    return default_storage.save(posixpath.join(folder, filename), file)


def upload_discard(*, name: str) -> None:
    default_storage.delete(name)
