"""Admin of WhatsApp message templates: a read-only list (Meta is where they are edited) and
the sync action, also added to the channel accounts' admin."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_adapters.models import WhatsAppTemplate
from channels_adapters.whatsapp.templates import TemplateSyncError, whatsapp_templates_sync
from configuration.models import ChannelAccount, ChannelKind


def _sync(modeladmin, request: HttpRequest, accounts) -> None:
    for account in accounts:
        try:
            count = whatsapp_templates_sync(account=account)
        except TemplateSyncError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                _("%(account)s: %(count)d message templates synced.")
                % {"account": account, "count": count},
                messages.SUCCESS,
            )


@admin.action(description=gettext_lazy("Sync WhatsApp message templates"))
def sync_templates(modeladmin, request: HttpRequest, queryset: QuerySet[ChannelAccount]) -> None:
    accounts = list(queryset.filter(kind=ChannelKind.WHATSAPP).order_by("pk")[:20])
    if not accounts:
        modeladmin.message_user(request, _("Choose a WhatsApp account."), messages.WARNING)
    _sync(modeladmin, request, accounts)


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "language",
        "category",
        "status",
        "parameter_count",
        "header_format",
        "channel_account",
        "synced_at",
    )
    list_filter = ("status", "category", "language", "channel_account")
    search_fields = ("name", "body_text")
    list_select_related = ("channel_account",)
    ordering = ("name", "language")
    actions = ["sync_accounts"]
    fields = (
        "channel_account",
        "name",
        "language",
        "category",
        "status",
        "header_format",
        "header_text",
        "body_text",
        "parameter_count",
        "footer_text",
        "external_id",
        "synced_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=gettext_lazy("Sync again the accounts of the selected templates"))
    def sync_accounts(self, request: HttpRequest, queryset: QuerySet[WhatsAppTemplate]) -> None:
        ids = set(queryset.values_list("channel_account_id", flat=True))
        _sync(self, request, ChannelAccount.objects.filter(pk__in=ids).order_by("pk"))
