"""Forms of the agent screens: they parse input; the rules live in tickets.services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from configuration.models import ActivityCategory, ChannelKind
from inbox.selectors import agent_choices
from tickets.models import Priority, TicketStatus


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a reply…")}),
    )
    note = forms.BooleanField(label=_("Internal note (not sent to the customer)"), required=False)


class ActivityForm(forms.Form):
    call_reason = forms.CharField(label=_("Call reason"), max_length=255)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=ActivityCategory.objects.filter(parent__isnull=True, is_active=True),
        required=False,
    )
    subcategory = forms.ModelChoiceField(
        label=_("Subcategory"),
        queryset=ActivityCategory.objects.filter(parent__isnull=False, is_active=True),
        required=False,
    )


class CallForm(forms.Form):
    action = forms.ChoiceField(choices=[("start", _("Start call")), ("stop", _("Stop call"))])


class TicketFilterForm(forms.Form):
    """The filters of the tickets list (GET). Empty means "any"."""

    UNASSIGNED = "none"

    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *TicketStatus.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel")), *ChannelKind.choices], required=False
    )
    assignee = forms.ChoiceField(label=_("Agent"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("", _("Any agent")),
            (self.UNASSIGNED, _("Unassigned")),
            *(
                (str(user.pk), user.get_full_name() or user.get_username())
                for user in agent_choices()
            ),
        ]

    def filters(self) -> dict:
        """Keyword arguments for ``inbox.selectors.ticket_list_page``; bad input filters nothing."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        assignee = data.get("assignee") or ""
        return {
            "status": data.get("status") or "",
            "channel": data.get("channel") or "",
            "unassigned": assignee == self.UNASSIGNED,
            "assignee_id": int(assignee) if assignee.isdigit() else None,
        }
