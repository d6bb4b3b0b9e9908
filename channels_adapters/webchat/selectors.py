"""Reads of the support page: which page, its choices, and the visitor's own conversation.

Every read of a conversation starts from the visitor id of the signed cookie
(``webchat.visitor``): nothing here takes a ticket or message id from the visitor.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.http import Http404
from django.utils import translation
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from channels_adapters.models import InboundEvent
from channels_adapters.webchat import settings_memo
from channels_adapters.webchat.adapter import external_id
from configuration.models import ChannelKind, GroupType, Subject, SupportPage
from tickets import selectors as ticket_selectors
from tickets.attachments import INLINE_IMAGE_TYPES
from tickets.models import SLOT_STATUSES, Attachment, Message, Ticket, TicketEvent
from tickets.selectors import PoolPace

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def support_page_get(*, name: str | None) -> SupportPage:
    """The page of an enabled web-chat account: by account name, else the default one (or
    the only one); 404 otherwise. Remembered per process until a page or account changes
    (``settings_memo``): no query but a version check; each caller gets its own copy."""
    page = settings_memo.MEMO.get(("page", name), lambda: _support_page_load(name), copy_value=True)
    if page is None:
        raise Http404("no such support page")
    return page


def support_page_and_choices(*, name: str | None) -> tuple[SupportPage, VisitorChoices]:
    """``support_page_get`` and ``visitor_choices`` from one look-up of the settings memo: a
    visitor's message needs both, and each look-up is a round trip to Redis (the version).

    The page is the process's remembered instance, not a copy (a deep copy of the page and
    its account cost a tenth of a message's time): for callers that only read it (the
    message and upload POSTs read its account's id and name), never change it."""
    page, choices = settings_memo.MEMO.get(
        ("page+choices", name), lambda: (_support_page_load(name), _visitor_choices_load())
    )
    if page is None:
        raise Http404("no such support page")
    return page, choices


def _support_page_load(name: str | None) -> SupportPage | None:
    pages = SupportPage.objects.select_related("channel_account").filter(
        channel_account__kind=ChannelKind.WEBCHAT, channel_account__enabled=True
    )
    if name is not None:
        return pages.filter(channel_account__name=name).first()
    return pages.filter(is_default=True).first() or pages.order_by("pk").first()


def group_types_for_visitors() -> list[GroupType]:
    return list(GroupType.objects.filter(is_active=True).order_by("position", "name"))


def subjects_for_visitors() -> list[Subject]:
    return list(Subject.objects.filter(is_active=True).order_by("position", "name"))


@dataclass(frozen=True)
class VisitorChoices:
    """The ids of the group types and subjects the page offers now."""

    group_type_ids: frozenset[int]
    subject_ids: frozenset[int]


def visitor_choices() -> VisitorChoices:
    """What a visitor may choose, for checking their intake on every message: remembered per
    process until a group type or subject changes (``settings_memo``), so no query."""
    return settings_memo.MEMO.get("choices", _visitor_choices_load)


def _visitor_choices_load() -> VisitorChoices:
    return VisitorChoices(
        group_type_ids=frozenset(
            GroupType.objects.filter(is_active=True).values_list("pk", flat=True)
        ),
        subject_ids=frozenset(Subject.objects.filter(is_active=True).values_list("pk", flat=True)),
    )


def agent_display_name(user: User | None) -> str:
    """What a visitor is told an agent is called: their name, never their username."""
    if user is None:
        return _("An agent")
    return user.get_full_name() or user.first_name or _("An agent")


@dataclass
class EntryFile:
    """A file of one line: ``pk`` None while its message waits for ingest (no link yet)."""

    filename: str
    content_type: str
    size: int = 0
    pk: int | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type in INLINE_IMAGE_TYPES


@dataclass
class Entry:
    """One line of the visitor's conversation."""

    kind: str  # "in" (the visitor), "out" (an agent), "system"
    at: datetime
    text: str
    key: str = ""  # the client message id of the visitor's own messages
    message_id: int | None = None
    files: list[EntryFile] = field(default_factory=list)


def entry_files(message: Message) -> list[EntryFile]:
    """The stored files of a message (its ``attachments`` prefetched by the caller)."""
    return [
        EntryFile(filename=a.filename, content_type=a.content_type, size=a.size, pk=a.pk)
        for a in message.attachments.all()
        if a.file
    ]


@dataclass
class Conversation:
    ticket: Ticket | None
    entries: list[Entry] = field(default_factory=list)


def visitor_ticket(*, account_id: int, visitor_id: str) -> Ticket | None:
    """The visitor's latest ticket on this web chat, or None."""
    return (
        Ticket.objects.filter(
            channel_account_id=account_id,
            customer__identities__kind=ChannelKind.WEBCHAT,
            customer__identities__external_id=visitor_id,
        )
        .select_related("assignee")
        .order_by("-created_at", "-pk")
        .first()
    )


