from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_adapters import services
from channels_adapters.base import DeliveryError
from channels_adapters.email.admin_actions import test_connection
from channels_adapters.models import InboundEvent
from channels_adapters.template_admin import sync_templates
from configuration.models import ChannelAccount, MailAccount


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ("id", "channel_account", "status", "attempts", "received_at", "short_error")
    list_filter = ("status", "channel_account__kind", "channel_account")
    search_fields = ("dedupe_key", "error")
    list_select_related = ("channel_account",)
    date_hierarchy = "received_at"
    ordering = ("-received_at",)
    actions = ["retry"]
    fields = (
        "channel_account",
        "dedupe_key",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "error",
        "body_text",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("error"))
    def short_error(self, obj: InboundEvent) -> str:
        return obj.error[:120]

    @admin.display(description=gettext_lazy("raw body"))
    def body_text(self, obj: InboundEvent) -> str:
        # Shown as text in a read-only field: Django escapes it.
        return bytes(obj.body).decode("utf-8", errors="replace")

    @admin.action(description=gettext_lazy("Process the selected events again"))
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queued = sum(services.event_retry(event_id=event_id) for event_id in ids)
        self.message_user(
            request,
            _("%(queued)d of %(total)d events queued again.")
            % {"queued": queued, "total": len(ids)},
            messages.SUCCESS if queued else messages.WARNING,
        )


@admin.action(description=gettext_lazy("Register the webhook with the provider"))
def register_webhook(modeladmin, request: HttpRequest, queryset: QuerySet[ChannelAccount]) -> None:
    for account in queryset:
        url = request.build_absolute_uri(
            reverse("hooks:webhook", kwargs={"kind": account.kind, "name": account.name})
        )
        try:
            ok = services.webhook_register(account=account, url=url)
        except DeliveryError as exc:
            modeladmin.message_user(
                request,
                _("%(account)s: the webhook was not registered: %(error)s")
                % {"account": account, "error": exc},
                messages.ERROR,
            )
            continue
        modeladmin.message_user(
            request,
            _("%(account)s: webhook registered at %(url)s.") % {"account": account, "url": url}
            if ok
            else _("%(account)s: the provider refused the webhook.") % {"account": account},
            messages.SUCCESS if ok else messages.ERROR,
        )


# ChannelAccount's admin belongs to ``configuration``, which must not import channels: the
# channel layer adds its action to it here (configuration's admin is loaded first).
def _add_action(model, action) -> None:
    if admin.site.is_registered(model):
        model_admin = admin.site.get_model_admin(model)
        model_admin.actions = [*(model_admin.actions or []), action]


_add_action(ChannelAccount, register_webhook)
_add_action(MailAccount, test_connection)
_add_action(ChannelAccount, sync_templates)
