"""Forms of the ticket screen: they parse input; the rules live in tickets.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import fields_for_model, model_to_dict
from django.utils.translation import gettext_lazy as _

from configuration.models import ActivityCategory, Department
from customers.models import Customer
from inbox.ticket_selectors import assignee_choices
from tickets.models import Priority, TicketStatus


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices)


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)


class DepartmentForm(forms.Form):
    department = forms.ModelChoiceField(
        label=_("Group / department"),
        queryset=Department.objects.filter(is_active=True),
        required=False,
    )


class AssigneeForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("Agent"), queryset=assignee_choices(), required=False)


class TagForm(forms.Form):
    name = forms.CharField(label=_("Tag"), max_length=60)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=10_000,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": _("Write a reply… (Enter sends, Shift+Enter new line)"),
                "data-reply-body": "",
            }
        ),
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


class CustomerForm(forms.Form):
    """The customer's details; integration attributes (flat text values) edit as ``attr:<key>``.

    A plain form (not a ModelForm), so an invalid submission never touches the customer.
    """

    ATTR_PREFIX = "attr:"
    FIELDS = ("name", "gender", "age", "size", "location", "email", "phone")

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any):
        kwargs.setdefault("initial", model_to_dict(customer, fields=self.FIELDS))
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields.update(fields_for_model(Customer, fields=self.FIELDS))
        for key, value in (customer.attributes or {}).items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                self.fields[self.ATTR_PREFIX + key] = forms.CharField(
                    label=key, initial=value, required=False, max_length=500
                )

    def attribute_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith(self.ATTR_PREFIX)]

    def main_fields(self) -> list:
        return [self[name] for name in self.fields if not name.startswith(self.ATTR_PREFIX)]

    def changes(self) -> dict[str, Any]:
        """Keyword arguments for ``customers.services.customer_update``."""
        data = {name: self.cleaned_data[name] for name in self.FIELDS}
        if data["gender"] is None:
            data["gender"] = ""
        attributes = dict(self.customer.attributes or {})
        for name, value in self.cleaned_data.items():
            if name.startswith(self.ATTR_PREFIX):
                attributes[name.removeprefix(self.ATTR_PREFIX)] = value
        data["attributes"] = attributes
        return data
