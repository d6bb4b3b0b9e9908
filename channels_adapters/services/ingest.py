"""Ingest: turn stored inbound events into customers, tickets and messages.

Each event is parsed with its channel's adapter and every message in it goes to
``tickets.services.ticket_receive``; delivery updates move our outbound messages forward.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import ChannelAdapter, InboundMessage, ParsedEvent
from channels_adapters.models import InboundEvent
from channels_adapters.registry import get_adapter
from channels_adapters.services._shared import MAX_ERROR_CHARS
from channels_adapters.services.attachments import _store_attachment
from channels_adapters.services.outbound import _apply_update
from configuration.models import ChannelAccount, ChannelKind, MailAccount
from customers.models import Customer
from customers.selectors import customers_by_identity
from customers.services import Contact, customer_resolve, customers_create_many
from tickets.models import ACTIVE_STATUSES, Ticket
from tickets.services import LOOK_UP, ticket_receive, tickets_lock_active

logger = logging.getLogger(__name__)


def event_ingest(*, event_id: int) -> InboundEvent | None:
    """Turn one pending event into messages and delivery updates, in one transaction.

    Returns the event, or None when it is not pending or another worker holds it. A payload
    that cannot be handled marks the event failed with the error, and nothing else changes.
    """
    return _ingest_one(InboundEvent.objects.filter(pk=event_id))


def _ingest_one(candidates: QuerySet[InboundEvent]) -> InboundEvent | None:
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
