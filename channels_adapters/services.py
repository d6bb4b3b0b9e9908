"""Channels in and out: store inbound events, ingest them into tickets, deliver replies.

Every channel goes through the same path (DESIGN.md, "Inbound: every message becomes a ticket,
nothing is lost"): the webhook or poller stores the raw body with ``event_record``; after commit
``ingest_event`` runs ``event_ingest``, which parses it with the channel's adapter and hands each
message to ``tickets.services.ticket_receive``. Replies are created with ``reply_send`` and
delivered by ``message_deliver`` from the ``deliver_message`` task.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import (
    ChannelAdapter,
    DeliveryError,
    DeliveryUpdate,
    InboundAttachment,
    InboundMessage,
    ParsedEvent,
)
from channels_adapters.models import InboundEvent
from channels_adapters.registry import get_adapter
from configuration.models import ChannelAccount, ChannelKind, MailAccount
from customers.models import Customer, Identity
from customers.selectors import customers_by_identity
from customers.services import Contact, customer_resolve, customers_create_many
from omnico.core import realtime
from tickets.models import ACTIVE_STATUSES, Attachment, Message, Ticket
from tickets.services import LOOK_UP, message_add_outbound, ticket_receive, tickets_lock_active

logger = logging.getLogger(__name__)

#: How far a provider's word may move a delivery state; it never goes backwards.
_DELIVERY_RANK = {
    Message.Delivery.PENDING: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}
MAX_ERROR_CHARS = 2000


#: Cache key whose presence means "an ingest_pending task for this slot is queued". It names
#: the database: installations (and test runs) sharing one Redis must not take each other's
#: kick for their own, or an event would find the key set by a task that never reads its table.
KICK_KEY = "channels_adapters:ingest-kick:{db}:{slot}"
#: How long a kick stays set when its task never runs (dead broker): the next event kicks again
#: after that, and the periodic sweep picks up whatever is left in between.
KICK_TTL_SECONDS = 10
#: A busy ingest task kicks the next slot after this many events in a row, so a burst is worked
#: by up to ``INGEST_SLOTS`` tasks in parallel while a trickle costs one task.
INGEST_FANOUT_AFTER = 20
#: Pending event ids read per query by ``events_ingest_pending``.
INGEST_BATCH = 100
#: A task hands over to a fresh one after this many events (bounded redelivery, fairness).
INGEST_TASK_LIMIT = 500
#: Events ingested in one transaction by ``events_ingest_pending`` (one claim, one status
#: update, one commit and one routing pass for all of them).
INGEST_TXN_EVENTS = 20
#: A task that failed (database or Redis error) kicks its slot again, this many seconds later.
INGEST_RETRY_SECONDS = 5


def _enqueue_ingest(event_id: int) -> None:
    transaction.on_commit(lambda: ingest_kick(event_id=event_id))


def _eager() -> bool:
    from omnico.celery import app

    return bool(app.conf.task_always_eager)


@functools.cache
def _redis():
    """One client (and connection pool) per process. Django's cache is not used for the kick:
    its client is per async context, so every webhook request would open a Redis connection."""
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


def _kick_key(slot: int) -> str:
    return KICK_KEY.format(db=connection.settings_dict["NAME"], slot=slot)


def _kick_set(key: str) -> bool:
    """SET NX with a TTL: True when this call set it."""
    if settings.REDIS_URL:
        return bool(_redis().set(key, 1, nx=True, ex=KICK_TTL_SECONDS))
    return cache.add(key, 1, timeout=KICK_TTL_SECONDS)


def _kick_clear(key: str) -> None:
    if settings.REDIS_URL:
        _redis().delete(key)
    else:
        cache.delete(key)


def ingest_kick(*, event_id: int | None = None, slot: int = 0, countdown: float = 0) -> bool:
    """Make sure a worker looks at the pending events soon; True when a task was queued.

    Embedded (eager Celery) the event is ingested here and now. In the full stack the kick is
    coalesced: one Redis ``SET NX`` per stored event, and a Celery message
    only when no ``ingest_pending`` task of that slot is already queued. The task clears the
    kick before it starts picking events, so an event stored after that kicks again and one
    stored before is picked by that task. ``countdown`` delays the task (a retry after an
    error). A failure here loses nothing: the event is stored and the periodic sweep queues it;
    a kick set for a task the broker refused is taken back, so the next event kicks again.
    """
    from channels_adapters.tasks import ingest_event, ingest_pending

    try:
        if _eager():
            if event_id is not None:
                ingest_event.delay(event_id)
                return True
            ingest_pending.delay(slot)
            return True
        key = _kick_key(slot)
        if not _kick_set(key):
            return False
    except Exception as exc:  # cache down: the sweep takes over
        logger.warning("could not queue ingest (slot %s): %s", slot, type(exc).__name__)
        return False
    try:
        if countdown:
            ingest_pending.apply_async((slot,), countdown=countdown)
        else:
            ingest_pending.delay(slot)
    except Exception as exc:  # broker down: no task behind the kick, so take it back
        logger.warning("could not queue ingest (slot %s): %s", slot, type(exc).__name__)
        with contextlib.suppress(Exception):
            _kick_clear(key)
        return False
    return True


def _enqueue_delivery(message_id: int) -> None:
    transaction.on_commit(lambda: _queue_delivery(message_id))


def _queue_delivery(message_id: int) -> None:
    """Queue the delivery task after commit. A broker that refuses it must not turn the agent's
    stored reply into an error page: the reply stays pending, never claimed, and
    ``outbound_sweep`` queues it again."""
    from channels_adapters.tasks import deliver_message

    try:
        deliver_message.delay(message_id)
    except Exception as exc:
        logger.warning("could not queue delivery of message %s: %s", message_id, type(exc).__name__)


# --- inbound --------------------------------------------------------------------------------


def event_record(
    *, account: ChannelAccount, body: bytes, dedupe_key: str
) -> tuple[InboundEvent, bool]:
    """Store a raw inbound body once; a second delivery of the same event changes nothing.

    Returns ``(event, created)``. One ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: in
    autocommit (a webhook) the row is durable when this returns; inside a caller's transaction
    (the IMAP poller's batch) it commits with it. A new event is queued for ingest after commit.
    """
    dedupe_key = dedupe_key[:255]
    now = timezone.now()
    meta = InboundEvent._meta
    columns = [
        meta.get_field(name).column
        for name in ("channel_account", "dedupe_key", "body", "status", "error", "attempts")
    ]
    columns.append(meta.get_field("received_at").column)
    quote = connection.ops.quote_name
    # Only quoted names from the model's own metadata go into the text; values are parameters.
    names = ", ".join(quote(c) for c in columns)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({names}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({quote(columns[0])}, {quote(columns[1])}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    params = [
        account.pk,
        dedupe_key,
        body,
        InboundEvent.Status.PENDING,
        "",
        0,
        connection.ops.adapt_datetimefield_value(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        existing = InboundEvent.objects.get(channel_account=account, dedupe_key=dedupe_key)
        return existing, False
    event = InboundEvent(
        pk=row[0],
        channel_account=account,
        dedupe_key=dedupe_key,
        body=body,
        status=InboundEvent.Status.PENDING,
        received_at=now,
    )
    _enqueue_ingest(event.pk)
    return event, True


def event_ingest(*, event_id: int) -> InboundEvent | None:
    """Turn one pending event into messages and delivery updates, in one transaction.

    Returns the event, or None when it is not pending or another worker holds it. A payload
    that cannot be handled marks the event failed with the error, and nothing else changes.
    """
    return _ingest_one(InboundEvent.objects.filter(pk=event_id))


def _ingest_one(candidates) -> InboundEvent | None:
    event_id = None
    try:
        with transaction.atomic():
            event = (
                candidates.select_for_update(skip_locked=True, of=("self",))
                .select_related("channel_account")
                .filter(status=InboundEvent.Status.PENDING)
                .first()
            )
            if event is None:
                return None
            event_id = event.pk
            event.status, event.error = _apply_event(event.channel_account, event)
            event.attempts += 1
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "error", "attempts", "processed_at"])
            return event
    except Exception as exc:
        if event_id is None:  # the claim itself failed (database gone): nothing to mark
            raise
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


def _accounts(ids: set[int]) -> dict[int, ChannelAccount]:
    """The accounts by id, mail accounts as ``MailAccount`` (their adapter needs it)."""
    accounts = ChannelAccount.objects.in_bulk(ids)
    mail = [pk for pk, account in accounts.items() if account.kind == ChannelKind.EMAIL]
    if mail:
        accounts.update(MailAccount.objects.in_bulk(mail))
    return accounts


def _ingest_together(event_ids: list[int]) -> int | None:
    """Ingest the pending ones among ``event_ids`` in one transaction.

    Returns how many were handled (0 when others hold or already did them all), or None when
    one of them raised: then nothing is committed and the caller ingests them one by one, each
    in its own transaction, so the failure is kept with its event and isolated from the rest.
    All events are parsed first; then the senders' customers are read, and their active tickets
    locked, in one query each for the whole batch (``_Known``).
    """
    try:
        with transaction.atomic():
            events = list(
                InboundEvent.objects.select_for_update(skip_locked=True)
                .filter(pk__in=event_ids, status=InboundEvent.Status.PENDING)
                .order_by("received_at", "pk")
            )
            if not events:
                return 0
            accounts = _accounts({e.channel_account_id for e in events})
            parsed = [
                (
                    event,
                    accounts[event.channel_account_id],
                    _parse(accounts[event.channel_account_id], event),
                )
                for event in events
            ]
            known = _Known.read([(account, p) for _event, account, p in parsed])
            outcome: dict[tuple[str, str], list[int]] = {}
            for event, account, p in parsed:
                key = _apply_parsed(account, p, known)
                outcome.setdefault(key, []).append(event.pk)
            now = timezone.now()
            for (status, error), ids in outcome.items():
                InboundEvent.objects.filter(pk__in=ids).update(
                    status=status, error=error, attempts=F("attempts") + 1, processed_at=now
                )
            return len(events)
    except Exception as exc:
        logger.info("ingest batch rolled back (%s); one event at a time", type(exc).__name__)
        return None


@dataclass
class _Known:
    """What one ingest transaction reads ahead for its messages: every sender's customer by
    ``(kind, external id)`` (first-time senders created here, in bulk), the ids of the
    customers created here (``fresh``: their first contact), and the active ticket of each
    ``(customer id, account id)``, locked (None: the customer has none). Entries are added as
    messages open tickets."""

    customers: dict[tuple[str, str], Customer] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)
    tickets: dict[tuple[int, int], Ticket | None] = field(default_factory=dict)

    @classmethod
    def read(cls, parsed: list[tuple[ChannelAccount, ParsedEvent]]) -> _Known:
        known = cls()
        senders: dict[str, dict[str, InboundMessage]] = {}
        for account, p in parsed:
            for message in p.messages:
                senders.setdefault(account.kind, {}).setdefault(message.sender_id, message)
        for kind, first in senders.items():
            found = customers_by_identity(kind=kind, external_ids=first)
            unknown = [_contact(msg) for ext, msg in first.items() if ext not in found]
            created, fresh = customers_create_many(kind=kind, contacts=unknown)
            found.update(created)
            known.customers.update({(kind, ext): customer for ext, customer in found.items()})
            known.fresh.update(created[ext].pk for ext in fresh)
        pairs = {
            (known.customers[(account.kind, m.sender_id)].pk, account.pk)
            for account, p in parsed
            for m in p.messages
        }
        locked = tickets_lock_active(pairs=[pair for pair in pairs if pair[0] not in known.fresh])
        known.tickets = {pair: locked.get(pair) for pair in pairs}
        return known


def _contact(msg: InboundMessage) -> Contact:
    """What the message says of its sender, for a customer seen the first time."""
    return Contact(
        external_id=msg.sender_id, name=msg.sender_name, email=msg.email, phone=msg.phone
    )


def _parse(account: ChannelAccount, event: InboundEvent) -> ParsedEvent:
    return get_adapter(account.kind).parse(account, bytes(event.body))


def _apply_event(account: ChannelAccount, event: InboundEvent) -> tuple[str, str]:
    """Parse the event and apply what it says; return its new (status, error)."""
    return _apply_parsed(account, _parse(account, event), None)


def _apply_parsed(
    account: ChannelAccount, parsed: ParsedEvent, known: _Known | None
) -> tuple[str, str]:
    adapter = get_adapter(account.kind)
    for message in parsed.messages:
        _receive(adapter, account, message, known)
    for update in parsed.updates:
        _apply_update(account, update)
    if parsed.messages or parsed.updates:
        return InboundEvent.Status.PROCESSED, ""
    return InboundEvent.Status.IGNORED, str(
        parsed.ignored or _("Nothing in this event concerns a ticket.")
    )


def _receive(
    adapter: ChannelAdapter, account: ChannelAccount, msg: InboundMessage, known: _Known | None
) -> None:
    sender = (account.kind, msg.sender_id)
    customer = known.customers.get(sender) if known is not None else None
    if customer is None:
        customer = customer_resolve(kind=account.kind, **asdict(_contact(msg)))
    pair = (customer.pk, account.pk)
    active = known.tickets.get(pair, LOOK_UP) if known is not None else LOOK_UP
    # A customer created by this batch: their first message opens their first ticket without
    # checks; the next one of the batch finds that ticket in ``known.tickets``.
    first_contact = known is not None and customer.pk in known.fresh and active is None
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
        # Only needed to find the active ticket, which the batch already knows.
        thread_ticket_id=adapter.thread_ticket_id(account, msg) if active is LOOK_UP else None,
        active_ticket=active,
        first_contact=first_contact,
    )
    if known is not None:
        if received.ticket.status in ACTIVE_STATUSES:
            known.tickets[pair] = received.ticket
        elif first_contact:
            # An automatic first mail is kept in a closed ticket: the customer now has one,
            # so their next message goes the usual way.
            known.fresh.discard(customer.pk)
    if received.duplicate:
        return
    for attachment in msg.attachments:
        _store_attachment(adapter, account, received.message, attachment)


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


def events_ingest_pending(*, slot: int = 0, limit: int = INGEST_TASK_LIMIT) -> int:
    """Work the pending events oldest first, ``INGEST_TXN_EVENTS`` per transaction, until none
    is left; returns how many this task handled.

    Run by the ``ingest_pending`` task that ``ingest_kick`` queues. Why an event committed as
    pending always has a task coming for it (the kick protocol):

    - Every stored event kicks slot 0 after its commit: ``SET NX`` of the slot's key, and a
      Celery message only when this kick set the key. The key goes away only here, as a task's
      first step before its first read, or by its TTL. So an event whose kick finds the key set
      has a task of that slot queued whose first read comes after the event's commit and sees
      it (each read sees every commit before it). A TTL that expires lets a later event queue
      a second task; it never takes one away.
    - A task reads oldest ``received_at`` first and goes on from the last event it took
      (``since``). ``received_at`` is set before the INSERT commits, so concurrent webhooks can
      commit out of clock order: an event may commit after a read with a ``received_at`` below
      ``since``. Such an event committed after this task cleared its key, so its own kick
      queued (or found queued) a task that reads from the start. Every event committed before
      the clear is visible to the first read and reached in ``received_at`` order.
    - A task stops early only when a read came back short (that was every pending event from
      ``since`` on) and its batch takes all the rows it had not seen. Events another task holds
      (``SKIP LOCKED``) are that task's: it ingests them, or one by one if its batch fails.
    - New events kick only slot 0; tasks of slots 1.. are extra hands, but they hold locks too:
      a task that raises (database or Redis error) after clearing its key kicks its own slot
      again ``INGEST_RETRY_SECONDS`` later, so what it held and what it was to read are read
      again. A worker process that dies mid-task gives the message back to the queue
      (``reject_on_worker_lost``). Only a dead broker, or a whole worker host lost with its
      messages, is left to the periodic ``events_sweep``: the backstop, not the mechanism.

    The reads are a batch at a time (an index range scan from where the last batch ended: rows
    just marked processed stay in the partial index until vacuum, and scanning them once per
    event made ingest quadratic), ingested a few at a time in one transaction, locked ``SKIP
    LOCKED`` so parallel runs never handle one twice; when one of them fails, that transaction
    rolls back and its events are ingested one per transaction instead. After
    ``INGEST_FANOUT_AFTER`` events a task kicks the next slot (up to
    ``settings.OMNICO_INGEST_SLOTS``) to add a parallel worker. Past ``limit`` events it queues
    a fresh task and returns.
    """
    try:
        _kick_clear(_kick_key(slot))  # events stored from now on kick again
        return _ingest_pending_run(slot=slot, limit=limit)
    except Exception:
        if not _eager():  # embedded: no queue to lose a task in; the scheduler's sweep runs
            ingest_kick(slot=slot, countdown=INGEST_RETRY_SECONDS)
        raise


def _ingest_pending_run(*, slot: int, limit: int) -> int:
    slots = max(1, getattr(settings, "OMNICO_INGEST_SLOTS", 1))
    handled = 0
    since = None
    seen: set[int] = set()
    while handled < limit:
        pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING)
        if since is not None:
            pending = pending.filter(received_at__gte=since)
        window = INGEST_BATCH + len(seen)
        rows = list(pending.order_by("received_at").values_list("pk", "received_at")[:window])
        fresh = [(pk, received) for pk, received in rows if pk not in seen]
        if not fresh:
            return handled
        batch = fresh[:INGEST_BATCH]
        # The read returned fewer rows than it asked for and this batch takes every one of them
        # not seen before: that was every pending event when the query ran, and every event
        # stored since the kick was cleared has kicked a task of its own, so this task may stop
        # after the batch. A lone webhook costs one read instead of two. Both conditions are
        # needed: events this task already processed are no longer pending, so a short read
        # can still hold more new events than one batch takes (260 waiting: the second read
        # asks for 200, gets 160 and takes 100).
        drained = len(rows) < window and len(fresh) == len(batch)
        last_ids = {pk for pk, _received in batch}
        while batch and handled < limit:
            size = min(INGEST_TXN_EVENTS, limit - handled)
            chunk, batch = batch[:size], batch[size:]
            ids = [pk for pk, _received in chunk]
            seen.update(ids)
            since = chunk[-1][1]
            done = _ingest_together(ids)
            if done is None:  # one of them failed: each alone, the failure kept with its event
                done = sum(1 for pk in ids if event_ingest(event_id=pk) is not None)
            before, handled = handled, handled + done
            if before < INGEST_FANOUT_AFTER <= handled and slot + 1 < slots:
                ingest_kick(slot=slot + 1)
        if drained and handled < limit:
            return handled
        if len(seen) > 10 * INGEST_BATCH:  # keep the exclusion list short
            seen = last_ids
    ingest_kick(slot=slot)  # more may be waiting: continue in a fresh task
    return handled


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
    except Exception as exc:
        # Not a provider's answer (a bug, a lost connection): no task retries it, and the sweep
        # would show it failed only after OUTBOUND_GIVE_UP_AFTER. The provider may have taken
        # it, so it is not sent again by itself: the chat box shows it failed, with retry.
        logger.warning("sending message %s failed: %s", message_id, type(exc).__name__)
        return message_fail(
            message_id=message_id,
            reason=_("Sending was interrupted. Press retry to send this reply again."),
        )
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


#: A reply still pending and never claimed after this long lost its task (dead broker).
OUTBOUND_REQUEUE_AFTER = timedelta(minutes=2)
#: A claimed reply still pending after this long lost its worker mid-send (every retry and its
#: backoff is over by then). It is failed, not sent again: the provider may have taken it.
OUTBOUND_GIVE_UP_AFTER = timedelta(hours=1)


def outbound_sweep(
    *,
    requeue_after: timedelta = OUTBOUND_REQUEUE_AFTER,
    give_up_after: timedelta = OUTBOUND_GIVE_UP_AFTER,
    limit: int = 500,
) -> tuple[int, int]:
    """Settle replies stuck in ``pending``; returns ``(queued again, failed)``.

    Never claimed (``delivery_attempts == 0``): its task was lost before it ran, so it is queued
    again; the claim token keeps a late original from sending it twice. Claimed and still
    pending long after every retry: the worker died mid-send, and the chat box shows it failed
    with a retry button, since the provider may already have delivered it.
    """
    now = timezone.now()
    pending = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, delivery=Message.Delivery.PENDING
    ).order_by("created_at")
    lost = list(
        pending.filter(delivery_attempts=0, created_at__lt=now - requeue_after).values_list(
            "pk", flat=True
        )[:limit]
    )
    for message_id in lost:
        _enqueue_delivery_now(message_id)
    stuck = list(
        pending.filter(delivery_attempts__gt=0, created_at__lt=now - give_up_after).values_list(
            "pk", flat=True
        )[:limit]
    )
    for message_id in stuck:
        message_fail(
            message_id=message_id,
            reason=_("Sending was interrupted. Press retry to send this reply again."),
        )
    return len(lost), len(stuck)


def _enqueue_delivery_now(message_id: int) -> None:
    from channels_adapters.tasks import deliver_message

    deliver_message.delay(message_id)


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
