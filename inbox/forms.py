"""Forms of the agent screens: they parse input; the rules live in tickets.services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import Value
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from configuration.models import ChannelKind, Department, GroupType, Subject
from inbox.selectors import TicketFilters
from tickets.models import TicketStatus
from tickets.selectors import agent_choices

#: The most tickets one bulk action may change (each is its own transaction and audit entry).
BULK_LIMIT = 200


class InboxFilterForm(forms.Form):
    """The filters of the inbox (GET). Empty means "any"; a bad value drops only that filter."""

    TABS = (
        ("mine", _("Mine")),
        ("unassigned", _("Unassigned")),
        ("pool", _("Pool")),
        ("offline", _("Offline messages")),
        ("all", _("All")),
    )

    tab = forms.ChoiceField(label=_("Show"), choices=TABS, required=False)
    q = forms.CharField(
        label=_("Search"),
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, phone, e-mail, text or #number"),
                "autocomplete": "off",
            }
        ),
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *TicketStatus.choices], required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel")), *ChannelKind.choices], required=False
    )
    department = forms.TypedChoiceField(
        label=_("Department"), coerce=int, empty_value=None, required=False
    )
    #: What the customer chose on the support page (or an agent set).
    group_type = forms.TypedChoiceField(
        label=_("Group type"), coerce=int, empty_value=None, required=False
    )
    subject = forms.TypedChoiceField(
        label=_("Subject"), coerce=int, empty_value=None, required=False
    )
    #: A tag's name (a number is also tried as a tag's id, as older links have it). A text
    #: field with suggestions fetched as the agent types, not a select of every tag: the list
    #: of tags only grows, and each option would be rendered on every page.
    tag = forms.CharField(
        label=_("Tag"),
        max_length=60,
        required=False,
        widget=forms.TextInput(
            attrs={
                "list": "filter-tag-options",
                "autocomplete": "off",
                "placeholder": _("Any tag"),
                "hx-get": reverse_lazy("tag-options"),
                "hx-trigger": "input changed delay:200ms, focus once",
                "hx-target": "#filter-tag-options",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        ),
    )

    default_tab = "mine"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One query, whatever the number of tickets.
        self.fields["department"].choices = [  # type: ignore[attr-defined]
            ("", _("Any department")),
            *Department.objects.filter(is_active=True).order_by("name").values_list("pk", "name"),
        ]
        # Group types and subjects in one query (a union), in the admin's order.
        group_types, subjects = [("", _("Any group type"))], [("", _("Any subject"))]
        rows = (
            GroupType.objects.filter(is_active=True)
            .order_by()  # no ORDER BY inside a compound statement (SQLite refuses it)
            .values_list("pk", "name", "position", Value("g"))
            .union(
                Subject.objects.filter(is_active=True)
                .order_by()
                .values_list("pk", "name", "position", Value("s")),
                all=True,
            )
            .order_by("position", "name")
        )
        for pk, name, _position, kind in rows:
            (group_types if kind == "g" else subjects).append((pk, name))
        self.fields["group_type"].choices = group_types  # type: ignore[attr-defined]
        self.fields["subject"].choices = subjects  # type: ignore[attr-defined]

    def _clean_each(self) -> dict:
        """Each field cleaned on its own, so one bad value drops only that filter."""
        if not hasattr(self, "_each"):
            self._each = {}
            for name, field in self.fields.items():
                raw = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
                try:
                    self._each[name] = field.clean(raw)
                except forms.ValidationError:
                    continue
        return self._each

    @property
    def current_tab(self) -> str:
        return self._clean_each().get("tab") or self.default_tab

    def _extra(self, data: dict) -> dict:
        return {}

    def filters(self) -> TicketFilters:
        """The ``inbox.selectors.TicketFilters`` these parameters ask for."""
        data = self._clean_each()
        return TicketFilters(
            tab=data.get("tab") or self.default_tab,
            status=data.get("status") or "",
            channel=data.get("channel") or "",
            department_id=data.get("department"),
            group_type_id=data.get("group_type"),
            subject_id=data.get("subject"),
            tag=" ".join((data.get("tag") or "").split()),
            query=(data.get("q") or "").strip(),
            **self._extra(data),
        )


class TicketFilterForm(InboxFilterForm):
    """The tickets list: the inbox filters (no tabs) plus agent and sort order."""

    UNASSIGNED = "none"
    SORTS = (
        ("recent", _("Last message")),
        ("created", _("Newest first")),
        ("priority", _("Priority")),
    )

    assignee = forms.ChoiceField(label=_("Agent"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORTS, required=False)
    #: Messages > Tickets after a break or an absence: what customers wrote meanwhile.
    missed = forms.ChoiceField(
        label=_("Arrived"),
        choices=(("", _("Any time")), ("1", _("While I was away"))),
        required=False,
    )

    default_tab = "all"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["tab"]
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", _("Any agent")),
            (self.UNASSIGNED, _("Unassigned")),
            *((str(user.pk), _user_name(user)) for user in agent_choices()),
        ]

    @property
    def current_sort(self) -> str:
        return self._clean_each().get("sort") or "recent"

    def _extra(self, data: dict) -> dict:
        assignee = data.get("assignee") or ""
        return {
            "unassigned": assignee == self.UNASSIGNED,
            "assignee_id": int(assignee) if assignee.isdigit() else None,
            "missed": data.get("missed") == "1",
        }


def _user_name(user) -> str:
    return user.get_full_name() or user.get_username()


class BulkActionForm(forms.Form):
    """A change to many tickets of the tickets list at once."""

    ACTIONS = (("status", _("Set status")), ("assign", _("Assign to")), ("tag", _("Add tag")))

    ids = forms.TypedMultipleChoiceField(label=_("Tickets"), coerce=int)
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    status = forms.ChoiceField(label=_("Status"), choices=TicketStatus.choices, required=False)
    assignee = forms.ModelChoiceField(
        label=_("Agent"), queryset=agent_choices(), required=False, empty_label=_("Nobody")
    )
    tag = forms.CharField(label=_("Tag"), max_length=60, required=False)
    #: A staff user confirmed assigning over the routing rules (``inbox/bulk_override.html``).
    override = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = [(value, value) for value in self.data.getlist("ids")]  # type: ignore[attr-defined]

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if len(ids) > BULK_LIMIT:
            raise forms.ValidationError(
                _("Choose at most %(limit)s tickets at once.") % {"limit": BULK_LIMIT}
            )
        return ids

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        action = data.get("action")
        if action == "status" and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if action == "tag" and not (data.get("tag") or "").strip():
            self.add_error("tag", _("Write the tag to add."))
        return data

    def changes(self) -> dict:
        """Keyword arguments for ``inbox.services.tickets_bulk_update``."""
        data = self.cleaned_data
        action = data["action"]
        if action == "status":
            return {"status": data["status"]}
        if action == "assign":
            return {"assign": True, "assignee": data["assignee"], "override": data["override"]}
        return {"tag": data["tag"]}
