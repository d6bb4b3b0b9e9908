from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from configuration.canned import validate_canned_text
from omnico.core.crypto import EncryptedTextField
from omnico.core.origins import origin_parse


class NamedTemplate(models.Model):
    """Admin-edited list entries the seeds call templates (subjects, break reasons...)."""

    name = models.CharField(_("description"), max_length=120)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        abstract = True
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Subject(NamedTemplate):
    """Konu: what the customer picks before chatting (donation, billing information...)."""

    department = models.ForeignKey(
        "Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("department"),
        help_text=_(
            "New tickets on this subject go to this department's agents (it wins over the "
            "group type's department)."
        ),
    )

    class Meta(NamedTemplate.Meta):
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")
        constraints = [models.UniqueConstraint(Lower("name"), name="subject_name_unique_ci")]


class BreakReason(NamedTemplate):
    """Mola nedeni: why an agent goes from active to passive."""

    max_minutes = models.PositiveIntegerField(
        _("allowed length (minutes)"),
        null=True,
        blank=True,
        help_text=_("A break for this reason that runs longer is highlighted. Empty: no limit."),
    )

    class Meta(NamedTemplate.Meta):
        verbose_name = _("break reason")
        verbose_name_plural = _("break reasons")
        constraints = [models.UniqueConstraint(Lower("name"), name="breakreason_name_unique_ci")]


class GroupType(NamedTemplate):
    """Grup tipi: the customer category picked on the support page (e.g. Allianz)."""

    department = models.ForeignKey(
        "Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("department"),
        help_text=_("New tickets of this group type go to this department's agents."),
    )

    class Meta(NamedTemplate.Meta):
        verbose_name = _("group type")
        verbose_name_plural = _("group types")
        constraints = [models.UniqueConstraint(Lower("name"), name="grouptype_name_unique_ci")]


class Department(NamedTemplate):
    """A skill: its tickets go to the agents who belong to it (``tickets.routing``)."""

    overflow_after_minutes = models.PositiveIntegerField(
        _("overflow after (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "After a ticket of this department has waited this long in the pool, any active "
            "agent may take it. Blank: only this department's agents."
        ),
    )

    class Meta(NamedTemplate.Meta):
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [models.UniqueConstraint(Lower("name"), name="department_name_unique_ci")]


class ActivityCategory(NamedTemplate):
    """Category of an activity-based action; a category with a parent is a subcategory."""

    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subcategories",
    )

    class Meta(NamedTemplate.Meta):
        verbose_name = _("activity category")
        verbose_name_plural = _("activity categories")
        constraints = [
            models.UniqueConstraint(
                "parent", Lower("name"), name="activitycategory_name_unique_in_parent"
            ),
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(parent__isnull=True),
                name="activitycategory_top_name_unique",
            ),
        ]

    def __str__(self) -> str:
        if self.parent_id:
            return f"{self.parent} › {self.name}"
        return self.name


