"""Reads behind the ticket screen: the conversation (chat box) and the side panel.

Every function runs a fixed number of SQL queries whatever the number of messages,
attachments, tags, activities and history entries. The conversation shows the latest
``CONVERSATION_SIZE`` messages and pages back with a keyset on ``(sent_at, id)``.

What is per-user: nothing in ``panel_context`` or ``message_for_render`` (the realtime pushes
render them once for everyone); ``chat_context`` adds whether the viewing agent is on a break.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet, prefetch_related_objects
from django.http import Http404

from channels_adapters.registry import has_adapter
from channels_adapters.webchat.offline_replies import offline_contact, offline_reply_problem
from configuration.models import ActivityCategory, Department
from customers.models import ShoppingCart
from inbox.pagination import Column, keyset_page
from inbox.window_selectors import window_context
from tickets.models import (
    Activity,
    Attachment,
    Message,
    Priority,
    Tag,
    Ticket,
    TicketStatus,
)
from tickets.presence import presence_off_state

#: The latest messages the chat box opens with (more than a screenful); "load earlier" pages
#: back. Each message costs ~0.1 ms to render: 30 rather than 50 keeps the ticket page fast.
CONVERSATION_SIZE = 30
HISTORY_SIZE = 30
CART_HISTORY_SIZE = 5
TAG_SUGGESTIONS = 10

# --- one ticket -----------------------------------------------------------------------------


#: What the ticket screen shows of a ticket. Not the assignee or the department: the panel
#: needs only their ids, and every join costs PostgreSQL ~0.5 ms of planning on each page view.
TICKET_SCREEN_JOINS = ("customer", "channel_account", "subject", "group_type")
#: What the reply POST reads: the reply, its delivery and the reply box need only the account.
TICKET_REPLY_JOINS = ("channel_account",)


def ticket_get(*, ticket_id: int, user, joins: tuple[str, ...] = TICKET_SCREEN_JOINS) -> Ticket:
    """The ticket an agent may work on, or 404. Every signed-in agent sees every ticket.
    ``joins``: the relations read with it (``TICKET_REPLY_JOINS`` for the reply POST)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    # No ORDER BY (``first()`` would add one): a primary-key lookup finds one row or none.
    found = list(Ticket.objects.select_related(*joins).filter(pk=ticket_id).order_by()[:1])
    if not found:
        raise Http404
    return found[0]


