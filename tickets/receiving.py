"""A customer's message arrives: appended to their active ticket, or it opens a new one.

Two entry points with plain signatures: ``ticket_receive`` for one message (it looks up and
locks the active ticket itself), and ``tickets_receive`` for a batch that ingest handles in one
transaction (it locks the active tickets of every customer of the batch in one statement, and
inserts a first-time customer's ticket and message without checks). Both store through the
same ``_receive``, so a message lands the same way whichever path brought it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.departments import department_for
from configuration.models import ChannelAccount, WebhookEvent
from customers.models import Customer
from omnico.core import realtime
from omnico.core.db import PreparedQuery, QueryValues, insert_unless_duplicate
from tickets import routing, webhooks
from tickets.models import ACTIVE_STATUSES, Message, Ticket, TicketEvent, TicketStatus
from tickets.services import _preview


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """What a channel says of one message from a customer.

    ``external_id``: the channel's id of the message; a second delivery with the same id (per
    channel account) changes nothing. ``thread_ticket_id``: the ticket the channel says this
    message continues (e-mail threading). ``is_automatic``: an auto-reply or bounce, which never
    opens an active ticket. ``subject_id``, ``group_type_id`` and ``is_offline`` describe the
    ticket it opens, if it opens one.
    """

    body: str
    body_html: str = ""
    sent_at: datetime | None = None
    external_id: str | None = None
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    is_automatic: bool = False
    subject_id: int | None = None
    group_type_id: int | None = None
    thread_ticket_id: int | None = None
    is_offline: bool = False
    #: What the message says, hashed (e-mail: its bytes without transport headers). A message
    #: with the ``external_id`` of a stored one but another ``content_key`` is a different
    #: message sharing the id (broken mail clients, list servers): it is kept too, under the
    #: id ``<external_id>#<content_key>`` (``_variant``). Empty: the id alone decides.
    content_key: str = ""


class Arrival(NamedTuple):
    """One message of a batch with who sent it and where (``tickets_receive``)."""

    channel_account: ChannelAccount
    customer: Customer
    incoming: Incoming


@dataclass
class Received:
    ticket: Ticket
    message: Message
    ticket_created: bool = False
    duplicate: bool = False


@transaction.atomic(savepoint=False)  # nested (ingest): no savepoint of its own
def ticket_receive(
    *, channel_account: ChannelAccount, customer: Customer, incoming: Incoming
) -> Received:
    """Store one message from a customer: appended to their active ticket or a new one.

    Idempotent: a second delivery of the same ``(channel_account, external_id)`` returns the
    stored message with ``duplicate=True`` and changes nothing (unless its ``content_key``
    says it is another message sharing the id: then that one is stored too).
    ``incoming.thread_ticket_id`` (e-mail threading) appends to that ticket when it is still
    active. An automatic message (auto-reply, bounce) never opens an active ticket: with
    nothing to attach to it is kept in a closed one. The customer's active ticket is looked up
    and locked here.
    """
    ticket = None
    if incoming.thread_ticket_id is not None:
        ticket = (
            Ticket.objects.select_for_update()
            .filter(
                pk=incoming.thread_ticket_id,
                customer=customer,
                channel_account=channel_account,
                status__in=ACTIVE_STATUSES,
            )
            .first()
        )
    if ticket is None:
        ticket = _active_ticket(customer, channel_account)
    return _receive(
        account=channel_account,
        customer=customer,
        incoming=incoming,
        ticket=ticket,
        first_contact=False,
    )


@transaction.atomic(savepoint=False)  # runs in ingest's batch transaction
def tickets_receive(
    *, arrivals: Sequence[Arrival], new_customer_ids: Collection[int] = ()
) -> list[Received]:
    """Store many customers' messages in one transaction, in order; one result per arrival.

    Why a batch path: ingest handles a burst a few events per transaction, and one locking
    query per message was most of its cost. Here the active tickets of every
    ``(customer, account)`` of the batch are locked in one statement (``tickets_lock_active``)
    and each message then goes to its ticket without a look-up. ``new_customer_ids``: customers
    created in this same transaction (``customers.services.customers_create_many``): no ticket
    or message of theirs exists and nobody else can open one, so their first message opens
    their first ticket without checks or savepoints, and their next one finds that ticket.
    ``thread_ticket_id`` is not needed here: a customer has one active ticket per account (a
    unique constraint), so a thread's ticket, when still active, is the one locked ahead.
    """
    fresh = set(new_customer_ids)
    pairs = {(a.customer.pk, a.channel_account.pk) for a in arrivals}
    locked = tickets_lock_active(pairs=[pair for pair in pairs if pair[0] not in fresh])
    active: dict[tuple[int, int], Ticket | None] = {pair: locked.get(pair) for pair in pairs}
    results = []
    for account, customer, incoming in arrivals:
        pair = (customer.pk, account.pk)
        first_contact = customer.pk in fresh and active[pair] is None
        received = _receive(
            account=account,
            customer=customer,
            incoming=incoming,
            ticket=active[pair],
            first_contact=first_contact,
        )
        if received.ticket.status in ACTIVE_STATUSES:
            active[pair] = received.ticket
        elif first_contact:
            # An automatic first mail is kept in a closed ticket: the customer now has one,
            # so their next message goes the usual way.
            fresh.discard(customer.pk)
        results.append(received)
    return results


def tickets_lock_active(*, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Ticket]:
    """Lock the active tickets of many ``(customer id, channel account id)`` pairs in one query.

    Rows are locked in id order, so parallel ingests never wait on each other in a cycle. A pair
    without an active ticket is not in the result. Must run in a transaction.
    """
    by_account: dict[int, set[int]] = {}
    for customer_id, account_id in pairs:
        by_account.setdefault(account_id, set()).add(customer_id)
    if not by_account:
        return {}
    if len(by_account) == 1:  # the usual case (a lone message, a batch of one channel)
        ((account_id, customer_ids),) = by_account.items()
        found = _LOCK_ACTIVE.instances(account=account_id, customers=sorted(customer_ids))
        return {(t.customer_id, t.channel_account_id): t for t in found}
    where = Q()
    for account_id, customer_ids in by_account.items():
        where |= Q(channel_account_id=account_id, customer_id__in=customer_ids)
    locked = (
        Ticket.objects.select_for_update().filter(where, status__in=ACTIVE_STATUSES).order_by("pk")
    )
    return {(t.customer_id, t.channel_account_id): t for t in locked}


def _lock_active(values: QueryValues) -> QuerySet[Ticket]:
    return (
        Ticket.objects.select_for_update()
        .filter(
            values.any_in("customer_id", "customers"),
            channel_account_id=values.one("account"),
            status__in=ACTIVE_STATUSES,
        )
        .order_by("pk")
    )


#: ``tickets_lock_active`` for one account: its SQL built once per process
#: (``PreparedQuery``), not through the ORM for every inbound message.
_LOCK_ACTIVE = PreparedQuery(_lock_active)


def _active_ticket(customer: Customer, account: ChannelAccount) -> Ticket | None:
    """The customer's active ticket on the account, locked; None when they have none."""
    pair = (customer.pk, account.pk)
    return tickets_lock_active(pairs=[pair]).get(pair)


