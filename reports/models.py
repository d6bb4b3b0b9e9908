"""Hourly statistics: one snapshot per clock hour, the source of every report and the homepage card.

An hour is stored by its start in UTC (``hour``), so a daylight-saving change that shortens or
lengthens a local day changes only how many hours the day spans, never an hour's rows. Each table
holds additive figures (counts, second sums, maxima) and histograms (``reports.histogram``), so a
report over any range and any filter is a sum of rows: medians and p90 are read from summed
histograms, never averaged from hourly medians.

Rows are written only by ``reports.services.stats_hour_compute``, which replaces an hour's rows in
one transaction (idempotent); ``StatsHour`` records which hours are done and when.

Dimensions: ticket figures are cut by agent, channel kind, department, group type and subject all at
once (one row per combination that had something in the hour), so filters combine freely. ``agent``
is the agent the figure belongs to (who was assigned, who answered, who resolved); null means
"no agent" (the pool, the customer, the system).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from configuration.models import ActivityCategory, BreakReason, Department, GroupType, Subject


class StatsHour(models.Model):
    """One computed hour: its start (UTC), when it was last computed and how long that took."""

    hour = models.DateTimeField(_("hour"), unique=True)
    computed_at = models.DateTimeField(_("computed"))
    took_ms = models.PositiveIntegerField(_("took (ms)"), default=0)

    class Meta:
        verbose_name = _("computed hour")
        verbose_name_plural = _("computed hours")
        ordering = ["-hour"]

    def __str__(self) -> str:
        return self.hour.isoformat()


class TicketDims(models.Model):
    """The five dimensions every ticket-derived figure is cut by."""

    hour = models.DateTimeField(_("hour"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("department"),
    )
    group_type = models.ForeignKey(
        GroupType,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("group type"),
    )
    subject = models.ForeignKey(
        Subject,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("subject"),
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.hour.isoformat()} agent={self.agent_id} {self.channel}"


class HourlyTicketStat(TicketDims):
    """Ticket and message figures of one hour for one combination of the five dimensions.

    Histograms (JSON, ``reports.histogram``) hold durations in seconds; ``*_count`` and
    ``*_seconds`` (sum) beside them give the mean without reading the histogram.
    """

    created = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)
    offline_messages = models.PositiveIntegerField(default=0)

    first_response_count = models.PositiveIntegerField(default=0)
    first_response_seconds = models.BigIntegerField(default=0)
    first_response_hist = models.JSONField(default=dict)

    resolution_count = models.PositiveIntegerField(default=0)
    resolution_seconds = models.BigIntegerField(default=0)
    resolution_hist = models.JSONField(default=dict)

    pool_wait_count = models.PositiveIntegerField(default=0)
    pool_wait_seconds = models.BigIntegerField(default=0)
    pool_wait_max = models.PositiveIntegerField(default=0)
    pool_wait_hist = models.JSONField(default=dict)

    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rating_hist = models.JSONField(default=dict)  # {"1": n, ..., "5": n}

    class Meta:
        verbose_name = _("hourly ticket figures")
        verbose_name_plural = _("hourly ticket figures")
        indexes = [
            models.Index(fields=["hour"], name="hts_hour"),
            models.Index(fields=["agent", "hour"], name="hts_agent_hour"),
        ]


class HourlyActivityStat(TicketDims):
    """Activities done in one hour by category and subcategory, with their call time."""

    category = models.ForeignKey(
        ActivityCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("category"),
    )
    subcategory = models.ForeignKey(
        ActivityCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("subcategory"),
    )
    count = models.PositiveIntegerField(default=0)
    call_seconds = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("hourly activity figures")
        verbose_name_plural = _("hourly activity figures")
        indexes = [
            models.Index(fields=["hour"], name="has_hour"),
            models.Index(fields=["agent", "hour"], name="has_agent_hour"),
        ]


class HourlyAgentStat(models.Model):
    """One agent's hour: seconds in each presence state and the slots used against capacity.

    Utilisation = ``slot_seconds / capacity_seconds``: ``slot_seconds`` sums, over the hour, the
    seconds each of the agent's tickets was assigned to them (capped at capacity at any moment);
    ``capacity_seconds`` is capacity x seconds the agent was active.
    """

    hour = models.DateTimeField(_("hour"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("agent"),
    )
    active_seconds = models.PositiveIntegerField(default=0)
    passive_seconds = models.PositiveIntegerField(default=0)
    away_seconds = models.PositiveIntegerField(default=0)
    slot_seconds = models.BigIntegerField(default=0)
    capacity_seconds = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("hourly agent figures")
        verbose_name_plural = _("hourly agent figures")
        constraints = [
            models.UniqueConstraint(fields=["hour", "agent"], name="has_agent_hour_unique"),
        ]
        indexes = [models.Index(fields=["agent", "hour"], name="hags_agent_hour")]

    def __str__(self) -> str:
        return f"{self.hour.isoformat()} agent={self.agent_id}"


class HourlyBreakStat(models.Model):
    """Break time of one agent in one hour for one reason; a break spanning hours is split."""

    hour = models.DateTimeField(_("hour"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("agent"),
    )
    reason = models.ForeignKey(
        BreakReason,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reason"),
    )
    reason_text = models.CharField(_("reason"), max_length=120, blank=True)
    seconds = models.PositiveIntegerField(default=0)
    started = models.PositiveIntegerField(default=0)  # breaks that began in this hour
    over_limit = models.PositiveIntegerField(default=0)  # of those, breaks that ran over

    class Meta:
        verbose_name = _("hourly break figures")
        verbose_name_plural = _("hourly break figures")
        indexes = [
            models.Index(fields=["hour"], name="hbs_hour"),
            models.Index(fields=["agent", "hour"], name="hbs_agent_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.hour.isoformat()} agent={self.agent_id} {self.reason_text}"
