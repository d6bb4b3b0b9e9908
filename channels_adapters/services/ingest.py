"""Ingest: turn stored inbound events into customers, tickets and messages.

Each event is parsed with its channel's adapter and every message in it goes to
``tickets.receiving``; delivery updates move our outbound messages forward.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Field, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import InboundMessage, ParsedEvent
from channels_adapters.models import InboundEvent
from channels_adapters.registry import get_adapter
from channels_adapters.services.attachments import _store_attachment
from channels_adapters.services.identity import identity_changes_apply
from channels_adapters.services.outbound import _apply_update
from configuration.models import ChannelAccount, ChannelKind, MailAccount
from customers.models import Customer
from customers.selectors import customers_by_identity
from customers.services import Contact, customer_resolve, customers_create_many
from omnico.core.db import PreparedQuery, QueryValues
from tickets.receiving import Arrival, Incoming, Received, ticket_receive, tickets_receive

logger = logging.getLogger(__name__)

#: Longest error kept with a failed event.
MAX_ERROR_CHARS = 2000


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
    except (OperationalError, InterfaceError):
        # The database failed, not the payload (a dropped connection, a restart, a deadlock):
        # the transaction is gone, the event still pending, for the task's one retry
        # (omnico.core.db.retry_on_lost_connection) or the sweep.
        raise
    except Exception as exc:
        if event_id is None:  # the claim itself failed: nothing to mark
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


def _accounts(events: list[InboundEvent]) -> dict[int, ChannelAccount]:
    """The events' accounts by id (read with the claim), mail accounts as ``MailAccount``
    (their adapter needs it: one more query)."""
    accounts = {event.channel_account_id: event.channel_account for event in events}
    mail = [pk for pk, account in accounts.items() if account.kind == ChannelKind.EMAIL]
    if mail:
        accounts.update(MailAccount.objects.in_bulk(mail))
    return accounts


def _ingest_together(event_ids: list[int]) -> int | None:
    """Ingest the pending ones among ``event_ids`` in one transaction.

    Returns how many were handled (0 when others hold or already did them all), or None when
    one of them raised: then nothing is committed and the caller ingests them one by one, each
    in its own transaction, so the failure is kept with its event and isolated from the rest.
    All events are parsed first; then the senders' customers are read in one query per channel
    (``_senders``), and every message goes to ``tickets.receiving.tickets_receive``, which
    locks the senders' active tickets in one query for the whole batch.
    """
    try:
        with transaction.atomic():
            # The accounts come with the claim (a join, not a query of their own); only the
            # events' rows are locked (``of``), so parallel slots never wait on an account.
            events = _CLAIM.instances(ids=list(event_ids))
            if not events:
                return 0
            accounts = _accounts(events)
            parsed = [
                (
                    event,
                    accounts[event.channel_account_id],
                    _parse(accounts[event.channel_account_id], event),
                )
                for event in events
            ]
            for _event, account, p in parsed:  # before the senders are looked up
                identity_changes_apply(account=account, changes=p.identity_changes)
            customers, fresh = _senders([(account, p) for _event, account, p in parsed])
            received = iter(
                tickets_receive(
                    arrivals=[
                        Arrival(account, customers[(account.kind, m.sender_id)], _incoming(m))
                        for _event, account, p in parsed
                        for m in p.messages
                    ],
                    new_customer_ids=fresh,
                )
            )
            outcome: dict[tuple[str, str], list[int]] = {}
            for event, account, p in parsed:
                got = [next(received) for _message in p.messages]
                key = _apply_parsed(account, p, got)
                outcome.setdefault(key, []).append(event.pk)
            now = timezone.now()
            for (status, error), ids in outcome.items():
                _events_mark(ids=ids, status=status, error=error, now=now)
            return len(events)
    except Exception as exc:
        logger.info("ingest batch rolled back (%s); one event at a time", type(exc).__name__)
        return None


def _claim(values: QueryValues) -> QuerySet[InboundEvent]:
    return (
        InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("channel_account")
        .filter(values.any_in("pk", "ids"), status=InboundEvent.Status.PENDING)
        .order_by("received_at", "pk")
    )


#: The claim of a batch's events with their accounts: its SQL built once per process
#: (``PreparedQuery``); building it through the ORM cost more CPU than running it.
_CLAIM = PreparedQuery(_claim)


def _events_mark(*, ids: list[int], status: str, error: str, now: datetime) -> None:
    """The ingested events' new status, one UPDATE (its text written once, not built through
    the ORM for every batch)."""
    if connection.vendor != "postgresql":
        InboundEvent.objects.filter(pk__in=ids).update(
            status=status, error=error, attempts=F("attempts") + 1, processed_at=now
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_mark_sql(), [status, error, now, ids])


@functools.cache
def _mark_sql() -> str:
    quote = connection.ops.quote_name
    meta = InboundEvent._meta
    table = quote(meta.db_table)
    status, error, attempts, processed, pk = (
        quote(cast("Field[Any, Any]", meta.get_field(name)).column)
        for name in ("status", "error", "attempts", "processed_at", "id")
    )
    # Only quoted names from the model's metadata go into the text; values are parameters.
    return (
        f"UPDATE {table} SET {status} = %s, {error} = %s, {attempts} = {attempts} + 1, "  # noqa: S608
        f"{processed} = %s WHERE {pk} = ANY(%s)"
    )


def _senders(
    parsed: list[tuple[ChannelAccount, ParsedEvent]],
) -> tuple[dict[tuple[str, str], Customer], set[int]]:
    """Every sender's customer of a batch by ``(kind, external id)``, read in one query per
    channel kind, first-time senders created here in bulk; and the ids of those created here
    (their first contact, which ``tickets_receive`` opens without checks)."""
    customers: dict[tuple[str, str], Customer] = {}
    fresh: set[int] = set()
    senders: dict[str, dict[str, InboundMessage]] = {}
    for account, p in parsed:
        for message in p.messages:
            senders.setdefault(account.kind, {}).setdefault(message.sender_id, message)
    for kind, first in senders.items():
        found = customers_by_identity(kind=kind, external_ids=first)
        unknown = [_contact(msg) for ext, msg in first.items() if ext not in found]
        created, new = customers_create_many(kind=kind, contacts=unknown)
        found.update(created)
        customers.update({(kind, ext): customer for ext, customer in found.items()})
        fresh.update(created[ext].pk for ext in new)
    return customers, fresh


def _contact(msg: InboundMessage) -> Contact:
    """What the message says of its sender, for a customer seen the first time."""
    return Contact(
        external_id=msg.sender_id, name=msg.sender_name, email=msg.email, phone=msg.phone
    )


def _incoming(msg: InboundMessage, *, thread_ticket_id: int | None = None) -> Incoming:
    """The message as ``tickets`` takes it."""
    return Incoming(
        body=msg.text,
        body_html=msg.html,
        sent_at=msg.sent_at,
        external_id=msg.external_id or None,
        title=msg.title,
        meta=msg.meta,
        is_automatic=msg.is_automatic,
        thread_ticket_id=thread_ticket_id,
        subject_id=msg.subject_id,
        group_type_id=msg.group_type_id,
        is_offline=msg.is_offline,
        content_key=msg.content_key,
    )


def _parse(account: ChannelAccount, event: InboundEvent) -> ParsedEvent:
    """The adapter's reading of the event; each message links to it (staff see the raw
    payload behind a message, ``inbound_event`` in its meta)."""
    parsed = get_adapter(account.kind).parse(account, bytes(event.body))
    for message in parsed.messages:
        message.meta = {**message.meta, "inbound_event": event.pk}
    return parsed


def _apply_event(account: ChannelAccount, event: InboundEvent) -> tuple[str, str]:
    """Parse the event and apply what it says, one message at a time; return its new
    (status, error)."""
    parsed = _parse(account, event)
    identity_changes_apply(account=account, changes=parsed.identity_changes)
    adapter = get_adapter(account.kind)
    received = [
        ticket_receive(
            channel_account=account,
            customer=customer_resolve(kind=account.kind, **asdict(_contact(msg))),
            incoming=_incoming(msg, thread_ticket_id=adapter.thread_ticket_id(account, msg)),
        )
        for msg in parsed.messages
    ]
    return _apply_parsed(account, parsed, received)


def _apply_parsed(
    account: ChannelAccount, parsed: ParsedEvent, received: list[Received]
) -> tuple[str, str]:
    """Keep the attachments of the event's messages (``received``: what became of each), apply
    its delivery updates; return the event's new (status, error)."""
    adapter = get_adapter(account.kind)
    for message, got in zip(parsed.messages, received, strict=True):
        if got.duplicate:
            continue
        adapter.received(account, message, got)
        for attachment in message.attachments:
            _store_attachment(adapter, account, got.message, attachment)
    for update in parsed.updates:
        _apply_update(account, update)
    if parsed.messages or parsed.updates or parsed.identity_changes:
        return InboundEvent.Status.PROCESSED, ""
    return InboundEvent.Status.IGNORED, str(
        parsed.ignored or _("Nothing in this event concerns a ticket.")
    )
