"""Channels in and out: store inbound events, ingest them into tickets, deliver replies.

Every channel goes through the same path (DESIGN.md, "Inbound: every message becomes a ticket,
nothing is lost"): the webhook or poller stores the raw body with ``event_record``; after commit
``ingest_event`` runs ``event_ingest``, which parses it with the channel's adapter and hands each
message to ``tickets.services.ticket_receive``. Replies are created with ``reply_send`` and
delivered by ``message_deliver`` from the ``deliver_message`` task.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import (
    ChannelAdapter,
    DeliveryError,
    DeliveryUpdate,
    InboundAttachment,
    InboundMessage,
)
from channels_adapters.models import InboundEvent
from channels_adapters.registry import get_adapter
from configuration.models import ChannelAccount
from customers.models import Identity
from customers.services import customer_resolve
from omnico import realtime
from tickets.models import Attachment, Message, Ticket
from tickets.services import message_add_outbound, ticket_receive

logger = logging.getLogger(__name__)

#: How far a provider's word may move a delivery state; it never goes backwards.
_DELIVERY_RANK = {
    Message.Delivery.PENDING: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}
MAX_ERROR_CHARS = 2000


def _enqueue_ingest(event_id: int) -> None:
    from channels_adapters.tasks import ingest_event

    transaction.on_commit(lambda: ingest_event.delay(event_id))


def _enqueue_delivery(message_id: int) -> None:
    from channels_adapters.tasks import deliver_message

    transaction.on_commit(lambda: deliver_message.delay(message_id))


# --- inbound --------------------------------------------------------------------------------


@transaction.atomic
def event_record(
    *, account: ChannelAccount, body: bytes, dedupe_key: str
) -> tuple[InboundEvent, bool]:
    """Store a raw inbound body once; a second delivery of the same event changes nothing.

    Returns ``(event, created)``. A new event is queued for ingest after commit.
    """
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                channel_account=account, body=body, dedupe_key=dedupe_key[:255]
            )
    except IntegrityError:
        existing = InboundEvent.objects.get(channel_account=account, dedupe_key=dedupe_key[:255])
        return existing, False
    _enqueue_ingest(event.pk)
    return event, True


def event_ingest(*, event_id: int) -> InboundEvent | None:
    """Turn one pending event into messages and delivery updates, in one transaction.

    Returns the event, or None when it is not pending or another worker holds it. A payload
    that cannot be handled marks the event failed with the error, and nothing else changes.
    """
    try:
        with transaction.atomic():
            event = (
                InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("channel_account")
                .filter(pk=event_id, status=InboundEvent.Status.PENDING)
                .first()
            )
            if event is None:
                return None
            account = event.channel_account
            adapter = get_adapter(account.kind)
            parsed = adapter.parse(account, bytes(event.body))
            for message in parsed.messages:
                _receive(adapter, account, message)
            for update in parsed.updates:
                _apply_update(account, update)
            if parsed.messages or parsed.updates:
                event.status = InboundEvent.Status.PROCESSED
                event.error = ""
            else:
                event.status = InboundEvent.Status.IGNORED
                event.error = parsed.ignored or _("Nothing in this event concerns a ticket.")
            event.attempts += 1
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "error", "attempts", "processed_at"])
            return event
    except Exception as exc:
        # Log the type and event only: the text may quote customer data, never secrets.
        logger.warning("inbound event %s failed: %s", event_id, type(exc).__name__)
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        InboundEvent.objects.filter(pk=event_id, status=InboundEvent.Status.PENDING).update(
            status=InboundEvent.Status.FAILED,
            error=error,
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
        return InboundEvent.objects.filter(pk=event_id).first()


def _receive(adapter: ChannelAdapter, account: ChannelAccount, msg: InboundMessage) -> None:
    customer = customer_resolve(
        kind=account.kind,
        external_id=msg.sender_id,
        name=msg.sender_name,
        email=msg.email,
        phone=msg.phone,
    )
    received = ticket_receive(
        channel_account=account,
        customer=customer,
        body=msg.text,
        body_html=msg.html,
        sent_at=msg.sent_at,
        external_id=msg.external_id or None,
        title=msg.title,
        meta=msg.meta,
        is_automatic=msg.is_automatic,
        thread_ticket_id=adapter.thread_ticket_id(account, msg),
    )
    if received.duplicate:
        return
    for attachment in msg.attachments:
        _store_attachment(adapter, account, received.message, attachment)


def _store_attachment(
    adapter: ChannelAdapter, account: ChannelAccount, message: Message, att: InboundAttachment
) -> Attachment:
    content = att.content
    url = att.url
    if content is None and att.file_ref:
        content = adapter.download(account, att)
        if content is None:
            url = url or att.file_ref  # kept as a pending reference, fetched again later
    stored = Attachment(
        message=message,
        url=url if content is None else "",
        filename=(att.filename or "attachment")[:255],
        content_type=att.content_type[:120],
        size=len(content) if content is not None else 0,
        content_id=att.content_id[:255],
        is_inline=att.is_inline,
    )
    if content is not None:
        stored.file.save(stored.filename, ContentFile(content), save=False)
    stored.save()
    return stored


def _apply_update(account: ChannelAccount, update: DeliveryUpdate) -> int:
    """Move one of our outbound messages forward (sent → delivered → read) or to failed."""
    ours = Message.objects.filter(channel_account=account, direction=Message.Direction.OUTBOUND)
    if update.external_id:
        ours = ours.filter(external_id=update.external_id)
    elif update.recipient_id and update.at is not None:
        customer_ids = Identity.objects.filter(
            kind=account.kind, external_id=update.recipient_id
        ).values("customer_id")
        ours = ours.filter(ticket__customer_id__in=customer_ids, sent_at__lte=update.at)
    else:
        return 0
    if update.state == Message.Delivery.FAILED:
        changed = ours.filter(
            delivery__in=[Message.Delivery.PENDING, Message.Delivery.SENT]
        ).update(delivery=Message.Delivery.FAILED, delivery_error=update.error[:MAX_ERROR_CHARS])
    elif update.state in _DELIVERY_RANK:
        lower = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[update.state]]
        changed = ours.filter(delivery__in=lower).update(delivery=update.state)
    else:
        return 0
    if changed and update.external_id:
        for ticket_id, message_id in ours.values_list("ticket_id", "id"):
            _publish_message(ticket_id, message_id)
    return changed


def _publish_message(ticket_id: int, message_id: int) -> None:
    realtime.publish(
        realtime.ticket_group(ticket_id),
        "ticket.message",
        ticket_id=ticket_id,
        message_id=message_id,
    )


@transaction.atomic
def event_retry(*, event_id: int) -> bool:
    """Put a failed (or ignored) event back in the queue; True when it was."""
    changed = InboundEvent.objects.filter(
        pk=event_id,
        status__in=[InboundEvent.Status.FAILED, InboundEvent.Status.IGNORED],
    ).update(status=InboundEvent.Status.PENDING, error="", processed_at=None)
    if changed:
        _enqueue_ingest(event_id)
    return bool(changed)


def events_sweep(*, older_than: timedelta = timedelta(seconds=60), limit: int = 500) -> int:
    """Queue again events still pending after ``older_than`` (dead broker or killed worker)."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundEvent.objects.filter(status=InboundEvent.Status.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    from channels_adapters.tasks import ingest_event

    for event_id in ids:
        ingest_event.delay(event_id)
    return len(ids)


