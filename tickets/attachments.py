"""Attachments of messages: every write to the ``Attachment`` table goes through here.

The channel layer decides what to keep and when to fetch a file the channel only names (a
Telegram file id, a WhatsApp media id); these services store that decision, claim a fetch so two
workers never fetch the same file, keep the file, and tell the chat box when it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from omnico.core import realtime
from tickets.models import Attachment, Message

#: Attachments shown as pictures and served inline, to agents and to visitors alike; every
#: other type is a download. No SVG: it can carry script.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def attachment_add(
    *,
    message: Message,
    filename: str,
    content_type: str = "",
    content: bytes | None = None,
    url: str = "",
    content_id: str = "",
    is_inline: bool = False,
    file_ref: str = "",
    fetch_after: datetime | None = None,
    stored_name: str = "",
) -> Attachment:
    """Keep one attachment of ``message``: its ``content`` stored as a file, or, without
    content, its ``url`` and the channel's ``file_ref`` to fetch it by at ``fetch_after``.
    Over-long names are cut to their columns rather than failing the message they came with.
    ``stored_name``: a file already in the default storage, attached as it is (no copy)."""
    pending = content is None and bool(file_ref)
    stored = Attachment(
        message=message,
        url=url if content is None else "",
        filename=(filename or "attachment")[:255],
        content_type=content_type[:120],
        size=len(content) if content is not None else 0,
        content_id=content_id[:255],
        is_inline=is_inline,
        file_ref=file_ref[:500] if pending else "",
        fetch_after=fetch_after if pending else None,
    )
    if content is not None:
        stored.file.save(stored.filename, ContentFile(content), save=False)
    elif stored_name:
        stored.file.name = stored_name
        stored.size = stored.file.size
    stored.save()
    return stored


def attachment_fetch_claim(
    *, attachment_id: int, backoff: Sequence[timedelta]
) -> Attachment | None:
    """Claim the next try at fetching a pending attachment; None when there is nothing to
    fetch or another worker claimed this try.

    A conditional ``UPDATE`` on the attempt count, which also sets when the try after this one
    is due (``backoff[attempts]``, the last step repeated), so a worker that dies mid-way is
    followed by the sweep. The returned attachment (its message and channel account loaded)
    carries the new attempt count.
    """
    attachment = (
        Attachment.objects.select_related("message__channel_account")
        .filter(pk=attachment_id, fetch_error="")
        .exclude(file_ref="")
        .first()
    )
    if attachment is None:
        return None
    attempt = attachment.fetch_attempts
    retry_in = backoff[min(attempt + 1, len(backoff) - 1)]
    fetch_after = timezone.now() + retry_in
    claimed = Attachment.objects.filter(
        pk=attachment_id, fetch_attempts=attempt, fetch_error=""
    ).update(fetch_attempts=attempt + 1, fetch_after=fetch_after)
    if not claimed:
        return None
    attachment.fetch_attempts, attachment.fetch_after = attempt + 1, fetch_after
    return attachment


def attachment_fetch_give_up(*, attachment: Attachment, error: str) -> Attachment:
    """No more tries: the chat box says the file could not be fetched, with ``error``. Does
    nothing when the file was stored meanwhile."""
    Attachment.objects.filter(pk=attachment.pk, file_ref=attachment.file_ref).update(
        fetch_error=error[:500], fetch_after=None
    )
    _publish(attachment)
    return Attachment.objects.get(pk=attachment.pk)


def attachment_store_file(*, attachment: Attachment, content: bytes) -> Attachment | None:
    """Keep the fetched file of a pending attachment and show it in the chat box. A file
    another worker stored first is kept; None when the attachment is gone."""
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is None or not locked.file_ref:
            return locked
        locked.file.save(locked.filename, ContentFile(content), save=False)
        locked.size = len(content)
        locked.file_ref, locked.fetch_after, locked.fetch_error = "", None, ""
        locked.save(update_fields=["file", "size", "file_ref", "fetch_after", "fetch_error"])
        _publish(attachment)
    return locked


def _publish(attachment: Attachment) -> None:
    ticket_id = attachment.message.ticket_id
    realtime.publish(
        realtime.ticket_group(ticket_id),
        "ticket.message",
        ticket_id=ticket_id,
        message_id=attachment.message_id,
    )
