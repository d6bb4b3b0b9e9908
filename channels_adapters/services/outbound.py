"""Outbound: an agent's reply is stored pending and delivered by a task, with retries and a
sweep for replies whose task or worker was lost; providers' delivery updates move it forward.

How a reply recovers from a dead worker: every claim expires (``DELIVERY_CLAIM``), every retry's
due time is on the message (``delivery_next_at``), and ``outbound_sweep`` queues again whatever
is overdue, whatever its attempt count; the attempt count is the claim token, so nothing is sent
twice by two tasks.
"""

from __future__ import annotations

import contextlib
import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError, DeliveryUpdate
from channels_adapters.registry import get_adapter, has_adapter
from channels_adapters.webchat.offline_replies import offline_recipient, offline_reply_account
from channels_adapters.windows import messaging_window
from configuration.models import ChannelAccount
from customers.models import Identity
from tickets.delivery import (
    message_delivery_claim,
    message_delivery_requeued,
    message_delivery_reset,
    message_delivery_unclaim,
    message_fail,
    message_mark_sent,
    message_note_delivery_error,
    message_sent_first_try,
    messages_delivery_bring_forward,
    messages_delivery_update,
)
from tickets.errors import TicketRuleError
from tickets.models import Message, Ticket
from tickets.presence import presence_require_working
from tickets.services import message_add_outbound

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def _enqueue_delivery(message_id: int) -> None:
    """Queue the first try of a reply (claim token 0) after commit."""
    transaction.on_commit(lambda: _queue_delivery(message_id, attempt=0))


def _queue_delivery(message_id: int, *, attempt: int) -> None:
    """Queue the delivery task with its claim token. A broker that refuses it must not turn the
    agent's stored reply into an error page: the reply stays pending and ``outbound_sweep``
    queues it again once it is overdue."""
    from channels_adapters.tasks import deliver_message

    try:
        if attempt:
            deliver_message.delay(message_id, attempt=attempt)
        else:  # a first try: the task's retry number, 0, is its token
            deliver_message.delay(message_id)
    except Exception as exc:
        logger.warning("could not queue delivery of message %s: %s", message_id, type(exc).__name__)


def _apply_update(account: ChannelAccount, update: DeliveryUpdate) -> int:
    """Move one of our outbound messages forward (sent → delivered → read) or to failed."""
    return messages_delivery_update(
        channel_account=account,
        state=update.state,
        error=update.error,
        external_id=update.external_id,
        recipient_id=update.recipient_id,
        at=update.at,
    )


@transaction.atomic
def reply_send(*, ticket: Ticket, author: User, body: str) -> Message:
    """An agent's reply: stored pending, delivered through the ticket's channel after commit;
    an offline message's by e-mail (``webchat.offline.offline_reply_account``)."""
    account_id = offline_reply_account(ticket=ticket).pk if ticket.is_offline else None
    message = message_add_outbound(
        ticket=ticket,
        author=author,
        body=body,
        channel_account_id=account_id,
        meta=reply_window_meta(ticket=ticket),
    )
    # Just stored: no files yet. Known here, so the web chat's push carries the reply's text
    # instead of every web process reading it back (``webchat.adapter.reply_frame_data``).
    message.know_no_attachments()
    account = ticket.channel_account
    if (
        account_id is None
        and has_adapter(account.kind)
        and get_adapter(account.kind).sends_in_process
        and _deliver_in_process(message, account)
    ):
        return message
    _enqueue_delivery(message.pk)
    return message


def _deliver_in_process(message: Message, account: ChannelAccount) -> bool:
    """In the reply's own transaction: a channel whose ``send`` is our own push (the web chat:
    a ``realtime.publish``, which goes out at commit with the reply's other events, in one
    batch) gets it with no task, and the reply is stored sent (``message`` too, so the agent's
    answer shows it). The visitor's frame can only arrive after the commit, so their socket's
    acknowledgement (delivered) always follows the sent mark. Anything but that plain case
    (no recipient, a disabled account, a push that raised) returns False: the task is queued
    as for every other channel, and fails it with the reason or retries. A process that dies
    after the commit, before its realtime thread sent the push, leaves the reply sent with no
    frame, as it did before (the push was queued to that thread then too): the page's history
    shows it when the visitor reconnects, and marks it delivered."""
    try:
        recipient = _recipient(message, account) if account.enabled else None
        if recipient is None:
            return False
        external_id = get_adapter(account.kind).send(account, message, recipient)
    except DatabaseError:
        raise  # the transaction is broken: the reply fails whole, nothing half-stored
    except Exception as exc:
        logger.warning("pushing message %s failed: %s", message.pk, type(exc).__name__)
        return False
    message_sent_first_try(message=message, external_id=external_id)
    return True


