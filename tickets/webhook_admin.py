"""Admin of outgoing webhooks: endpoints (secret shown once, rotate, send a test event) and
their deliveries (state, last answer, send again). The endpoint is ``configuration``'s model,
registered here because its actions send through ``tickets.webhooks``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from configuration.admin import SuccessMessagesMixin
from configuration.models import WebhookEndpoint, WebhookEvent
from configuration.webhooks import (
    endpoints_forget,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
)
from tickets import webhooks
from tickets.models import WebhookDelivery


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url", "events", "enabled")


def _show_secret(modeladmin, request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
    modeladmin.message_user(
        request,
        _("Signing secret of “%(endpoint)s”: %(secret)s — copy it now, it is not shown again.")
        % {"endpoint": endpoint, "secret": secret},
        messages.WARNING,
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("name", "url", "enabled", "event_list", "waiting", "deliveries_link")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    readonly_fields = ("created_at", "secret_rotated_at")
    actions = ["rotate_secret", "send_test", "enable", "disable"]

    def get_queryset(self, request):
        waiting = Q(deliveries__state__in=["pending", "failed", "sending"])
        return super().get_queryset(request).annotate(waiting=Count("deliveries", filter=waiting))

    @admin.display(description=gettext_lazy("events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        labels = dict(WebhookEvent.choices)
        return ", ".join(str(labels.get(event, event)) for event in obj.events or [])

    @admin.display(description=gettext_lazy("waiting to be sent"), ordering="waiting")
    def waiting(self, obj: WebhookEndpoint) -> int:
        return obj.waiting  # type: ignore[attr-defined]

    @admin.display(description=gettext_lazy("deliveries"))
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:tickets_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">{}</a>', url, obj.pk, _("show"))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        _show_secret(self, request, obj, webhook_endpoint_create(endpoint=obj))

    @admin.action(description=gettext_lazy("Rotate the signing secret"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _show_secret(self, request, endpoint, webhook_endpoint_rotate_secret(endpoint=endpoint))

    @admin.action(description=gettext_lazy("Send a test event"))
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhooks.webhook_send_test(endpoint=endpoint)
        self.message_user(
            request,
            _("A test event was queued for %(count)d endpoint(s); see its deliveries.")
            % {"count": queryset.count()},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Enable"))
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        queryset.update(enabled=True)
        endpoints_forget()

    @admin.action(description=gettext_lazy("Disable (what is waiting stays, unsent)"))
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        queryset.update(enabled=False)
        endpoints_forget()


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "endpoint",
        "event",
        "state",
        "attempts",
        "last_status",
        "short_answer",
        "next_at",
        "created_at",
    )
    list_filter = ("state", "event", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("event_id",)
    date_hierarchy = "created_at"
    actions = ["send_again"]
    fields = (
        "endpoint",
        "event",
        "event_id",
        "state",
        "attempts",
        "next_at",
        "last_tried_at",
        "delivered_at",
        "last_status",
        "last_answer",
        "payload",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("last answer"))
    def short_answer(self, obj: WebhookDelivery) -> str:
        return obj.last_answer[:120]

    @admin.action(description=gettext_lazy("Send again"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queued = webhooks.webhook_deliveries_resend(delivery_ids=ids)
        self.message_user(
            request,
            _("%(queued)d of %(total)d deliveries queued again.")
            % {"queued": queued, "total": len(ids)},
            messages.SUCCESS if queued else messages.WARNING,
        )
