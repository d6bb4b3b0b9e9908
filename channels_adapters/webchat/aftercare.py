"""The end of a web chat, from the visitor's side: end it, rate it, mail its transcript, and
mail agents' replies written while the visitor was away.

As everywhere on the support page, the visitor is the one of the signed cookie: each service
works on that visitor's latest ticket only.

Replies while away: an agent's reply is pushed to the visitor's sockets and stays ``sent``
until a socket (or the page) shows it (``delivered``). A visitor who ticked "e-mail me replies
if I am away" and left an address gets the replies still ``sent`` once the agent has written
nothing more for ``OMNICO_WEBCHAT_AWAY_MAIL_SECONDS``: one mail per such batch, never one per
reply, and never the same reply twice (``WebchatVisitor.away_mailed_through``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_adapters.base import DeliveryError
from channels_adapters.models import WebchatVisitor
from channels_adapters.webchat import mail
from channels_adapters.webchat.selectors import visitor_ticket
from configuration.models import ChannelAccount, ChannelKind, SupportPage
from customers.models import Identity
from tickets import feedback
from tickets.errors import TicketRuleError
from tickets.models import ACTIVE_STATUSES, Message, Ticket

logger = logging.getLogger(__name__)


class AftercareError(ValueError):
    """Shown to the visitor: why their request was not taken."""


def _email_clean(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise AftercareError(_("Enter a valid e-mail address.")) from None
    return email[:254]


def _their_ticket(account: ChannelAccount, visitor_id: str) -> Ticket:
    ticket = visitor_ticket(account_id=account.pk, visitor_id=visitor_id)
    if ticket is None:
        raise AftercareError(_("There is no chat yet."))
    return ticket


def webchat_visitor_get(*, account: ChannelAccount, visitor_id: str) -> WebchatVisitor | None:
    return WebchatVisitor.objects.filter(channel_account=account, visitor_id=visitor_id).first()


def visitor_preferences_set(
    *, account: ChannelAccount, visitor_id: str, email: str, notify_away: bool, language: str
) -> WebchatVisitor:
    """Remember the visitor's address and whether replies written while they are away are
    mailed to them (which needs an address)."""
    email = (email or "").strip()
    if email or notify_away:
        email = _email_clean(email)
    visitor, _created = WebchatVisitor.objects.update_or_create(
        channel_account=account,
        visitor_id=visitor_id,
        defaults={"email": email, "notify_away": notify_away, "language": language},
    )
    return visitor


def visitor_chat_end(*, account: ChannelAccount, visitor_id: str) -> Ticket:
    """The visitor ended the chat: the agent is told, the ticket waits for them to resolve."""
    ticket = _their_ticket(account, visitor_id)
    if ticket.status in ACTIVE_STATUSES:
        feedback.ticket_end_by_customer(ticket=ticket)
        ticket.refresh_from_db()
    return ticket


def visitor_chat_restart(*, account: ChannelAccount, visitor_id: str) -> Ticket | None:
    """The visitor starts a new chat after one that is over. A ticket they ended that the
    agent has not resolved yet stays their one active ticket (one per customer and channel):
    it is no longer marked ended, and the agent sees a line saying so."""
    ticket = visitor_ticket(account_id=account.pk, visitor_id=visitor_id)
    if ticket is not None and ticket.status in ACTIVE_STATUSES and ticket.customer_ended_at:
        feedback.ticket_customer_restarted(ticket=ticket)
    return ticket


def visitor_rate(*, account: ChannelAccount, visitor_id: str, rating: str, comment: str) -> Ticket:
    ticket = _their_ticket(account, visitor_id)
    try:
        value = int(rating)
    except (TypeError, ValueError):
        raise AftercareError(_("Choose a rating from 1 to 5.")) from None
    try:
        return feedback.ticket_rate(ticket=ticket, rating=value, comment=comment)
    except TicketRuleError as exc:
        raise AftercareError(exc.message) from None


def _transcript_interval() -> timedelta:
    return timedelta(seconds=settings.OMNICO_WEBCHAT_TRANSCRIPT_INTERVAL_SECONDS)


@transaction.atomic
def visitor_transcript_request(
    *, account: ChannelAccount, visitor_id: str, email: str, language: str
) -> Ticket:
    """Mail the visitor's conversation to ``email`` (sent by a task after commit); one per
    ``OMNICO_WEBCHAT_TRANSCRIPT_INTERVAL_SECONDS`` per visitor."""
    email = _email_clean(email)
    ticket = _their_ticket(account, visitor_id)
    if mail.visitor_mail_account() is None:
        raise AftercareError(_("Sending e-mail is not set up here, sorry."))
    visitor, _created = WebchatVisitor.objects.get_or_create(
        channel_account=account, visitor_id=visitor_id
    )
    now = timezone.now()
    claimed = (
        WebchatVisitor.objects.filter(pk=visitor.pk)
        .filter(
            Q(transcript_sent_at__isnull=True)
            | Q(transcript_sent_at__lte=now - _transcript_interval())
        )
        .update(transcript_sent_at=now, email=email, language=language)
    )
    if claimed != 1:
        minutes = max(1, settings.OMNICO_WEBCHAT_TRANSCRIPT_INTERVAL_SECONDS // 60)
        raise AftercareError(
            _("A transcript was sent a moment ago; you can ask again in %(n)d minutes.")
            % {"n": minutes}
        )
    from channels_adapters.webchat import tasks

    ticket_id = ticket.pk
    transaction.on_commit(
        lambda: tasks.webchat_transcript_send.delay(
            ticket_id=ticket_id, to=email, language=language
        )
    )
    return ticket


def _company(ticket: Ticket) -> str:
    page = SupportPage.objects.filter(channel_account_id=ticket.channel_account_id).first()
    return page.company_name if page else ticket.channel_account.name


def transcript_send(*, ticket_id: int, to: str, language: str) -> bool:
    """Compose and send a ticket's transcript: what the visitor saw (their messages and the
    agents' replies, never internal notes). False when it cannot be sent."""
    account = mail.visitor_mail_account()
    ticket = (
        Ticket.objects.select_related("customer", "channel_account").filter(pk=ticket_id).first()
    )
    if account is None or ticket is None:
        return False
    messages = list(
        Message.objects.filter(
            ticket=ticket, direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND]
        )
        .select_related("author")
        .order_by("sent_at", "pk")
    )
    company = _company(ticket)
    lines = mail.mail_lines(messages=messages, customer_name=ticket.customer.name)
    composed = mail.visitor_mail_compose(
        account=account,
        to=to,
        subject=mail.transcript_subject(ticket=ticket, company=company, language=language),
        template="support/mail/transcript",
        context={"lines": lines, "company": company, "ticket": ticket},
        language=language,
    )
    try:
        mail.visitor_mail_send(account=account, mail=composed, to=to)
    except DeliveryError as exc:
        logger.warning("transcript of ticket %s not sent: %s", ticket_id, exc)
        return False
    return True