def reply_window_meta(*, ticket: Ticket) -> dict[str, str]:
    """How a free-text reply may go with the channel's window now: ``{}`` (freely), with
    Messenger's Human Agent tag, or refused (``TicketRuleError`` saying why)."""
    window = messaging_window(ticket=ticket)
    if window is None or window.is_open:
        return {}
    if window.is_tagged:
        return {"messenger_tag": "HUMAN_AGENT"}
    raise TicketRuleError(window.reason)


#: Tries of one reply before it is shown failed: the first and five retries.
DELIVERY_MAX_ATTEMPTS = 6


def delivery_backoff(attempts: int) -> int:
    """Seconds before the retry after ``attempts`` tries: 5, 10, 20, 40, 80 s, with up to half
    again of jitter, so at most ``DELIVERY_MAX_BACKOFF`` (the broker's visibility timeout in
    settings is sized above it)."""
    base: int = min(5 * 2 ** max(attempts - 1, 0), 80)
    return base + random.randint(0, base // 2)  # noqa: S311


#: The longest countdown ``delivery_backoff`` gives.
DELIVERY_MAX_BACKOFF = 120


class DeliveryRetry(Exception):
    """The provider said "not now": the task should run again with claim token ``attempt``
    after ``countdown`` seconds (already recorded on the message as ``delivery_next_at``)."""

    def __init__(self, *, attempt: int, countdown: int, error: str) -> None:
        super().__init__(error)
        self.attempt = attempt
        self.countdown = countdown


def message_deliver(*, message_id: int, attempt: int | None = None) -> Message | None:
    """Send one pending outbound message through its channel.

    ``attempt`` is the claim token (the attempts made when the task was queued): a redelivered
    or re-queued copy of a task that already claimed the message sends nothing (see
    ``message_delivery_claim``). Returns None when there was nothing to send. A permanent
    ``DeliveryError`` marks the message failed. A transient one is retried: the retry's due time
    is recorded on the message and ``DeliveryRetry`` tells the task when to run again; after
    ``DELIVERY_MAX_ATTEMPTS`` the message is failed with the provider's own answer. So "failed"
    always follows a real provider answer, never a lost task (the sweep re-queues those).

    Anything else is not a provider's answer. Before the provider is called (the recipient's
    lookup: a dropped database connection) the claim is given back and the error raised, for the
    task's retry or the sweep. During the call (a bug in an adapter, a connection dropped
    mid-request, the soft time limit) the provider may have taken it: the reply is shown failed
    at once with a retry button rather than sent again by itself.
    """
    message = message_delivery_claim(message_id=message_id, attempt=attempt)
    if message is None:
        return None
    account = message.channel_account
    try:
        recipient = _recipient(message, account)
    except Exception:
        # Nothing went out yet (a dropped database connection): the claim is given back, so a
        # retry of this task sends it; if the database refuses that too, the claim expires.
        with contextlib.suppress(Exception):
            message_delivery_unclaim(message=message)
        raise
    try:
        if recipient is None:
            raise DeliveryError(_("The customer has no address on this channel."), permanent=True)
        if not account.enabled:
            raise DeliveryError(_("This channel account is disabled."), permanent=True)
        external_id = get_adapter(account.kind).send(account, message, recipient)
    except DeliveryError as exc:
        if exc.permanent or message.delivery_attempts >= DELIVERY_MAX_ATTEMPTS:
            return message_fail(message_id=message_id, reason=str(exc))
        countdown = delivery_backoff(message.delivery_attempts)
        message_note_delivery_error(
            message_id=message_id,
            error=str(exc),
            retry_at=timezone.now() + timedelta(seconds=countdown),
        )
        raise DeliveryRetry(
            attempt=message.delivery_attempts, countdown=countdown, error=str(exc)
        ) from exc
    except Exception as exc:
        # Not a provider's answer (a bug in an adapter, a connection dropped mid-request): the
        # provider may have taken it, and sending it again by itself could reach the customer
        # twice. The chat box shows it failed at once, with a retry button for the agent.
        logger.warning("sending message %s failed: %s", message_id, type(exc).__name__)
        return message_fail(
            message_id=message_id,
            reason=_("Sending was interrupted. Press retry to send this reply again."),
        )
    sent = message_mark_sent(message=message, external_id=external_id)
    if message.delivery_attempts > 1:
        # A retry went through: the provider is back, so the account's other replies waiting
        # out their backoff go now rather than up to two minutes later.
        for waiting_id, attempts in messages_delivery_bring_forward(channel_account_id=account.pk):
            _queue_delivery(waiting_id, attempt=attempts)
    return sent


def _recipient(message: Message, account: ChannelAccount) -> Identity | None:
    """Who a reply goes to: the customer's latest identity on the account's channel; for an
    offline message answered by e-mail, the address left in its form."""
    ticket = message.ticket
    if ticket.is_offline and message.channel_account_id != ticket.channel_account_id:
        return offline_recipient(ticket=ticket, kind=account.kind)
    return (
        Identity.objects.filter(customer_id=ticket.customer_id, kind=account.kind)
        .order_by("-created_at", "-id")
        .first()
    )


@transaction.atomic
def message_retry(*, message_id: int, actor: User | None = None) -> bool:
    """The chat box's retry button: a failed reply goes back to pending and is sent again.
    Refused (``TicketRuleError``) to an agent who is not active, like a reply."""
    presence_require_working(user=actor)
    if not message_delivery_reset(message_id=message_id):
        return False
    _enqueue_delivery(message_id)
    return True


#: A pending reply whose task is this late (its retry's due time, or its claim's end, passed
#: this long ago) lost its task or its worker; the sweep queues it again. Long enough for a
#: busy worker to reach a task that is due; with the sweep every
#: ``OUTBOUND_SWEEP_SECONDS`` (settings), a lost reply is queued again at most
#: ``OUTBOUND_OVERDUE_AFTER`` + that interval after it was due.
OUTBOUND_OVERDUE_AFTER = timedelta(seconds=15)
#: Claims of one reply after which the sweep stops sending it again: every one of them ended
#: with its worker dead (a reply that kills the worker), not with a provider's answer.
OUTBOUND_MAX_CLAIMS = 2 * DELIVERY_MAX_ATTEMPTS


def outbound_sweep(
    *, overdue_after: timedelta = OUTBOUND_OVERDUE_AFTER, limit: int = 500
) -> tuple[int, int]:
    """Queue again every pending reply whose task is overdue; returns ``(queued, failed)``.

    Overdue means ``delivery_next_at`` (or, never set, ``created_at``) passed more than
    ``overdue_after`` ago, whatever the attempt count: a first task lost before it ran (dead
    broker), a retry lost with its worker (the broker would return it only after its visibility
    timeout), a claim whose worker died mid-send (the claim expired). Each is queued with the
    current attempt count as claim token, so whichever of it and a late original comes first
    sends and the other sends nothing; and it is due again ``overdue_after`` later, so a queue
    that lost this task too is tried again at the next sweep, not flooded at every one.

    Nothing is failed for being late: a reply fails on the provider's own answer (see
    ``message_deliver``), or after ``OUTBOUND_MAX_CLAIMS`` claims that all ended with a dead
    worker. A worker that died after the provider took the reply and before it was marked sent
    may send it twice (the window is one HTTP answer and one UPDATE); a duplicate is better
    than a reply silently lost, and the API channel's receiver can drop it by its ``id``.
    """
    now = timezone.now()
    overdue = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, delivery=Message.Delivery.PENDING
        )
        .annotate(due=Coalesce("delivery_next_at", "created_at"))
        .filter(due__lt=now - overdue_after)
        .order_by("due")
        .values_list("pk", "delivery_attempts")[:limit]
    )
    queued = failed = 0
    for message_id, attempts in overdue:
        if attempts >= OUTBOUND_MAX_CLAIMS:
            message_fail(
                message_id=message_id,
                reason=_("Sending was interrupted. Press retry to send this reply again."),
            )
            failed += 1
        elif message_delivery_requeued(
            message_id=message_id, attempts=attempts, next_at=now + overdue_after
        ):
            _queue_delivery(message_id, attempt=attempts)
            queued += 1
    return queued, failed


def button_press_answer(*, account_id: int, query_id: str) -> bool:
    """Answer a Telegram customer's button press so the button stops spinning (see
    ``channels_adapters.telegram.adapter.telegram_answer_button``); False when the account
    is gone or disabled, or Telegram did not take it."""
    from channels_adapters.telegram.adapter import telegram_answer_button

    account = ChannelAccount.objects.filter(pk=account_id, enabled=True, kind="telegram").first()
    if account is None:
        return False
    return telegram_answer_button(account=account, query_id=query_id)
