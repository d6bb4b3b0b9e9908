from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from configuration.models import (
    ActivityCategory,
    BreakReason,
    ChannelAccount,
    ChannelKind,
    Department,
    GroupType,
    Subject,
)
from customers.models import Customer


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    WAITING_ON_CUSTOMER = "waiting_on_customer", _("Waiting on customer")
    WAITING_ON_THIRD_PARTY = "waiting_on_third_party", _("Waiting on third party")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


#: Statuses in which a ticket still takes the customer's new messages.
ACTIVE_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.PENDING,
    TicketStatus.WAITING_ON_CUSTOMER,
    TicketStatus.WAITING_ON_THIRD_PARTY,
)
#: Statuses in which an assigned ticket occupies one of its agent's capacity slots.
SLOT_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING)
FINAL_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    status = models.CharField(
        _("status"), max_length=24, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.MEDIUM
    )
    #: 0 urgent … 3 low, kept beside ``priority`` so the pool orders by an index.
    priority_rank = models.PositiveSmallIntegerField(default=2, editable=False)
    source = models.CharField(_("source"), max_length=16, choices=ChannelKind.choices)
    channel_account = models.ForeignKey(
        ChannelAccount,
        on_delete=models.PROTECT,
        related_name="tickets",
        verbose_name=_("channel account"),
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("customer")
    )
    title = models.CharField(_("title"), max_length=255, blank=True)
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("subject")
    )
    group_type = models.ForeignKey(
        GroupType, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("group type")
    )
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("group / department"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        verbose_name=_("agent"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets", verbose_name=_("tags"))
    previous_ticket = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        verbose_name=_("previous ticket"),
    )
    is_offline = models.BooleanField(_("offline message"), default=False)
    unread = models.BooleanField(_("unread"), default=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    last_message_preview = models.CharField(_("preview"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    #: When the ticket last entered the pool: created, unassigned, or back to open/pending
    #: without an agent. Kept after it is assigned, so ``assigned_at - pool_entered_at`` is its
    #: last pool wait (``tickets.selectors.pool_wait_stats``).
    pool_entered_at = models.DateTimeField(_("entered the pool"), default=timezone.now)
    #: When the ticket was last given to an agent (by routing or by hand).
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    #: The customer's oldest message not answered yet (None: nobody is waiting for a reply).
    awaiting_reply_since = models.DateTimeField(
        _("waiting for a reply since"), null=True, blank=True
    )
    #: The agent who did not answer in time (``tickets.routing.tickets_requeue_unanswered``):
    #: routing does not give the ticket back to them while it waits in the pool.
    routing_skip_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("not routed back to"),
    )
    # Web chat: the customer ended the chat (the ticket stays for the agent to resolve).
    customer_ended_at = models.DateTimeField(_("ended by customer"), null=True, blank=True)
    # The customer's rating after the chat (1-5, one per ticket; a second one replaces it).
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ChannelKind.values), name="ticket_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="ticket_rating_1_to_5",
            ),
            # One conversation per customer and channel account is still going at a time: two
            # messages racing in from a new customer cannot open two tickets.
            models.UniqueConstraint(
                fields=["customer", "channel_account"],
                condition=Q(status__in=[s.value for s in ACTIVE_STATUSES]),
                name="ticket_one_active_per_customer_account",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "assignee", "-updated_at"], name="ticket_status_assignee_upd"
            ),
            models.Index(fields=["-last_message_at", "-id"], name="ticket_recent"),
            models.Index(fields=["assignee", "-last_message_at", "-id"], name="ticket_mine"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            # "Did any ticket change since?" (inbox.selectors.tickets_changed_since): the inbox
            # list's check on its socket's first hello.
            models.Index(fields=["updated_at"], name="ticket_updated"),
            models.Index(
                fields=["priority_rank", "created_at", "id"],
                condition=Q(
                    assignee__isnull=True, status__in=["open", "pending"], is_offline=False
                ),
                name="ticket_pool",
            ),
            models.Index(fields=["source", "-last_message_at"], name="ticket_source_recent"),
            models.Index(
                fields=["assigned_at"],
                condition=Q(assigned_at__isnull=False),
                name="ticket_assigned_at",
            ),
            models.Index(
                fields=["rated_at"], condition=Q(rating__isnull=False), name="ticket_rated"
            ),
            models.Index(
                fields=["awaiting_reply_since"],
                condition=Q(
                    awaiting_reply_since__isnull=False,
                    assignee__isnull=False,
                    status__in=["open", "pending"],
                ),
                name="ticket_awaiting_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer_id}"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", _("From customer")
        OUTBOUND = "out", _("Reply")
        NOTE = "note", _("Internal note")
        SYSTEM = "system", _("System")

    class Delivery(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket")
    )
    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="messages"
    )
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    external_id = models.CharField(_("external id"), max_length=255, null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML (sanitised)"), blank=True)
    sent_at = models.DateTimeField(_("time"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices, blank=True)
    delivery_error = models.TextField(_("delivery error"), blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    #: A sending task's claim lasts until then; past it, the worker is taken for dead.
    delivery_claimed_until = models.DateTimeField(null=True, blank=True)
    #: By when a task of ours should act on this pending reply (its retry's due time, or its
    #: claim's end); ``outbound_sweep`` queues it again when that is overdue. Null: at once.
    delivery_next_at = models.DateTimeField(null=True, blank=True)
    is_automatic = models.BooleanField(
        _("automatic"), default=False, help_text=_("Auto-reply or bounce: opens no ticket.")
    )
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_one_per_account_external_id",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["in", "out", "note", "system"]),
                name="message_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(delivery__in=["", "pending", "sent", "delivered", "read", "failed"]),
                name="message_delivery_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "sent_at", "id"], name="message_thread"),
            models.Index(
                fields=["delivery", "created_at"],
                condition=Q(delivery="pending"),
                name="message_pending_delivery",
            ),
            # Replies a channel took but the customer has not been shown yet (the web chat mails
            # those a visitor who is away asked for: channels_adapters.webchat.aftercare).
            models.Index(
                fields=["channel_account", "sent_at"],
                condition=Q(delivery="sent", direction="out"),
                name="message_sent_unacked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} #{self.pk}"

    def know_no_attachments(self) -> None:
        """Just stored, with no files yet: ``attachments.all()`` answers empty without a query
        (Django's prefetch cache), and ``attachments_known_empty`` says so."""
        self._prefetched_objects_cache = {"attachments": self.attachments.none()}

    @property
    def attachments_known_empty(self) -> bool:
        """True when this instance knows it has no files without asking the database (set
        by ``know_no_attachments``, or prefetched empty)."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        return "attachments" in cache and not cache["attachments"]


class Attachment(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/", blank=True)
    url = models.URLField(_("address"), max_length=2000, blank=True)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=120, blank=True)
    size = models.PositiveBigIntegerField(pgettext_lazy("file", "size"), default=0)
    content_id = models.CharField(_("content id"), max_length=255, blank=True)
    is_inline = models.BooleanField(_("inline"), default=False)
    #: Where the channel keeps a file not fetched yet (a Telegram file id, a WhatsApp media id);
    #: emptied once the file is stored. Fetched after the message is committed, again later
    #: (``fetch_after``) when the provider did not answer, and given up with ``fetch_error``.
    file_ref = models.CharField(_("provider reference"), max_length=500, blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(_("fetch attempts"), default=0)
    fetch_after = models.DateTimeField(_("fetch again after"), null=True, blank=True)
    fetch_error = models.CharField(_("fetch error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [
            # The fetch sweep: files still to fetch, due first.
            models.Index(
                fields=["fetch_after"],
                name="attachment_fetch_due",
                condition=Q(file_ref__gt="", fetch_error=""),
            ),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_fetching(self) -> bool:
        return bool(self.file_ref) and not self.file and not self.fetch_error

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Activity(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="activities", verbose_name=_("ticket")
    )
    call_reason = models.CharField(_("call reason"), max_length=255)
    category = models.ForeignKey(
        ActivityCategory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("category"),
    )
    subcategory = models.ForeignKey(
        ActivityCategory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("subcategory"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    call_started_at = models.DateTimeField(_("call started"), null=True, blank=True)
    call_ended_at = models.DateTimeField(_("call ended"), null=True, blank=True)
    call_seconds = models.PositiveIntegerField(_("call time (s)"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "done"]), name="activity_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["ticket", "status"], name="activity_ticket_status")]

    def __str__(self) -> str:
        return self.call_reason


class TicketEvent(models.Model):
    """The ticket's audit trail: who changed what, when, from which value to which."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        PRIORITY = "priority", _("Priority changed")
        ASSIGNEE = "assignee", _("Agent changed")
        DEPARTMENT = "department", _("Department changed")
        TAG_ADDED = "tag_added", _("Tag added")
        TAG_REMOVED = "tag_removed", _("Tag removed")
        ACTIVITY_ADDED = "activity_added", _("Activity added")
        ACTIVITY_STARTED = "activity_started", _("Call started")
        ACTIVITY_STOPPED = "activity_stopped", _("Call stopped")
        ACTIVITY_DONE = "activity_done", _("Activity done")
        REOPENED = "reopened", _("Reopened")
        FIELD = "field", _("Field changed")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(_("change"), max_length=20, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket history entry")
        verbose_name_plural = _("ticket history")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="ticketevent_ticket_time"),
            # The hourly statistics read one hour's assignments and status changes.
            models.Index(fields=["kind", "created_at"], name="ticketevent_kind_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.ticket_id}"


class PresenceState(models.TextChoices):
    """Where an agent is. Only ``active`` takes new tickets (``AgentPresence.is_active``)."""

    ACTIVE = "active", _("Active")
    PASSIVE = "passive", _("Passive")  # on a break, with a reason
    AWAY = "away", _("Away")  # no agent screen open for a while: not a break
    OFFLINE = "offline", _("Offline")  # signed out


class AgentPresence(models.Model):
    """Whether an agent takes tickets now and, richer, their state (``tickets.presence``).

    ``is_active`` is what routing reads: "takes new tickets now". It is True exactly when
    ``state`` is active; both change together, in one transaction, through
    ``tickets.presence``. Use ``current_state`` to show the state: it also reads rows written
    before ``state`` existed (``is_active`` and a break reason alone).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    is_active = models.BooleanField(_("active"), default=False)
    break_reason = models.ForeignKey(
        BreakReason, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("reason")
    )
    changed_at = models.DateTimeField(_("since"), auto_now=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=PresenceState.choices, default=PresenceState.OFFLINE
    )
    #: When the current state began (``changed_at`` moves with any save).
    state_since = models.DateTimeField(_("since"), null=True, blank=True)
    #: When an agent screen of theirs last said it is open (connect and heartbeat, any process).
    last_seen_at = models.DateTimeField(null=True, blank=True)
    #: The last time away from active: from when they stopped taking tickets until they came
    #: back (None while still away). What arrived meanwhile is their "while you were away".
    absent_from = models.DateTimeField(null=True, blank=True)
    absent_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agent presence")
        verbose_name_plural = _("agent presence")
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=PresenceState.values), name="agentpresence_state_valid"
            )
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def current_state(self) -> str:
        if self.is_active:
            return PresenceState.ACTIVE
        if self.state in (PresenceState.PASSIVE, PresenceState.AWAY):
            return self.state
        return PresenceState.PASSIVE if self.break_reason_id else PresenceState.OFFLINE


class PresenceLog(models.Model):
    """Every presence state an agent was in, from when to when (``ended_at`` None: now).

    Append-only: a change ends the open row (once: ``ended_at`` is only ever set from None)
    and starts the next; at most one open row per agent, by constraint. Reports sum it
    (``tickets.selectors.presence_time``).
    """

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence_log"
    )
    state = models.CharField(_("state"), max_length=10, choices=PresenceState.choices)
    reason = models.ForeignKey(BreakReason, null=True, blank=True, on_delete=models.SET_NULL)
    reason_text = models.CharField(max_length=120, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    #: Who made the change when it was not the agent or the system: a supervisor on the team
    #: screen (``tickets.supervision``).
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("changed by"),
    )

    class Meta:
        verbose_name = _("presence log entry")
        verbose_name_plural = _("presence log")
        indexes = [
            models.Index(fields=["agent", "-started_at"], name="presencelog_agent_recent"),
            models.Index(fields=["started_at"], name="presencelog_started"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"], condition=Q(ended_at__isnull=True), name="presencelog_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="presencelog_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(state__in=PresenceState.values), name="presencelog_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.state} {self.started_at:%Y-%m-%d %H:%M}"


class BreakLog(models.Model):
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="breaks"
    )
    reason = models.ForeignKey(BreakReason, null=True, on_delete=models.SET_NULL)
    reason_text = models.CharField(max_length=120, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("break")
        verbose_name_plural = _("breaks")
        indexes = [models.Index(fields=["agent", "-started_at"], name="breaklog_agent_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"], condition=Q(ended_at__isnull=True), name="breaklog_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.reason_text} {self.started_at:%Y-%m-%d %H:%M}"


class WebhookDelivery(models.Model):
    """The durable outbox of outgoing webhooks: one row per (event, endpoint), written in the
    transaction of the change that caused it and sent after commit (``tickets.webhooks``)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        FAILED = "failed", _("Failed, will retry")
        DELIVERED = "delivered", _("Delivered")
        GAVE_UP = "gave_up", _("Gave up")

    endpoint = models.ForeignKey(
        "configuration.WebhookEndpoint",
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    event_id = models.UUIDField(_("event id"))
    event = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default="pending")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_at = models.DateTimeField(_("next try"), default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(_("last status code"), null=True, blank=True)
    last_answer = models.TextField(_("last answer"), blank=True)
    last_tried_at = models.DateTimeField(_("last tried"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_at"],
                condition=Q(state__in=["pending", "failed", "sending"]),
                name="webhookdelivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhookdelivery_endpoint"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["pending", "sending", "failed", "delivered", "gave_up"]),
                name="webhookdelivery_state_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"
