"""Admin for what an administrator configures: templates, categories, hours, channels, capacity.

Success messages read as the handbook describes them ("Update successful", "Delete
successful"); secrets are write-only (see ``configuration.forms``); operator capacity is
edited in ``tickets.admin``, next to routing, which refills freed slots when it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from configuration.api_tokens import api_token_issue, api_token_revoke, api_token_scopes_clean
from configuration.forms import (
    CannedResponseForm,
    ChannelAccountForm,
    MailAccountForm,
    clear_field_name,
)
from configuration.models import (
    ActivityCategory,
    ApiAuditLog,
    ApiScope,
    ApiToken,
    BreakReason,
    BusinessHours,
    CannedResponse,
    ChannelAccount,
    ChannelKind,
    Department,
    GroupType,
    Holiday,
    MailAccount,
    RoutingSettings,
    Subject,
    SupportPage,
)
from configuration.services import canned_response_save
from omnico.core.admin_labels import TableInputsLabelledMixin

_PENDING_MESSAGE = "_omnico_success_message"

if TYPE_CHECKING:  # the mixin is always mixed into a ModelAdmin
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class SuccessMessagesMixin(_ModelAdminBase):
    """Replaces Django's add/change/delete confirmations with the product's wording."""

    def _with_message(self, request, text: str):
        setattr(request, _PENDING_MESSAGE, text)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        pending = getattr(request, _PENDING_MESSAGE, None)
        if pending is not None and level == messages.SUCCESS:
            delattr(request, _PENDING_MESSAGE)
            message = pending
        return super().message_user(request, message, level, *args, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        self._with_message(
            request,
            _("%(name)s “%(obj)s” added.") % {"name": capfirst(obj._meta.verbose_name), "obj": obj},
        )
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_saveasnew" not in request.POST:
            self._with_message(
                request,
                _("Update successful: %(name)s “%(obj)s”.")
                % {"name": obj._meta.verbose_name, "obj": obj},
            )
        return super().response_change(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        self._with_message(
            request,
            _("Delete successful: %(name)s “%(obj)s”.")
            % {"name": self.opts.verbose_name, "obj": obj_display},
        )
        return super().response_delete(request, obj_display, obj_id)


class NamedTemplateAdmin(TableInputsLabelledMixin, SuccessMessagesMixin, admin.ModelAdmin):
    list_display: tuple[str, ...] = ("name", "is_active", "position")
    list_editable: ClassVar[tuple[str, ...]] = ("is_active", "position")
    list_filter: ClassVar[tuple[str, ...]] = ("is_active",)
    search_fields = ("name",)
    fields: ClassVar[tuple[str, ...]] = ("name", "is_active", "position")


class RoutedTemplateAdmin(NamedTemplateAdmin):
    """A subject or group type: a template that may send its tickets to a department."""

    list_display = ("name", "department", "is_active", "position")
    list_select_related = ("department",)
    list_filter = ("is_active", "department")
    fields = ("name", "department", "is_active", "position")


@admin.register(Subject)
class SubjectAdmin(RoutedTemplateAdmin):
    pass


@admin.register(BreakReason)
class BreakReasonAdmin(NamedTemplateAdmin):
    list_display = ("name", "max_minutes", "is_active", "position")
    list_editable = ("max_minutes", "is_active", "position")
    fields = ("name", "max_minutes", "is_active", "position")


@admin.register(GroupType)
class GroupTypeAdmin(RoutedTemplateAdmin):
    pass


@admin.register(Department)
class DepartmentAdmin(NamedTemplateAdmin):
    list_display = ("name", "overflow_after_minutes", "is_active", "position")
    list_editable = ("overflow_after_minutes", "is_active", "position")
    fields = ("name", "overflow_after_minutes", "is_active", "position")


@admin.register(RoutingSettings)
class RoutingSettingsAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    """One row: the recontact window and the no-reply limits per priority."""

    fieldsets = [
        (None, {"fields": ("recontact_minutes",)}),
        (
            gettext_lazy("No reply in time"),
            {
                "fields": (
                    "no_reply_minutes_urgent",
                    "no_reply_minutes_high",
                    "no_reply_minutes_medium",
                    "no_reply_minutes_low",
                )
            },
        ),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not RoutingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


# --- activity categories --------------------------------------------------------------------


class CategoryLevelFilter(admin.SimpleListFilter):
    title = gettext_lazy("level")
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("top", gettext_lazy("Main categories")), ("sub", gettext_lazy("Subcategories"))]

    def queryset(self, request, queryset):
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class SubcategoryInline(TableInputsLabelledMixin, admin.TabularInline):
    model = ActivityCategory
    fk_name = "parent"
    fields = ("name", "is_active", "position")
    extra = 1
    verbose_name = gettext_lazy("subcategory")
    verbose_name_plural = gettext_lazy("subcategories")


@admin.register(ActivityCategory)
class ActivityCategoryAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("name", "parent", "is_active", "position")
    list_filter = (CategoryLevelFilter, "is_active")
    list_select_related = ("parent",)
    search_fields = ("name", "parent__name")
    fields = ("parent", "name", "is_active", "position")
    inlines = [SubcategoryInline]

    def get_inlines(self, request, obj):
        # Two levels only: a subcategory has no subcategories of its own.
        if obj is not None and obj.parent_id is not None:
            return []
        return super().get_inlines(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = ActivityCategory.objects.filter(parent__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- business hours -------------------------------------------------------------------------


@admin.register(BusinessHours)
class BusinessHoursAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("weekday", "opens_at", "closes_at")
    list_filter = ("weekday",)
    ordering = ("weekday", "opens_at")


@admin.register(Holiday)
class HolidayAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"


# --- channel accounts -----------------------------------------------------------------------


def _secret_fieldset(*names: str) -> tuple[str, ...]:
    return tuple(part for name in names for part in (name, clear_field_name(name)))


@admin.register(ChannelAccount)
class ChannelAccountAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    form = ChannelAccountForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "kind", "display_name", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "display_name", "external_id")
    fieldsets = [
        (None, {"fields": ("kind", "name", "display_name", "enabled")}),
        (
            gettext_lazy("Credentials"),
            {"fields": _secret_fieldset(*ChannelAccountForm.secret_fields)},
        ),
        (gettext_lazy("Provider"), {"fields": ("external_id", "base_url", "callback_url")}),
        (
            gettext_lazy("Messaging window (WhatsApp, Messenger)"),
            {"fields": ("waba_id", "human_agent_tag")},
        ),
    ]

    def get_queryset(self, request):
        # E-mail accounts are edited on their own page, with their IMAP/SMTP settings.
        return super().get_queryset(request).exclude(kind=ChannelKind.EMAIL)


@admin.register(MailAccount)
class MailAccountAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    form = MailAccountForm
    list_display = ("name", "email_address", "imap_host", "smtp_host", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "display_name", "email_address", "imap_host", "smtp_host")
    fieldsets = [
        (None, {"fields": ("name", "display_name", "enabled")}),
        (
            gettext_lazy("Mailbox"),
            {"fields": ("email_address", "username", *_secret_fieldset("password"))},
        ),
        (
            gettext_lazy("Incoming mail (IMAP)"),
            {"fields": ("imap_host", "imap_port", "imap_security", "imap_folder")},
        ),
        (
            gettext_lazy("Outgoing mail (SMTP)"),
            {"fields": ("smtp_host", "smtp_port", "smtp_security")},
        ),
    ]


@admin.register(SupportPage)
class SupportPageAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("company_name", "channel_account", "is_default")
    fields = (
        "channel_account",
        "company_name",
        "logo",
        "colour",
        "welcome_text",
        "is_default",
        "embed_origins",
        "embed_snippet",
        "offline_when_no_agent",
        "max_wait_minutes",
    )
    readonly_fields = ("embed_snippet",)

    def get_object(self, request, object_id, from_field=None):
        page = super().get_object(request, object_id, from_field)
        if page is not None:  # the snippet names the site as customers reach it
            page._public_url = settings.OMNICO_PUBLIC_URL or request.build_absolute_uri("/")[:-1]
        return page

    @admin.display(description=gettext_lazy("embed snippet"))
    def embed_snippet(self, page: SupportPage) -> str:
        """The one tag to copy onto the company's own site (its origin must be listed in
        "allowed embedding origins")."""
        if page is None or page.pk is None:
            return _("Save the page first: its snippet is shown here then.")
        base = getattr(page, "_public_url", settings.OMNICO_PUBLIC_URL)
        src = base + reverse("support:embed", args=[page.channel_account.name])
        return format_html(
            '<code class="embed-snippet">&lt;script src="{}" async&gt;&lt;/script&gt;</code>'
            '<div class="help">{}</div>',
            src,
            _(
                "Put this tag on every page of your site that should show the chat button, "
                "and list the site's origin above."
            ),
        )


# --- canned responses -----------------------------------------------------------------------


@admin.register(CannedResponse)
class CannedResponseAdmin(TableInputsLabelledMixin, SuccessMessagesMixin, admin.ModelAdmin):
    """The shared answers (every agent's), in the order agents see them; each agent's own are
    on their page in the agent screen, not here."""

    form = CannedResponseForm
    list_display = ("title", "shortcut", "language", "is_active", "position", "usage_count")
    list_editable = ("is_active", "position")
    list_filter = ("language", "is_active")
    search_fields = ("title", "shortcut", "text")
    fields = ("title", "shortcut", "text", "language", "is_active", "position", "usage_count")
    readonly_fields = ("usage_count",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(owner__isnull=True)

    def save_model(self, request, obj, form, change):
        canned_response_save(owner=None, answer=obj)


# --- REST API tokens --------------------------------------------------------------------------


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("scopes"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = ApiToken
        fields = ("name", "scopes", "acts_as")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens of the integrations that call ``/api/v1/``. The token is shown once, in the
    message after it is created; only its hash is kept. Revoked tokens stay for the audit."""

    form = ApiTokenForm
    list_display = (
        "name",
        "prefix",
        "scope_list",
        "acts_as",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    @admin.display(description=gettext_lazy("scopes"))
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes or ())

    def save_model(self, request, obj, form, change):
        obj.scopes = api_token_scopes_clean(form.cleaned_data.get("scopes") or [])
        if change:
            obj.save()
            return
        obj.created_by = request.user
        secret = api_token_issue(obj)
        obj.save()
        messages.warning(
            request,
            _("Copy the token of “%(name)s” now; it will not be shown again: %(token)s")
            % {"name": obj.name, "token": secret},
        )

    @admin.action(description=gettext_lazy("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        revoked = sum(api_token_revoke(token=token) for token in queryset)
        self.message_user(
            request, _("%(count)d token(s) revoked.") % {"count": revoked}, messages.SUCCESS
        )


@admin.register(ApiAuditLog)
class ApiAuditLogAdmin(admin.ModelAdmin):
    """Every write made through the API, read-only."""

    list_display = ("at", "token", "method", "path", "object_type", "object_id", "status_code")
    list_filter = ("method", "status_code", "token")
    list_select_related = ("token",)
    search_fields = ("path", "object_id")
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