# --- replies while away ------------------------------------------------------------------------


def _away_wait() -> timedelta:
    return timedelta(seconds=settings.OMNICO_WEBCHAT_AWAY_MAIL_SECONDS)


def away_mail_due(*, now: datetime | None = None) -> list[tuple[int, int, int]]:
    """``(visitor pk, ticket id, last reply id)`` of each batch of unacknowledged replies due to
    be mailed: the ticket's newest reply still ``sent`` is older than the wait (replies older
    than a day are left alone). Three queries, the first on ``message_sent_unacked``."""
    now = now or timezone.now()
    batches = list(
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            delivery=Message.Delivery.SENT,
            channel_account_id__in=ChannelAccount.objects.filter(kind=ChannelKind.WEBCHAT).values(
                "pk"
            ),
            sent_at__gte=now - timedelta(days=1),
        )
        .values("ticket_id", "ticket__customer_id", "channel_account_id")
        .annotate(last_id=Max("pk"), last_at=Max("sent_at"))
    )
    batches = [b for b in batches if b["last_at"] <= now - _away_wait()]
    if not batches:
        return []
    identities = dict(
        Identity.objects.filter(
            kind=ChannelKind.WEBCHAT, customer_id__in={b["ticket__customer_id"] for b in batches}
        ).values_list("customer_id", "external_id")
    )
    visitors = {
        (v.channel_account_id, v.visitor_id): v
        for v in WebchatVisitor.objects.filter(
            notify_away=True, visitor_id__in=set(identities.values())
        ).exclude(email="")
    }
    due = []
    for batch in batches:
        visitor_id = identities.get(batch["ticket__customer_id"])
        if visitor_id is None:
            continue
        visitor = visitors.get((batch["channel_account_id"], visitor_id))
        if visitor is not None and batch["last_id"] > visitor.away_mailed_through:
            due.append((visitor.pk, batch["ticket_id"], batch["last_id"]))
    return due


def away_mail_send(*, visitor_pk: int, ticket_id: int, through: int) -> int:
    """Mail the replies on ``ticket_id`` up to ``through`` that the visitor has not seen nor been
    mailed; returns how many. The cursor is moved first by a conditional update (a second copy
    of this task sends nothing) and moved back when the mail could not be sent."""
    visitor = WebchatVisitor.objects.filter(pk=visitor_pk, notify_away=True).first()
    account = mail.visitor_mail_account()
    if visitor is None or account is None or not visitor.email:
        return 0
    before = visitor.away_mailed_through
    if before >= through:
        return 0
    claimed = WebchatVisitor.objects.filter(pk=visitor_pk, away_mailed_through=before).update(
        away_mailed_through=through
    )
    if claimed != 1:
        return 0
    messages = list(
        Message.objects.filter(
            ticket_id=ticket_id,
            direction=Message.Direction.OUTBOUND,
            delivery=Message.Delivery.SENT,
            pk__gt=before,
            pk__lte=through,
        )
        .select_related("author")
        .order_by("sent_at", "pk")
    )
    ticket = Ticket.objects.select_related("customer", "channel_account").get(pk=ticket_id)
    if not messages:
        return 0
    company = _company(ticket)
    language = visitor.language or settings.LANGUAGE_CODE
    composed = mail.visitor_mail_compose(
        account=account,
        to=visitor.email,
        subject=mail.away_subject(ticket=ticket, company=company, language=language),
        template="support/mail/away",
        context={
            "lines": mail.mail_lines(messages=messages, customer_name=ticket.customer.name),
            "company": company,
            "ticket": ticket,
        },
        language=language,
    )
    try:
        mail.visitor_mail_send(account=account, mail=composed, to=visitor.email)
    except DeliveryError as exc:
        WebchatVisitor.objects.filter(pk=visitor_pk, away_mailed_through=through).update(
            away_mailed_through=before
        )
        logger.warning("replies of ticket %s not mailed: %s", ticket_id, exc)
        return 0
    return len(messages)