class OperatorProfile(models.Model):
    """Per-agent settings an admin controls: how many tickets the agent works at once."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="operator_profile",
        verbose_name=_("agent"),
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=5,
        help_text=_("How many open or pending tickets this agent works at once."),
    )
    departments = models.ManyToManyField(
        Department,
        blank=True,
        related_name="agents",
        verbose_name=_("departments"),
        help_text=_(
            "The departments whose tickets this agent takes. Tickets without a department go "
            "to every agent."
        ),
    )

    class Meta:
        verbose_name = _("operator capacity")
        verbose_name_plural = _("operator capacities")
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__lte=1000), name="operatorprofile_capacity_max"
            )
        ]

    def __str__(self) -> str:
        return str(self.user)


class RoutingSettings(models.Model):
    """Routing rules an admin tunes (one row: ``RoutingSettings.load()``)."""

    recontact_minutes = models.PositiveIntegerField(
        _("recontact window (minutes)"),
        default=120,
        help_text=_(
            "A customer who writes again within this time after their ticket was resolved goes "
            "to the same agent, when that agent is active with a free slot. 0: off."
        ),
    )
    no_reply_minutes_urgent = models.PositiveIntegerField(
        _("no reply in time: urgent (minutes)"), null=True, blank=True
    )
    no_reply_minutes_high = models.PositiveIntegerField(
        _("no reply in time: high (minutes)"), null=True, blank=True
    )
    no_reply_minutes_medium = models.PositiveIntegerField(
        _("no reply in time: medium (minutes)"), null=True, blank=True
    )
    no_reply_minutes_low = models.PositiveIntegerField(
        _("no reply in time: low (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "When the assigned agent has not answered a waiting customer within this time, the "
            "ticket goes back to the pool (or to the next free agent). Blank: off."
        ),
    )

    class Meta:
        verbose_name = _("routing settings")
        verbose_name_plural = _("routing settings")

    def __str__(self) -> str:
        return str(_("Routing settings"))

    @classmethod
    def load(cls) -> RoutingSettings:
        """The one row (its defaults when an admin never saved it; nothing is written)."""
        return cls.objects.order_by("pk").first() or cls()

    def no_reply_minutes(self) -> dict[str, int]:
        """``{priority: minutes}`` for the priorities with a limit."""
        found = {
            "urgent": self.no_reply_minutes_urgent,
            "high": self.no_reply_minutes_high,
            "medium": self.no_reply_minutes_medium,
            "low": self.no_reply_minutes_low,
        }
        return {priority: minutes for priority, minutes in found.items() if minutes}


class BusinessHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(
        _("closes at"),
        help_text=_(
            "In the configured time zone. Must be after the opening time: hours past midnight "
            "are a second row on the next weekday; 23:59 means open until midnight. With no "
            "business hours at all the support page is always open."
        ),
    )

    class Meta:
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")
        ordering = ["weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")),
                name="businesshours_opens_before_closes",
                violation_error_message=_("Opening time must be before closing time."),
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="businesshours_weekday_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class Holiday(models.Model):
    """A day the support page is offline all day (whatever the business hours say)."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class ChannelKind(models.TextChoices):
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Facebook Messenger")
    API = "api", _("API channel")
    EMAIL = "email", _("E-mail")
    WEBCHAT = "webchat", _("Web chat")


