"""Attachments of inbound messages: kept with the message, or fetched from the channel later."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import ChannelAdapter, InboundAttachment
from channels_adapters.registry import get_adapter
from configuration.models import ChannelAccount
from tickets.attachments import (
    attachment_add,
    attachment_fetch_claim,
    attachment_fetch_give_up,
    attachment_store_file,
)
from tickets.models import Attachment, Message

logger = logging.getLogger(__name__)


def _store_attachment(
    adapter: ChannelAdapter, account: ChannelAccount, message: Message, att: InboundAttachment
) -> Attachment:
    """Keep one attachment of an inbound message. A file the channel only names (a Telegram
    file id, a WhatsApp media id) is fetched after commit by ``attachment_fetch``: the ingest
    transaction never waits on the provider's file servers."""
    pending = att.content is None and bool(att.file_ref)
    stored = attachment_add(
        message=message,
        filename=att.filename,
        content_type=att.content_type,
        content=att.content,
        url=att.url,
        content_id=att.content_id,
        is_inline=att.is_inline,
        file_ref=att.file_ref,
        fetch_after=timezone.now() + FETCH_BACKOFF[0] if pending else None,
        stored_name=att.stored_name,
    )
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
    attachment = attachment_fetch_claim(attachment_id=attachment_id, backoff=FETCH_BACKOFF)
    if attachment is None:
        return None
    tries = attachment.fetch_attempts
    account = attachment.message.channel_account
    ref = InboundAttachment(
        filename=attachment.filename,
        content_type=attachment.content_type,
        url=attachment.url,
        file_ref=attachment.file_ref,
    )
    content = get_adapter(account.kind).download(account, ref) if account.enabled else None
    if content is None:
        if tries >= len(FETCH_BACKOFF):
            return attachment_fetch_give_up(
                attachment=attachment,
                error=_("%(channel)s did not give the file after %(count)s tries.")
                % {"channel": account.get_kind_display(), "count": tries},
            )
        return Attachment.objects.get(pk=attachment_id)
    return attachment_store_file(attachment=attachment, content=content)


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
