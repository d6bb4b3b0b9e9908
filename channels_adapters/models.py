from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from configuration.models import ChannelAccount, MailAccount


class InboundEvent(models.Model):
    """Every inbound webhook body or fetched mail, stored raw before anything else happens."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    channel_account = models.ForeignKey(
        ChannelAccount,
        on_delete=models.PROTECT,
        related_name="inbound_events",
        verbose_name=_("channel account"),
    )
    dedupe_key = models.CharField(_("dedupe key"), max_length=255)
    body = models.BinaryField(_("raw body"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "dedupe_key"], name="inboundevent_dedupe"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "processed", "ignored", "failed"]),
                name="inboundevent_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="pending"),
                name="inboundevent_pending",
            ),
            models.Index(fields=["status", "-received_at"], name="inboundevent_status_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_account} {self.dedupe_key}"


class MailboxCursor(models.Model):
    """How far the poller has read one IMAP folder: advanced in the same transaction as the
    InboundEvent rows it produced, so no mail is lost or read twice."""

    mail_account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="cursors")
    folder = models.CharField(max_length=255)
    uidvalidity = models.BigIntegerField()
    last_uid = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mail_account", "folder"], name="mailboxcursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.mail_account_id}/{self.folder} {self.uidvalidity}:{self.last_uid}"


class WebchatVisitor(models.Model):
    """What a support page's visitor asked for by e-mail: replies while away, a transcript.

    Keyed by the visitor id of the signed cookie (``channels_adapters.webchat.visitor``).
    ``away_mailed_through`` is the id of the last agent reply mailed to them (a cursor, moved by
    a conditional update, so two sweeps never mail the same replies);
    ``transcript_sent_at`` rate-limits transcripts.
    """

    channel_account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="webchat_visitors"
    )
    visitor_id = models.CharField(_("visitor"), max_length=64)
    email = models.EmailField(_("e-mail address"), blank=True)
    notify_away = models.BooleanField(_("e-mail replies while away"), default=False)
    language = models.CharField(_("language"), max_length=8, blank=True)
    away_mailed_through = models.BigIntegerField(default=0)
    transcript_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("web chat visitor")
        verbose_name_plural = _("web chat visitors")
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "visitor_id"], name="webchat_visitor_one_per_account"
            )
        ]
        indexes = [
            models.Index(
                fields=["channel_account"], condition=Q(notify_away=True), name="webchat_notify"
            )
        ]

    def __str__(self) -> str:
        return self.visitor_id


class WhatsAppTemplate(models.Model):
    """A message template of a WhatsApp Business Account, as the Graph API last listed it.

    Synced by ``channels_adapters.whatsapp.templates.whatsapp_templates_sync``; only
    ``APPROVED`` ones are offered to agents (after the 24-hour window closed).
    """

    class HeaderFormat(models.TextChoices):
        NONE = "", _("No header")
        TEXT = "TEXT", _("Text")
        IMAGE = "IMAGE", _("Image")
        VIDEO = "VIDEO", _("Video")
        DOCUMENT = "DOCUMENT", _("Document")
        LOCATION = "LOCATION", _("Location")

    channel_account = models.ForeignKey(
        ChannelAccount,
        on_delete=models.CASCADE,
        related_name="whatsapp_templates",
        verbose_name=_("channel account"),
    )
    external_id = models.CharField(_("template id"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=16)
    category = models.CharField(_("category"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=32, blank=True)
    body_text = models.TextField(_("body"), blank=True)
    parameter_count = models.PositiveSmallIntegerField(_("body parameters"), default=0)
    header_format = models.CharField(
        _("header"), max_length=10, choices=HeaderFormat.choices, blank=True, default=""
    )
    header_text = models.CharField(_("header text"), max_length=255, blank=True)
    footer_text = models.CharField(_("footer text"), max_length=255, blank=True)
    components = models.JSONField(_("components"), default=list, blank=True)
    synced_at = models.DateTimeField(_("synced"))

    class Meta:
        verbose_name = _("WhatsApp message template")
        verbose_name_plural = _("WhatsApp message templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "name", "language"],
                name="whatsapptemplate_one_per_language",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def media_header(self) -> bool:
        """A header with an image, a video or a document: the send names its link."""
        return self.header_format in {
            self.HeaderFormat.IMAGE,
            self.HeaderFormat.VIDEO,
            self.HeaderFormat.DOCUMENT,
        }