class ChannelAccount(models.Model):
    """Credentials of one account on one channel. Several accounts per kind are allowed.

    ``token`` is what we send with (bot token, Graph API access token); ``secret`` is what
    inbound webhooks are verified with (Telegram secret token, Meta app secret, API signing key);
    ``verify_token`` answers Meta's subscription handshake. All three are encrypted at rest.
    """

    kind = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    name = models.SlugField(
        _("name"),
        max_length=60,
        help_text=_("A short name: letters, digits, hyphens and underscores."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    display_name = models.CharField(_("display name"), max_length=120, blank=True)
    token = EncryptedTextField(_("access token"), blank=True)
    secret = EncryptedTextField(_("webhook secret"), blank=True)
    verify_token = EncryptedTextField(_("verify token"), blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=120,
        blank=True,
        help_text=_("Phone number id (WhatsApp) or page id (Messenger)."),
    )
    base_url = models.URLField(
        _("API base URL"), blank=True, help_text=_("Leave empty for the provider's own address.")
    )
    callback_url = models.URLField(
        _("callback URL"), blank=True, help_text=_("API channel: where replies are POSTed.")
    )
    waba_id = models.CharField(
        _("WhatsApp Business Account id"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("WhatsApp: the WABA id whose approved message templates are synced."),
    )
    human_agent_tag = models.BooleanField(
        _("may use the HUMAN_AGENT tag"),
        default=False,
        help_text=_(
            "Messenger: the page is approved for the Human Agent tag, so agents may answer "
            "up to 7 days after the customer's last message."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="channelaccount_kind_name"),
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values), name="channelaccount_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.display_name or self.name}"


class MailAccount(ChannelAccount):
    """The e-mail channel: a mailbox read over IMAP and written through SMTP."""

    class Security(models.TextChoices):
        NONE = "none", _("None")
        SSL = "ssl", _("SSL/TLS")
        STARTTLS = "starttls", _("STARTTLS")

    email_address = models.EmailField(_("e-mail address"))
    username = models.CharField(
        _("username"), max_length=254, blank=True, help_text=_("Empty: the e-mail address.")
    )
    password = EncryptedTextField(_("mail password"), blank=True)
    imap_host = models.CharField(_("IMAP URL"), max_length=255)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"), max_length=8, choices=Security.choices, default=Security.SSL
    )
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    smtp_host = models.CharField(_("SMTP URL"), max_length=255)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_security = models.CharField(
        _("SMTP security"), max_length=8, choices=Security.choices, default=Security.STARTTLS
    )

    class Meta:
        verbose_name = _("mail account")
        verbose_name_plural = _("mail accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(imap_port__gte=1, imap_port__lte=65535), name="mail_imap_port_valid"
            ),
            models.CheckConstraint(
                condition=Q(smtp_port__gte=1, smtp_port__lte=65535), name="mail_smtp_port_valid"
            ),
        ]

    def save(self, *args, **kwargs):
        self.kind = ChannelKind.EMAIL
        super().save(*args, **kwargs)

    @property
    def login(self) -> str:
        return self.username or self.email_address


def embed_origins_parse(text: str) -> list[str]:
    """The origins of a support page's "allowed embedding origins" (one a line, blank lines
    ignored), as ``scheme://host[:port]``, lower case; ValidationError names a bad line."""
    origins: list[str] = []
    for line in (text or "").splitlines():
        origin = line.strip().rstrip("/").lower()
        if not origin:
            continue
        parsed = origin_parse(origin)
        scheme, _sep, rest = origin.partition("://")
        if parsed is None or not rest or any(c in rest for c in "/?#@ *"):
            raise ValidationError(
                _(
                    "“%(origin)s” is not an origin such as https://www.example.com or "
                    "http://localhost:8080 (scheme, host and port only)."
                ),
                params={"origin": line.strip()},
                code="origin",
            )
        if origin not in origins:
            origins.append(origin)
    return origins


def _validate_embed_origins(text: str) -> None:
    embed_origins_parse(text)


class SupportPage(models.Model):
    """How one web-chat account's public support page (``/support/<name>/``) looks."""

    channel_account = models.OneToOneField(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="support_page",
        limit_choices_to={"kind": ChannelKind.WEBCHAT},
        verbose_name=_("web chat account"),
    )
    company_name = models.CharField(_("company name"), max_length=120)
    logo = models.FileField(
        _("logo"),
        upload_to="support/",
        blank=True,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "gif", "webp"])],
        help_text=_("A PNG, JPEG, GIF or WebP image, shown at the top of the page."),
    )
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#2f855a",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour such as #2f855a."))],
        help_text=_("The page's main colour, e.g. #2f855a."),
    )
    welcome_text = models.TextField(
        _("welcome text"), blank=True, help_text=_("Shown above the first step.")
    )
    is_default = models.BooleanField(
        _("default page"),
        default=False,
        help_text=_("The page shown at /support/ (without an account name)."),
    )
    embed_origins = models.TextField(
        _("allowed embedding origins"),
        blank=True,
        default="",
        validators=[_validate_embed_origins],
        help_text=_(
            "The sites that may show this page in a frame (the embed snippet), one origin a "
            "line, e.g. https://www.example.com. Empty: no other site may frame it."
        ),
    )
    offline_when_no_agent = models.BooleanField(
        _("treat as offline when no agent is active"),
        default=False,
        help_text=_(
            "When on, the page shows the offline form while no agent is active, even within "
            "business hours."
        ),
    )
    max_wait_minutes = models.PositiveIntegerField(
        _("maximum wait (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "After a visitor has waited this long in the pool, the page offers the offline "
            "form instead. Blank: no maximum."
        ),
    )

    class Meta:
        verbose_name = _("support page")
        verbose_name_plural = _("support pages")
        constraints = [
            models.CheckConstraint(
                condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="supportpage_colour_hex"
            ),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="supportpage_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.company_name

    @property
    def embed_origin_list(self) -> list[str]:
        """The allowed embedding origins (a stored value that no longer parses: none)."""
        try:
            return embed_origins_parse(self.embed_origins)
        except ValidationError:
            return []


class CannedResponse(models.Model):
    """A ready answer the agent inserts in the composer by typing ``/`` and its shortcut.

    Shared answers (no owner) are the administrator's, in the admin's order; an agent's own
    (owner set) are theirs alone. ``usage_count`` counts the replies sent with it (not mere
    insertions), for reports; it only grows, by an atomic ``F() + 1``.
    """

    class Language(models.TextChoices):
        ANY = "any", _("Any language")
        TURKISH = "tr", _("Turkish")
        ENGLISH = "en", _("English")

    title = models.CharField(_("title"), max_length=120)
    shortcut = models.SlugField(
        _("shortcut"),
        max_length=40,
        allow_unicode=True,
        help_text=_(
            "Typed after / in the reply box, e.g. refund for /refund: letters, numbers, - and _."
        ),
    )
    text = models.TextField(
        _("text"),
        max_length=10_000,
        validators=[validate_canned_text],
        help_text=_(
            "The answer as the customer reads it. Variables are filled in for the ticket when "
            "it is inserted; write each between double braces: {{ customer_name }} (the "
            "customer's name), {{ agent_name }} (the agent's name), {{ ticket_number }} (the "
            "ticket's number). Any other {{ … }} is refused."
        ),
    )
    language = models.CharField(
        _("language"), max_length=3, choices=Language.choices, default=Language.ANY
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        verbose_name=_("owner"),
        help_text=_("Empty: shared with every agent."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    usage_count = models.PositiveIntegerField(_("times sent"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["position", "title", "pk"]
        constraints = [
            models.UniqueConstraint(
                Lower("shortcut"),
                condition=Q(owner__isnull=True),
                name="canned_shared_shortcut_unique_ci",
            ),
            models.UniqueConstraint(
                "owner",
                Lower("shortcut"),
                condition=Q(owner__isnull=False),
                name="canned_own_shortcut_unique_ci",
            ),
            models.CheckConstraint(
                condition=Q(language__in=["any", "tr", "en"]), name="canned_language_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class WebhookEvent(models.TextChoices):
    """What an outgoing webhook may subscribe to (``tickets.webhooks`` sends them)."""

    TICKET_CREATED = "ticket.created", _("Ticket created")
    TICKET_ASSIGNED = "ticket.assigned", _("Ticket assigned")
    TICKET_STATUS_CHANGED = "ticket.status_changed", _("Ticket status changed")
    TICKET_RESOLVED = "ticket.resolved", _("Ticket resolved")
    MESSAGE_RECEIVED = "message.received", _("Message received")
    RATING_GIVEN = "rating.given", _("Rating given")


class WebhookEndpoint(models.Model):
    """A URL of the company's own systems that Omnico POSTs signed events to.

    The secret (HMAC-SHA256 key) is generated on creation, shown once, encrypted at rest and
    rotatable (``configuration.webhooks``); deliveries live in ``tickets.WebhookDelivery``."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list, blank=True)
    secret = EncryptedTextField(_("signing secret"), blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from configuration.webhooks import webhook_url_validate

        super().clean()
        unknown = [event for event in self.events or [] if event not in WebhookEvent.values]
        if unknown:
            raise ValidationError({"events": _("Unknown event: %s") % ", ".join(unknown)})
        if self.url:
            webhook_url_validate(self.url)


# --- REST API tokens and audit ----------------------------------------------------------------


class ApiScope(models.TextChoices):
    """What an API token may do; each endpoint names the scope it needs."""

    CUSTOMERS_READ = "customers:read", _("Read customers")
    CUSTOMERS_WRITE = "customers:write", _("Change and merge customers")
    CARTS_WRITE = "carts:write", _("Push carts and orders")
    TICKETS_READ = "tickets:read", _("Read tickets and messages")
    TICKETS_WRITE = "tickets:write", _("Create tickets, reply, change tickets")


class ApiToken(models.Model):
    """One integration's key to ``/api/v1/``. Only a SHA-256 of the token is stored; the token
    itself is shown once, when an admin creates it (``configuration.api_tokens``)."""

    name = models.CharField(_("name"), max_length=120)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    #: The first characters of the token, shown in lists and used to find the row.
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    #: The agent the token's replies, notes and changes are made as (none: read-only for those).
    acts_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("acts as agent"),
        help_text=_("Replies, notes and ticket changes made with this token are this agent's."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or ())


class ApiAuditLog(models.Model):
    """One write made through the API: which token, what request, on what, with what answer."""

    token = models.ForeignKey(
        ApiToken, on_delete=models.PROTECT, related_name="audit", verbose_name=_("API token")
    )
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    object_type = models.CharField(_("object type"), max_length=40, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(_("status code"))
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("API audit entry")
        verbose_name_plural = _("API audit log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"
