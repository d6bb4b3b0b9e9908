"""Read-mostly admin for tickets: a place to look things up and clean up, not to work tickets.

Tickets change only through ``tickets.services`` (the status and activity rules live there), so
tickets, messages, activities and history are shown read-only here; agents work them on the
agent screen. Tags are plain names and fully editable.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy

from configuration.admin import SuccessMessagesMixin
from configuration.models import OperatorProfile
from omnico.core.admin_labels import TableInputsLabelledMixin
from tickets.models import Activity, Message, Tag, Ticket, TicketEvent
from tickets.routing import agent_set_capacity, pool_drain_after_commit


class ReadOnlyAdminMixin:
    """View and delete; no add, no edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("sent_at", "direction", "author", "body", "delivery", "delivery_error")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class ActivityInline(ReadOnlyInline):
    model = Activity
    fields = ("call_reason", "category", "subcategory", "status", "agent", "call_seconds")
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("category__parent", "subcategory__parent", "agent")
        )


class TicketEventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "data")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "customer",
        "title",
        "source",
        "status",
        "priority",
        "assignee",
        "subject",
        "rating",
        "last_message_at",
    )
    list_display_links = ("id", "title")
    list_select_related = ("customer", "assignee", "subject")
    list_filter = ("status", "priority", "source", "is_offline", "rating")
    search_fields = ("=id", "title", "customer__name", "last_message_preview")
    date_hierarchy = "created_at"
    ordering = ("-last_message_at", "-id")
    inlines = [MessageInline, ActivityInline, TicketEventInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "customer",
                "assignee",
                "subject",
                "group_type",
                "department",
                "channel_account",
                "previous_ticket",
            )
            .prefetch_related("tags")
        )


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "ticket", "direction", "author", "sent_at", "delivery")
    list_select_related = ("ticket", "author", "channel_account")
    list_filter = ("direction", "delivery", "channel_account__kind")
    search_fields = ("body", "external_id", "ticket__customer__name")
    ordering = ("-sent_at", "-id")
    show_full_result_count = False


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("call_reason", "ticket", "category", "subcategory", "status", "agent")
    list_select_related = ("ticket", "category__parent", "subcategory__parent", "agent")
    list_filter = ("status",)
    search_fields = ("call_reason", "ticket__customer__name")


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "actor")
    list_select_related = ("ticket", "actor")
    list_filter = ("kind",)
    search_fields = ("=ticket__id", "actor__username")
    ordering = ("-created_at", "-id")
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        # The audit trail goes only with its ticket.
        return False


@admin.register(Tag)
class TagAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


# --- operator capacity ----------------------------------------------------------------------


@admin.register(OperatorProfile)
class OperatorProfileAdmin(TableInputsLabelledMixin, SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("user", "full_name", "capacity")
    list_editable = ("capacity",)
    list_select_related = ("user",)
    list_filter = ("departments",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    ordering = ("user__username",)
    fields = ("user", "capacity", "departments")
    # Check boxes, not the two-box filter widget: its JavaScript puts aria-label on a plain
    # span (axe: aria-prohibited-attr), and an agent belongs to a handful of departments.
    formfield_overrides = {models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple}}

    @admin.display(description=gettext_lazy("name"), ordering="user__first_name")
    def full_name(self, obj: OperatorProfile) -> str:
        return obj.user.get_full_name()

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        profile = agent_set_capacity(actor=request.user, agent=obj.user, capacity=obj.capacity)
        obj.pk = profile.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # New departments may let the agent serve tickets waiting in the pool.
        pool_drain_after_commit()


from tickets import webhook_admin  # noqa: E402, F401  (outgoing webhooks' admin)