def _receive(
    *,
    account: ChannelAccount,
    customer: Customer,
    incoming: Incoming,
    ticket: Ticket | None,
    first_contact: bool,
) -> Received:
    """Store the message in ``ticket`` (the customer's active ticket, locked by the caller) or,
    when it is None, in a new one. ``first_contact``: the customer was created in this
    transaction, so the ticket and message are inserted without checks or savepoints."""
    sent_at = incoming.sent_at or timezone.now()
    external_id = incoming.external_id or None
    body = incoming.body
    created = False

    def new_message() -> Message:
        return Message(
            ticket=ticket,
            channel_account=account,
            direction=Message.Direction.INBOUND,
            external_id=external_id,
            body=body,
            body_html=incoming.body_html,
            sent_at=sent_at,
            is_automatic=incoming.is_automatic,
            meta=_meta(incoming),
        )

    if ticket is not None:
        # The usual case: appended to the locked active ticket. One INSERT ... ON CONFLICT DO
        # NOTHING settles a redelivery (no duplicate check before, no savepoint around it).
        message = new_message()
        if not insert_unless_duplicate(message):
            return _duplicate_or_variant(account, customer, incoming, ticket)
    else:
        if (
            not first_contact
            and external_id
            and Message.objects.filter(channel_account=account, external_id=external_id).exists()
        ):  # e.g. redelivered after the ticket was resolved: no new ticket
            return _duplicate_or_variant(account, customer, incoming, ticket)
        opening: dict[str, Any] = {
            "customer": customer,
            "account": account,
            "title": incoming.title or _preview(body)[:80],
            "subject_id": incoming.subject_id,
            "group_type_id": incoming.group_type_id,
            "status": TicketStatus.CLOSED if incoming.is_automatic else TicketStatus.OPEN,
            "is_offline": incoming.is_offline,
            "now": timezone.now(),
            "last_message_at": sent_at,
            "preview": _preview(body) or _("(attachment)"),
            "first_contact": first_contact,
        }
        # One savepoint for the new ticket and the message: when the message turns out to be
        # a duplicate (a concurrent delivery won), no empty ticket is left behind. A first
        # contact has no such race and needs none (a failure there rolls back the caller).
        try:
            with contextlib.nullcontext() if first_contact else transaction.atomic():
                ticket, created = _open_ticket(**opening)
                message = new_message()
                message.ticket = ticket
                message.save(force_insert=True)
        except IntegrityError:
            if first_contact or not external_id:
                raise
            return _duplicate_or_variant(account, customer, incoming, None)

    if not created and not incoming.is_automatic:  # a new ticket got these when it was created
        ticket.last_message_at = max(filter(None, [ticket.last_message_at, sent_at]))
        ticket.last_message_preview = _preview(body) or _("(attachment)")
        ticket.unread = True
        ticket.awaiting_reply_since = ticket.awaiting_reply_since or sent_at
        _ticket_touch(ticket)
    realtime.publish(
        realtime.AGENTS_GROUP,
        "inbox.ticket",
        ticket_id=ticket.pk,
        created=created,
    )
    realtime.publish(
        realtime.ticket_group(ticket.pk),
        "ticket.message",
        ticket_id=ticket.pk,
        message_id=message.pk,
    )
    webhooks.webhook_message_received(ticket=ticket, message=message, customer=customer)
    if created and ticket.status == TicketStatus.OPEN:
        # A new ticket is routed by draining the pool it entered (``routing.ticket_route``).
        routing.pool_drain_after_commit()
    return Received(ticket=ticket, message=message, ticket_created=created)