def visitor_conversation(*, account_id: int, visitor_id: str) -> Conversation:
    """The visitor's conversation as they see it (no internal notes): the latest ticket's
    messages (with their files), a line for each agent who joined, and their own messages that
    are stored but not yet in a ticket. Five queries, however long the conversation."""
    ticket = visitor_ticket(account_id=account_id, visitor_id=visitor_id)
    entries: list[Entry] = []
    prefix = external_id(visitor_id, "")
    if ticket is not None:
        messages = Message.objects.filter(
            ticket=ticket,
            direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND],
        ).order_by("sent_at", "pk")
        for message in messages.prefetch_related("attachments"):
            inbound = message.direction == Message.Direction.INBOUND
            entries.append(
                Entry(
                    kind="in" if inbound else "out",
                    at=message.sent_at,
                    text=message.body,
                    key=(message.external_id or "").removeprefix(prefix) if inbound else "",
                    message_id=message.pk,
                    files=entry_files(message),
                )
            )
        joined = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNEE).order_by(
            "created_at", "pk"
        )
        names = _agent_names([e.data.get("new") for e in joined])
        for event in joined:
            agent = event.data.get("new")
            if agent:
                text = _("%(name)s joined the chat.") % {"name": names.get(agent, _("An agent"))}
                entries.append(Entry(kind="system", at=event.created_at, text=text))
    entries += _unprocessed(account_id=account_id, visitor_id=visitor_id, seen=entries)
    entries.sort(key=lambda e: e.at)
    return Conversation(ticket=ticket, entries=entries)


def _agent_names(ids: list[int]) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    wanted = {i for i in ids if isinstance(i, int)}
    if not wanted:
        return {}
    return {u.pk: agent_display_name(u) for u in get_user_model().objects.filter(pk__in=wanted)}


def _unprocessed(*, account_id: int, visitor_id: str, seen: list[Entry]) -> list[Entry]:
    """The visitor's messages stored and not yet ingested (a busy worker): shown as sent."""
    keys = {e.key for e in seen if e.kind == "in"}
    found = []
    events = InboundEvent.objects.filter(
        channel_account_id=account_id,
        dedupe_key__startswith=external_id(visitor_id, ""),
        status=InboundEvent.Status.PENDING,
    ).order_by("received_at")
    for event in events:
        try:
            data = json.loads(bytes(event.body))
        except ValueError:
            continue
        if data.get("id") in keys:
            continue
        upload = data.get("file") if isinstance(data.get("file"), dict) else None
        files = (
            [EntryFile(filename=str(upload.get("filename")), content_type=str(upload.get("type")))]
            if upload
            else []
        )
        found.append(
            Entry(
                kind="in",
                at=event.received_at,
                text=str(data.get("text", "")),
                key=data["id"],
                files=files,
            )
        )
    return found


# --- waiting in the pool --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStatus:
    """Where a waiting visitor's ticket is in the pool, and how long it should take."""

    position: int
    wait_minutes: int | None  # None: too little recent history to estimate

    @classmethod
    def at(cls, position: int, pace: PoolPace) -> QueueStatus:
        return cls(position=position, wait_minutes=pace.wait_minutes(position))

    @property
    def position_text(self) -> str:
        return _position_text(get_language(), self.position)

    @property
    def wait_text(self) -> str:
        return _wait_text(get_language(), self.wait_minutes)

    def as_frame(self, language: str) -> dict[str, object]:
        """What the visitor's socket sends, worded in ``language``."""
        return {
            "kind": "queue",
            "position": self.position,
            "text": _position_text(language, self.position),
            "wait": _wait_text(language, self.wait_minutes),
        }


# The words are looked up once per language (and wait), not once per waiting socket: a pool
# change moves every waiting visitor's place at once.


@functools.lru_cache(maxsize=16)
def _position_template(language: str | None) -> str:
    with translation.override(language):
        return _("You are number %(position)d in the queue.")


def _position_text(language: str | None, position: int) -> str:
    return _position_template(language) % {"position": position}


@functools.lru_cache(maxsize=1024)
def _wait_text(language: str | None, minutes: int | None) -> str:
    with translation.override(language):
        if minutes is None:
            return _("An agent will be with you as soon as one is free.")
        return ngettext(
            "Estimated wait: about %(minutes)d minute.",
            "Estimated wait: about %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


def visitor_queue(*, ticket_id: int | None) -> QueueStatus | None:
    """The visitor's place in the pool and estimated wait, or None when their ticket is not
    waiting (no ticket, an agent has it, or it is closed). The place is
    ``tickets.selectors.pool_place`` (the order routing takes the pool in, counting the
    tickets that compete for its department's agents); the wait is
    ``tickets.selectors.pool_pace`` of that department (its docstring has the formula). Two
    queries when waiting, one otherwise."""
    if ticket_id is None:
        return None
    found = ticket_selectors.pool_place(ticket_id=ticket_id)
    if found is None:
        return None
    position, department_id = found
    return QueueStatus.at(position, ticket_selectors.pool_pace(department_id=department_id))


def visitor_pool_entered_at(*, account_id: int, visitor_id: str) -> datetime | None:
    """When the visitor's ticket entered the pool, while it waits there (no agent, open or
    pending); None otherwise. For the "maximum wait" setting. One query."""
    return (
        Ticket.objects.filter(
            channel_account_id=account_id,
            customer__identities__kind=ChannelKind.WEBCHAT,
            customer__identities__external_id=visitor_id,
            assignee__isnull=True,
            status__in=SLOT_STATUSES,
        )
        .order_by("-created_at", "-pk")
        .values_list("pool_entered_at", flat=True)
        .first()
    )


def visitor_attachment_get(*, visitor_id: str, attachment_id: int) -> Attachment:
    """A stored file of the visitor's own conversation (theirs or an agent's reply, never an
    internal note's); 404 for anything else, whoever's it is."""
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            message__direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND],
            message__channel_account__kind=ChannelKind.WEBCHAT,
            message__ticket__customer__identities__kind=ChannelKind.WEBCHAT,
            message__ticket__customer__identities__external_id=visitor_id,
        )
        .exclude(file="")
        .first()
    )
    if attachment is None:
        raise Http404("no such file")
    return attachment