def activity_get(*, ticket: Ticket, activity_id: int) -> Activity:
    activity = Activity.objects.filter(ticket=ticket, pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


def message_get(*, ticket: Ticket, message_id: int) -> Message:
    message = Message.objects.filter(ticket=ticket, pk=message_id).first()
    if message is None:
        raise Http404
    return message


def tag_get(*, ticket: Ticket, tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id, tickets=ticket).first()
    if tag is None:
        raise Http404
    return tag


def attachment_get(*, attachment_id: int, user) -> Attachment:
    if not getattr(user, "is_authenticated", False):
        raise Http404
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return attachment


def replies_available(ticket: Ticket) -> bool:
    """Whether the ticket's channel can carry a reply yet (web chat comes in a later issue)."""
    return has_adapter(ticket.source)


# --- conversation ---------------------------------------------------------------------------


#: The conversation pages back from the newest message.
MESSAGE_ORDER = (Column("sent_at", True), Column("id", True))


def _messages() -> QuerySet[Message]:
    return Message.objects.select_related("author").prefetch_related("attachments")


@dataclass(frozen=True)
class Conversation:
    ticket: Ticket
    messages: list[Message]
    earlier_cursor: str | None  # the "load earlier" link, when older messages exist


def conversation(
    *, ticket: Ticket, before: str | None = None, limit: int | None = None
) -> Conversation:
    """The latest messages of a ticket (or those before a cursor), oldest first (2 queries)."""
    page = keyset_page(
        _messages().filter(ticket=ticket),
        columns=MESSAGE_ORDER,
        cursor=before,
        limit=limit or CONVERSATION_SIZE,
    )
    rows = page.items
    rows.reverse()
    for row in rows:  # the ticket is already loaded: no query per message for its customer
        row.ticket = ticket
    return Conversation(
        ticket=ticket,
        messages=rows,
        earlier_cursor=page.next_cursor,
    )


def message_for_render(message_id: int) -> Message | None:
    """One message with what ``inbox/ticket/message.html`` shows (2 queries), or None."""
    return _messages().select_related("ticket__customer").filter(pk=message_id).first()


def message_just_added(*, message: Message, ticket: Ticket) -> Message:
    """A reply or note just stored, ready for ``inbox/ticket/message.html`` without a query:
    its author is the agent who wrote it and it has no attachments yet."""
    message.ticket = ticket
    message.know_no_attachments()
    return message


def _off_duty(state: str) -> dict[str, Any]:
    # ``on_break``: the reply box takes notes only; ``off_state`` says why (a break, away,
    # signed out) in reply_form.html.
    return {"on_break": bool(state), "off_state": state}


def chat_context(*, ticket: Ticket, user, before: str | None = None) -> dict[str, Any]:
    """Context of ``inbox/ticket/chat.html``: header, conversation and reply box."""
    return {
        **composer_context(ticket=ticket, user=user),
        "conversation": conversation(ticket=ticket, before=before),
    }


def composer_context(*, ticket: Ticket, user, off_state: str | None = None) -> dict[str, Any]:
    """What the reply box shows around the form: whether replies can go out, the agent's
    state, the messaging window. An offline message is answered by e-mail: the box says to
    which address, or why it cannot be. ``off_state``: the agent's state when the caller knows
    it (``presence_off_state``; "" = working), so it is not read again."""
    if off_state is None:
        off_state = presence_off_state(user=user)
    offline = offline_reply(ticket) if ticket.is_offline else None
    window = window_context(ticket=ticket)
    closed = window["messaging_window"] is not None and window["messaging_window"].is_closed
    return {
        "ticket": ticket,
        "replies_available": replies_available(ticket)
        and not (offline and offline["problem"])
        and not closed,
        **_off_duty(off_state),
        "offline_reply": offline,
        **window,
    }


def offline_reply(ticket: Ticket) -> dict[str, str]:
    """Where a reply to an offline message goes (``email``), or why it cannot (``problem``)."""
    return {
        "email": offline_contact(ticket=ticket)["email"],
        "problem": offline_reply_problem(ticket=ticket),
    }


# --- side panel -----------------------------------------------------------------------------


def assignee_choices() -> QuerySet:
    """Users who can hold tickets: agents (with a capacity) and staff."""
    return (
        get_user_model()
        .objects.filter(Q(operator_profile__isnull=False) | Q(is_staff=True), is_active=True)
        .order_by("username")
    )


def _categories() -> list[ActivityCategory]:
    return list(
        ActivityCategory.objects.filter(is_active=True).order_by(
            F("parent_id").asc(nulls_first=True), "position", "name"
        )
    )


def subcategories(*, category_id: int | None) -> list[ActivityCategory]:
    if not category_id:
        return []
    return list(
        ActivityCategory.objects.filter(parent_id=category_id, is_active=True).order_by(
            "position", "name"
        )
    )


def panel_context(ticket_id: int, user=None, *, ticket: Ticket | None = None) -> dict[str, Any]:
    """Context of ``inbox/ticket/panel.html`` (a fixed 10 queries, the same for every agent).

    ``user`` is accepted for the agreed signature; nothing in the panel depends on it.
    """
    if ticket is None:
        ticket = (
            Ticket.objects.select_related(
                "customer", "assignee", "channel_account", "subject", "group_type", "department"
            )
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None:
            raise Http404
    prefetch_related_objects([ticket], "tags", "customer__identities")
    activities = list(
        ticket.activities.select_related("category", "subcategory", "agent").order_by(
            "created_at", "id"
        )
    )
    events = list(
        ticket.events.select_related("actor").order_by("-created_at", "-id")[:HISTORY_SIZE]
    )
    carts = list(
        ShoppingCart.objects.filter(customer_id=ticket.customer_id).order_by("-updated_at", "-id")[
            : CART_HISTORY_SIZE + 1
        ]
    )
    categories = _categories()
    top = [c for c in categories if c.parent_id is None]
    by_parent: dict[int, list[ActivityCategory]] = {}
    for category in categories:
        if category.parent_id is not None:
            by_parent.setdefault(category.parent_id, []).append(category)
    for category in top:
        category.subcategories_active = by_parent.get(category.pk, [])  # type: ignore[attr-defined]
    return {
        "ticket": ticket,
        "customer": ticket.customer,
        "activities": activities,
        "open_activities": sum(1 for a in activities if a.status == Activity.Status.OPEN),
        "history": events,
        "cart": carts[0] if carts else None,
        "cart_history": carts[1:],
        "categories": top,
        "statuses": TicketStatus.choices,
        "priorities": Priority.choices,
        "departments": list(Department.objects.filter(is_active=True)),
        "agents": list(assignee_choices()),
    }


def tag_suggestions(*, query: str, limit: int = TAG_SUGGESTIONS) -> list[Tag]:
    """Tag names starting with ``query`` (then containing it), for the tag autocomplete."""
    query = " ".join((query or "").split())[:60]
    if not query:
        return list(Tag.objects.order_by("name")[:limit])
    found = list(Tag.objects.filter(name__istartswith=query).order_by("name")[:limit])
    if len(found) < limit:
        found += list(
            Tag.objects.filter(name__icontains=query)
            .exclude(pk__in=[tag.pk for tag in found])
            .order_by("name")[: limit - len(found)]
        )
    return found


def prefetch_customer(ticket: Ticket) -> None:
    """Load the customer's identities for the customer section (1 query)."""
    prefetch_related_objects([ticket], "customer__identities")