# --- outbound -------------------------------------------------------------------------------


@transaction.atomic
def reply_send(*, ticket: Ticket, author, body: str) -> Message:
    """An agent's reply: stored pending, delivered through the ticket's channel after commit."""
    message = message_add_outbound(ticket=ticket, author=author, body=body)
    _enqueue_delivery(message.pk)
    return message


def message_deliver(*, message_id: int, attempt: int | None = None) -> Message | None:
    """Send one pending outbound message through its channel.

    The message is claimed with a conditional UPDATE of ``delivery_attempts``: ``attempt`` is
    the task's retry number, so a redelivered copy of a task that already claimed it sends
    nothing. Returns None when there was nothing to send. A permanent ``DeliveryError`` marks
    the message failed; a transient one is re-raised for the task to retry.
    """
    message = (
        Message.objects.select_related("channel_account", "ticket")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or message.delivery != Message.Delivery.PENDING:
        return None
    expected = message.delivery_attempts if attempt is None else attempt
    claimed = Message.objects.filter(
        pk=message_id, delivery=Message.Delivery.PENDING, delivery_attempts=expected
    ).update(delivery_attempts=expected + 1)
    if claimed != 1:
        return None
    account = message.channel_account
    try:
        recipient = (
            Identity.objects.filter(customer_id=message.ticket.customer_id, kind=account.kind)
            .order_by("-created_at", "-id")
            .first()
        )
        if recipient is None:
            raise DeliveryError(_("The customer has no address on this channel."), permanent=True)
        if not account.enabled:
            raise DeliveryError(_("This channel account is disabled."), permanent=True)
        external_id = get_adapter(account.kind).send(account, message, recipient)
    except DeliveryError as exc:
        if exc.permanent:
            return message_fail(message_id=message_id, reason=str(exc))
        Message.objects.filter(pk=message_id).update(delivery_error=str(exc)[:MAX_ERROR_CHARS])
        raise
    with transaction.atomic():
        Message.objects.filter(pk=message_id, delivery=Message.Delivery.PENDING).update(
            delivery=Message.Delivery.SENT, external_id=external_id or None, delivery_error=""
        )
        _publish_message(message.ticket_id, message_id)
    return Message.objects.get(pk=message_id)


@transaction.atomic
def message_fail(*, message_id: int, reason: str) -> Message:
    """Give up on a pending message: the chat box shows it failed, with the reason."""
    message = Message.objects.select_for_update().get(pk=message_id)
    if message.delivery == Message.Delivery.PENDING:
        message.delivery = Message.Delivery.FAILED
        message.delivery_error = reason[:MAX_ERROR_CHARS]
        message.save(update_fields=["delivery", "delivery_error"])
        _publish_message(message.ticket_id, message_id)
    return message


@transaction.atomic
def message_retry(*, message_id: int) -> bool:
    """The chat box's retry button: a failed reply goes back to pending and is sent again."""
    changed = Message.objects.filter(
        pk=message_id,
        direction=Message.Direction.OUTBOUND,
        delivery=Message.Delivery.FAILED,
    ).update(delivery=Message.Delivery.PENDING, delivery_error="", delivery_attempts=0)
    if changed:
        ticket_id = Message.objects.values_list("ticket_id", flat=True).get(pk=message_id)
        _publish_message(ticket_id, message_id)
        _enqueue_delivery(message_id)
    return bool(changed)


# --- provider set-up ------------------------------------------------------------------------


def webhook_register(*, account: ChannelAccount, url: str) -> bool:
    """Tell the provider where to post (Telegram ``setWebhook``); raises DeliveryError."""
    adapter = get_adapter(account.kind)
    register = getattr(adapter, "register_webhook", None)
    if register is None:
        raise DeliveryError(
            _("%(kind)s webhooks are set up on the provider's side.")
            % {"kind": account.get_kind_display()},
            permanent=True,
        )
    return bool(register(account, url))
