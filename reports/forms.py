"""The report pages' query string: a date range and the filters (a GET form, bookmarkable)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from configuration.models import ChannelKind, Department, GroupType, Subject
from reports.selectors import ReportFilters, ReportPeriod, period_make
from tickets.selectors import agent_choices

MAX_DAYS = 400


class ReportForm(forms.Form):
    range = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            ("today", _("Today")),
            ("7d", _("Last 7 days")),
            ("30d", _("Last 30 days")),
            ("custom", _("From - to")),
        ],
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput({"type": "date"}))
    agent: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Agent"), queryset=None, required=False
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.order_by("position", "name"),
        required=False,
    )
    group_type = forms.ModelChoiceField(
        label=_("Group type"),
        queryset=GroupType.objects.order_by("position", "name"),
        required=False,
    )
    subject = forms.ModelChoiceField(
        label=_("Subject"), queryset=Subject.objects.order_by("position", "name"), required=False
    )

    def __init__(self, *args: object, user: AbstractBaseUser | AnonymousUser, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ChoiceField)
        channel.choices = [("", _("All channels")), *ChannelKind.choices]
        agent_field = self.fields["agent"]
        assert isinstance(agent_field, forms.ModelChoiceField)
        if getattr(user, "is_staff", False):
            agent_field.queryset = agent_choices()
            agent_field.empty_label = _("All agents")
        else:
            # An agent sees their own figures only: the choice is theirs alone, and
            # ``report_filters`` forces it whatever the query string says.
            del self.fields["agent"]
        for name in ("department", "group_type", "subject"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.empty_label = _("All")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Give both dates of the period."))
            if abs((end - start).days) >= MAX_DAYS:
                raise forms.ValidationError(
                    _("A period is at most %(days)s days.") % {"days": MAX_DAYS}
                )
        return data

    def report_period(self) -> ReportPeriod:
        """The period asked for (7 days when the form is invalid or empty)."""
        data = self.cleaned_data if self.is_valid() else {}
        today = timezone.localdate()
        choice = data.get("range") or "7d"
        if choice == "custom":
            return period_make(first=data["start"], last=data["end"])
        days = {"today": 1, "7d": 7, "30d": 30}.get(choice, 7)
        return period_make(first=today - timedelta(days=days - 1), last=today)

    def report_filters(self) -> ReportFilters:
        """The filters; a user who is not staff is always filtered to themselves."""
        data = self.cleaned_data if self.is_valid() else {}

        def pk(name: str) -> int | None:
            obj = data.get(name)
            return obj.pk if obj is not None else None

        agent_id = pk("agent")
        if not getattr(self.user, "is_staff", False):
            agent_id = self.user.pk
        return ReportFilters(
            agent_id=agent_id,
            channel=data.get("channel") or "",
            department_id=pk("department"),
            group_type_id=pk("group_type"),
            subject_id=pk("subject"),
        )


def period_label(period: ReportPeriod) -> str:
    if period.first == period.last:
        return period.first.isoformat()
    return f"{period.first.isoformat()} – {period.last.isoformat()}"
