"""The customer's end of a conversation: they ended the chat, they rated the ticket.

Ending the chat does not change the ticket's status: the ticket stays with its agent (its
activities may still be open, and only the agent knows whether the problem is solved); it is
marked ``customer_ended_at`` and gets a system line the agent sees live. The agent resolves it.

A ticket holds one rating (1-5, an optional comment). It can be given once the chat is over
(resolved, closed, or ended by the customer); a second rating replaces the first (the customer
changed their mind), and ``rated_at`` is the time of the latest.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from configuration.models import WebhookEvent
from omnico.core import realtime
from tickets import webhooks
from tickets.errors import TicketRuleError
from tickets.models import FINAL_STATUSES, Message, Ticket, TicketEvent

MAX_RATING_COMMENT_CHARS = 2000


def _system_line(ticket: Ticket, text: str) -> Message:
    now = timezone.now()
    message = Message.objects.create(
        ticket=ticket,
        channel_account_id=ticket.channel_account_id,
        direction=Message.Direction.SYSTEM,
        body=text,
        sent_at=now,
    )
    realtime.publish(
        realtime.ticket_group(ticket.pk),
        "ticket.message",
        ticket_id=ticket.pk,
        message_id=message.pk,
    )
    return message


def _changed(ticket: Ticket, field: str, new: object) -> None:
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.FIELD, data={"field": field, "new": new}
    )
    realtime.publish(
        realtime.ticket_group(ticket.pk), "ticket.changed", ticket_id=ticket.pk, change=field
    )


@transaction.atomic
def ticket_end_by_customer(*, ticket: Ticket) -> bool:
    """The customer ended the chat: mark it and tell the agent; False when it already was
    (ending twice adds nothing). The status is left for the agent."""
    ended = Ticket.objects.filter(pk=ticket.pk, customer_ended_at__isnull=True).update(
        customer_ended_at=timezone.now(), updated_at=timezone.now()
    )
    if not ended:
        return False
    ticket.refresh_from_db()
    with translation.override(settings.LANGUAGE_CODE):
        _system_line(ticket, _("The customer ended the chat."))
    _changed(ticket, "customer_ended", True)
    realtime.publish(realtime.AGENTS_GROUP, "inbox.ticket", ticket_id=ticket.pk, created=False)
    return True


def ticket_can_be_rated(ticket: Ticket) -> bool:
    return ticket.status in FINAL_STATUSES or ticket.customer_ended_at is not None


@transaction.atomic
def ticket_rate(*, ticket: Ticket, rating: int, comment: str = "") -> Ticket:
    """Store the customer's rating (a second one replaces the first)."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise TicketRuleError(_("Choose a rating from 1 to 5."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if not ticket_can_be_rated(ticket):
        raise TicketRuleError(_("The chat can be rated once it is over."))
    ticket.rating = rating
    ticket.rating_comment = (comment or "").strip()[:MAX_RATING_COMMENT_CHARS]
    ticket.rated_at = timezone.now()
    ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
    _changed(ticket, "rating", rating)
    webhooks.webhook_ticket_event(
        event=WebhookEvent.RATING_GIVEN,
        ticket=ticket,
        rating={"score": rating, "comment": ticket.rating_comment},
    )
    return ticket


@transaction.atomic
def ticket_customer_restarted(*, ticket: Ticket) -> bool:
    """The customer started a new chat on a ticket they had ended (still active): it is no
    longer marked ended, and the agent sees a line saying so."""
    changed = Ticket.objects.filter(pk=ticket.pk, customer_ended_at__isnull=False).update(
        customer_ended_at=None, updated_at=timezone.now()
    )
    if not changed:
        return False
    ticket.refresh_from_db()
    with translation.override(settings.LANGUAGE_CODE):
        _system_line(ticket, _("The customer started a new chat."))
    _changed(ticket, "customer_ended", False)
    return True
