"""Attachments of inbound messages: kept with the message, or fetched from the channel later."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import ChannelAdapter, InboundAttachment
from channels_adapters.registry import get_adapter
from channels_adapters.services._shared import _publish_message
from configuration.models import ChannelAccount
from tickets.models import Attachment, Message

logger = logging.getLogger(__name__)


def _store_attachment(
    adapter: ChannelAdapter, account: ChannelAccount, message: Message, att: InboundAttachment
) -> Attachment:
    """Keep one attachment of an inbound message. A file the channel only names (a Telegram
    file id, a WhatsApp media id) is fetched after commit by ``attachment_fetch``: the ingest
    transaction never waits on the provider's file servers."""
    content = att.content
    pending = content is None and bool(att.file_ref)
    stored = Attachment(
        message=message,
        url=att.url if content is None else "",
        filename=(att.filename or "attachment")[:255],
        content_type=att.content_type[:120],
        size=len(content) if content is not None else 0,
        content_id=att.content_id[:255],
        is_inline=att.is_inline,
        file_ref=att.file_ref[:500] if pending else "",
        fetch_after=timezone.now() + FETCH_BACKOFF[0] if pending else None,
    )
    if content is not None:
        stored.file.save(stored.filename, ContentFile(content), save=False)
    stored.save()
    if pending:
        _enqueue_fetch(stored.pk)
    return stored


#: ``[0]``: how long the sweep leaves a new attachment to the task queued with it; ``[n]``: the
#: wait after the n-th failed try. After ``len(FETCH_BACKOFF)`` tries (right away, then 5 min,
#: 30 min, 2 h and 6 h later) it is given up, and the chat says it could not be fetched.
FETCH_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)


def _enqueue_fetch(attachment_id: int) -> None:
    from channels_adapters.tasks import fetch_attachment

    def queue() -> None:
        try:
            fetch_attachment.delay(attachment_id)
        except Exception as exc:  # broker down: the fetch sweep takes over
            logger.warning("could not queue attachment fetch: %s", type(exc).__name__)

    transaction.on_commit(queue)


def attachment_fetch(*, attachment_id: int) -> Attachment | None:
    """Fetch one pending attachment from its channel and store the file.

    The attempt is claimed first with a conditional ``UPDATE`` that also sets when to try
    again, so two workers never fetch the same file at once and a worker that dies mid-way is
    followed by the sweep. A failure waits for the next ``FETCH_BACKOFF`` step; after the last
    step the attachment keeps ``fetch_error`` and the chat says the file could not be fetched.
    Returns the attachment, or None when there was nothing to do.
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
    now = timezone.now()
    retry_in = FETCH_BACKOFF[min(attempt + 1, len(FETCH_BACKOFF) - 1)]
    claimed = Attachment.objects.filter(
        pk=attachment_id, fetch_attempts=attempt, fetch_error=""
    ).update(fetch_attempts=attempt + 1, fetch_after=now + retry_in)
    if not claimed:
        return None
    account = attachment.message.channel_account
    ref = InboundAttachment(
        filename=attachment.filename,
        content_type=attachment.content_type,
        url=attachment.url,
        file_ref=attachment.file_ref,
    )
    content = get_adapter(account.kind).download(account, ref) if account.enabled else None
    if content is None:
        if attempt + 1 >= len(FETCH_BACKOFF):
            Attachment.objects.filter(pk=attachment_id, file_ref=attachment.file_ref).update(
                fetch_error=_("%(channel)s did not give the file after %(count)s tries.")
                % {"channel": account.get_kind_display(), "count": attempt + 1},
                fetch_after=None,
            )
            _publish_message(attachment.message.ticket_id, attachment.message_id)
        return Attachment.objects.get(pk=attachment_id)
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
        if locked is None or not locked.file_ref:
            return locked
        locked.file.save(locked.filename, ContentFile(content), save=False)
        locked.size = len(content)
        locked.file_ref, locked.fetch_after, locked.fetch_error = "", None, ""
        locked.save(update_fields=["file", "size", "file_ref", "fetch_after", "fetch_error"])
        _publish_message(attachment.message.ticket_id, attachment.message_id)
    return locked


def attachments_fetch_sweep(*, limit: int = 200) -> int:
    """Queue the fetch of every attachment whose next try is due (its task was lost, or the
    provider did not answer last time); returns how many were queued."""
    due = list(
        Attachment.objects.filter(fetch_error="", fetch_after__lte=timezone.now())
        .exclude(file_ref="")
        .order_by("fetch_after")
        .values_list("pk", flat=True)[:limit]
    )
    from channels_adapters.tasks import fetch_attachment

    for attachment_id in due:
        fetch_attachment.delay(attachment_id)
    return len(due)