def ticket_department_for(*, subject_id: int | None, group_type_id: int | None) -> int | None:
    """The department a new ticket goes to: its subject's, else its group type's (None: any
    agent). Remembered per process until one of them changes (``configuration.departments``):
    no query."""
    return department_for(subject_id=subject_id, group_type_id=group_type_id)


def _open_ticket(
    *,
    customer: Customer,
    account: ChannelAccount,
    title: str,
    subject_id: int | None,
    group_type_id: int | None,
    status: str,
    is_offline: bool,
    now: datetime,
    last_message_at: datetime,
    preview: str,
    first_contact: bool = False,
) -> tuple[Ticket, bool]:
    """A new ticket for the customer's first message in it (``created`` True), or the active
    one another message opened a moment ago. ``first_contact``: the customer was created in
    this transaction, so there is no earlier ticket and no race to lose (no savepoint)."""
    previous = (
        None
        if first_contact
        else Ticket.objects.filter(customer=customer, channel_account=account)
        .order_by("-created_at", "-id")
        .only("id")
        .first()
    )
    fields = {
        "customer": customer,
        "channel_account": account,
        "source": account.kind,
        "title": title[:255],
        "subject_id": subject_id,
        "group_type_id": group_type_id,
        "department_id": ticket_department_for(subject_id=subject_id, group_type_id=group_type_id),
        "awaiting_reply_since": None if status == TicketStatus.CLOSED else last_message_at,
        "status": status,
        "is_offline": is_offline,
        "previous_ticket": previous,
        "closed_at": now if status == TicketStatus.CLOSED else None,
        "last_message_at": last_message_at,
        "last_message_preview": preview,
        "unread": True,
    }
    # One INSERT ... ON CONFLICT DO NOTHING, built from the model's metadata (no savepoint, no
    # ORM insert compiled for every new ticket); a conflict is the customer's active ticket.
    ticket = Ticket(**fields)
    if not insert_unless_duplicate(ticket):
        # Another message from the same customer opened it a moment ago.
        existing = None if first_contact else _active_ticket(customer, account)
        if existing is None:
            raise IntegrityError("the new ticket conflicted with no active ticket")
        return existing, False
    insert_unless_duplicate(
        TicketEvent(
            ticket=ticket,
            kind=TicketEvent.Kind.CREATED,
            data={"previous": previous.pk if previous else None},
        )
    )
    webhooks.webhook_ticket_event(
        event=WebhookEvent.TICKET_CREATED, ticket=ticket, customer=customer
    )
    return ticket, True


