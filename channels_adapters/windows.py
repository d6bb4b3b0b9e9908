"""The messengers' customer-service windows (selectors): may an agent write freely now?

WhatsApp and Messenger let a business answer freely for 24 hours after the customer's last
message on that account. After that, WhatsApp takes only approved message templates
(``channels_adapters.whatsapp.templates``); Messenger takes a reply tagged ``HUMAN_AGENT`` up to
7 days, when the page may use the tag (``ChannelAccount.human_agent_tag``). Telegram, the API
channel, e-mail and web chat have no window: ``messaging_window`` is None for them.

The window is counted from the customer's last inbound message on the ticket's channel account
(any of their tickets there): one query per ticket, or none with ``tickets_with_last_inbound``
(a subquery for a list).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import ChannelKind
from tickets.models import Message

if TYPE_CHECKING:
    from tickets.models import Ticket

#: Free replies after the customer's last message (WhatsApp and Messenger).
SERVICE_WINDOW = timedelta(hours=24)
#: Messenger's Human Agent tag: replies up to this long after the customer's last message.
HUMAN_AGENT_WINDOW = timedelta(days=7)
WINDOWED_KINDS = frozenset({ChannelKind.WHATSAPP, ChannelKind.MESSENGER})

OPEN = "open"
TAGGED = "tag"  # Messenger only: past 24 h, within 7 days, sent with the HUMAN_AGENT tag
CLOSED = "closed"


@dataclass(frozen=True)
class MessagingWindow:
    kind: str
    state: str
    last_inbound_at: datetime | None
    #: When the current state ends (open → 24 h, tag → 7 days after the last message).
    ends_at: datetime | None
    #: Why a free-text reply cannot go (closed), or how it goes (tag).
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def is_tagged(self) -> bool:
        return self.state == TAGGED

    @property
    def is_closed(self) -> bool:
        return self.state == CLOSED

    @property
    def takes_templates(self) -> bool:
        """WhatsApp past its window: only an approved template can go."""
        return self.is_closed and self.kind == ChannelKind.WHATSAPP

    def seconds_left(self, now: datetime | None = None) -> int:
        if self.ends_at is None:
            return 0
        return max(0, int((self.ends_at - (now or timezone.now())).total_seconds()))


def _inbound(channel_account_id, customer_id) -> QuerySet[Message]:
    return Message.objects.filter(
        channel_account_id=channel_account_id,
        ticket__customer_id=customer_id,
        direction=Message.Direction.INBOUND,
    )


def ticket_last_inbound_at(*, ticket: Ticket) -> datetime | None:
    """When the customer last wrote on the ticket's channel account (one query)."""
    if hasattr(ticket, "last_inbound_at"):  # annotated by ``tickets_with_last_inbound``
        return ticket.last_inbound_at
    return _inbound(ticket.channel_account_id, ticket.customer_id).aggregate(last=Max("sent_at"))[
        "last"
    ]


def tickets_with_last_inbound(queryset: QuerySet) -> QuerySet:
    """``queryset`` of tickets annotated with ``last_inbound_at`` (a subquery, no N+1)."""
    last = (
        _inbound(OuterRef("channel_account_id"), OuterRef("customer_id"))
        .order_by("-sent_at")
        .values("sent_at")[:1]
    )
    return queryset.annotate(last_inbound_at=Subquery(last))


def messaging_window(*, ticket: Ticket, now: datetime | None = None) -> MessagingWindow | None:
    """The ticket's window now, or None when its channel has none (or it is answered by
    e-mail, as an offline message is)."""
    if ticket.source not in WINDOWED_KINDS or ticket.is_offline:
        return None
    return window_state(
        kind=ticket.source,
        last_inbound_at=ticket_last_inbound_at(ticket=ticket),
        human_agent_tag=bool(getattr(ticket.channel_account, "human_agent_tag", False)),
        now=now or timezone.now(),
    )


def window_state(
    *, kind: str, last_inbound_at: datetime | None, human_agent_tag: bool, now: datetime
) -> MessagingWindow:
    """The rules, without the database."""
    if last_inbound_at is not None and now < last_inbound_at + SERVICE_WINDOW:
        return MessagingWindow(kind, OPEN, last_inbound_at, last_inbound_at + SERVICE_WINDOW)
    if kind == ChannelKind.WHATSAPP:
        return MessagingWindow(
            kind,
            CLOSED,
            last_inbound_at,
            None,
            _(
                "The customer last wrote more than 24 hours ago: WhatsApp accepts only an "
                "approved message template until they write again."
            ),
        )
    if last_inbound_at is not None and now < last_inbound_at + HUMAN_AGENT_WINDOW:
        ends = last_inbound_at + HUMAN_AGENT_WINDOW
        if human_agent_tag:
            return MessagingWindow(
                kind,
                TAGGED,
                last_inbound_at,
                ends,
                _(
                    "The 24-hour window has closed: replies go out with Messenger's Human Agent "
                    "tag until 7 days after the customer's last message."
                ),
            )
        return MessagingWindow(
            kind,
            CLOSED,
            last_inbound_at,
            None,
            _(
                "The customer last wrote more than 24 hours ago and this page may not use "
                "Messenger's Human Agent tag: no reply can be sent until they write again."
            ),
        )
    return MessagingWindow(
        kind,
        CLOSED,
        last_inbound_at,
        None,
        _(
            "The customer last wrote more than 7 days ago: Messenger accepts no reply until "
            "they write again."
        ),
    )