#: What a message changes on the active ticket it is appended to.
_TOUCHED = ("last_message_at", "last_message_preview", "unread", "awaiting_reply_since")


def _ticket_touch(ticket: Ticket) -> None:
    """Save what a new message changed on ``ticket`` (locked by the caller) and its
    ``updated_at``: the ``save(update_fields=...)`` it replaces, in one UPDATE whose text is
    written once per process instead of compiled by the ORM for every message (no signal
    handler listens to tickets)."""
    connection = transaction.get_connection()
    ticket.updated_at = timezone.now()
    names = (*_TOUCHED, "updated_at")
    fields = [Ticket._meta.get_field(name) for name in names]
    values = [
        field.get_db_prep_save(getattr(ticket, field.attname), connection)  # type: ignore[union-attr]
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(_touch_sql(connection.vendor), [*values, ticket.pk])


@functools.cache
def _touch_sql(vendor: str) -> str:
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    meta = Ticket._meta
    columns = ", ".join(
        f"{quote(meta.get_field(name).column)} = %s"  # type: ignore[union-attr]
        for name in (*_TOUCHED, "updated_at")
    )
    # Only quoted names from the model's metadata go into the text; values are parameters.
    return f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608


def _meta(incoming: Incoming) -> dict[str, Any]:
    meta = dict(incoming.meta or {})
    if incoming.content_key:
        meta["content_key"] = incoming.content_key
    return meta


def _duplicate_or_variant(
    account: ChannelAccount, customer: Customer, incoming: Incoming, ticket: Ticket | None
) -> Received:
    """A message with the incoming one's external id is stored: the same message again
    (``duplicate``), or, when the two contents differ, the incoming one stored under its
    variant id. Its variant id is derived from its content, so a redelivery of it is a
    duplicate of that one in turn."""
    found = _duplicate(account, incoming.external_id)
    variant = _variant(incoming, found.message)
    if variant is None:
        return found
    return _receive(
        account=account, customer=customer, incoming=variant, ticket=ticket, first_contact=False
    )


def _variant(incoming: Incoming, stored: Message) -> Incoming | None:
    """The incoming message under the id ``<external_id>#<content_key>`` when it is not the
    stored message (different ``content_key``); None when it is, or when nothing tells (no
    key on either side: a message stored before keys were kept counts as the same)."""
    stored_key = (stored.meta or {}).get("content_key") if isinstance(stored.meta, dict) else None
    if not incoming.content_key or not stored_key or stored_key == incoming.content_key:
        return None
    if (incoming.external_id or "").endswith("#" + incoming.content_key):
        return None  # already the variant: two contents with one key (never in practice)
    base = (incoming.external_id or "")[: 254 - len(incoming.content_key)]
    variant_id = f"{base}#{incoming.content_key}"
    if variant_id == incoming.external_id:
        return None
    return replace(incoming, external_id=variant_id)


def _duplicate(account: ChannelAccount, external_id: str | None) -> Received:
    existing = (
        Message.objects.select_related("ticket")
        .filter(channel_account=account, external_id=external_id)
        .first()
    )
    if existing is None:  # not a duplicate after all: let the caller see the failure
        raise IntegrityError("message insert conflicted but no message has its external id")
    return Received(ticket=existing.ticket, message=existing, duplicate=True)
