"""Read-mostly admin for customers: they come from the channels, admins correct and clean up.

Customers are created by ``customer_resolve`` when they first write, so there is no add page;
edits go through ``customer_update``; identities and carts are shown, not edited.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy

from configuration.admin import SuccessMessagesMixin
from configuration.forms import clear_field_name
from customers.models import Customer, Identity, ShoppingCart, WooCommerceConnection, WooCustomer
from customers.services import customer_update
from customers.woocommerce.client import WooError
from customers.woocommerce.forms import WooCommerceConnectionForm
from customers.woocommerce.services import woo_connection_test

_CUSTOMER_FIELDS = ("name", "gender", "age", "size", "location", "email", "phone", "attributes")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class IdentityInline(ReadOnlyInline):
    model = Identity
    fields = ("kind", "external_id", "display", "created_at")
    readonly_fields = fields


class ShoppingCartInline(ReadOnlyInline):
    model = ShoppingCart
    fields = ("source", "external_id", "total", "currency", "status", "updated_at")
    readonly_fields = fields
    max_num = 0


@admin.register(Customer)
class CustomerAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    list_display = ("name", "email", "phone", "location", "created_at")
    search_fields = ("name", "email", "phone", "identities__external_id")
    list_filter = ("gender",)
    fields = (*_CUSTOMER_FIELDS, "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    inlines = [IdentityInline, ShoppingCartInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if changed:
            customer_update(customer=Customer.objects.get(pk=obj.pk), **changed)


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("external_id", "kind", "display", "customer", "created_at")
    list_filter = ("kind",)
    list_select_related = ("customer",)
    search_fields = ("external_id", "display", "customer__name")
    readonly_fields = ("customer", "kind", "external_id", "display", "created_at")

    def has_add_permission(self, request):
        return False


@admin.register(ShoppingCart)
class ShoppingCartAdmin(admin.ModelAdmin):
    list_display = ("customer", "source", "total", "currency", "status", "updated_at")
    list_filter = ("source", "status")
    list_select_related = ("customer",)
    search_fields = ("customer__name", "external_id")
    readonly_fields = (
        "customer",
        "source",
        "external_id",
        "items",
        "total",
        "currency",
        "status",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False


# --- WooCommerce ------------------------------------------------------------------------------


@admin.register(WooCommerceConnection)
class WooCommerceConnectionAdmin(SuccessMessagesMixin, admin.ModelAdmin):
    """The shop's address and keys; "Test connection" reads one order and says what failed."""

    form = WooCommerceConnectionForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "store_url", "enabled", "updated_at")
    actions = ["test_connection"]
    fieldsets = [
        (None, {"fields": ("name", "store_url", "enabled")}),
        (
            gettext_lazy("REST API keys (WooCommerce > Settings > Advanced > REST API, Read)"),
            {
                "fields": tuple(
                    part
                    for name in WooCommerceConnectionForm.secret_fields
                    for part in (name, clear_field_name(name))
                )
            },
        ),
        (None, {"fields": ("timeout_seconds", "order_links")}),
    ]

    @admin.action(description=gettext_lazy("Test connection"))
    def test_connection(self, request, queryset):
        for connection in queryset:
            try:
                result = woo_connection_test(connection=connection)
            except WooError as error:
                self.message_user(request, f"{connection.name}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{connection.name}: {result}", messages.SUCCESS)


@admin.register(WooCustomer)
class WooCustomerAdmin(admin.ModelAdmin):
    """The cache, for looking: what was fetched for whom, when, and the last error."""

    list_display = ("customer", "connection", "looked_up", "order_count", "fetched_at", "error")
    list_select_related = ("customer", "connection")
    search_fields = ("customer__name", "looked_up")
    readonly_fields = (
        "connection",
        "customer",
        "woo_customer_id",
        "looked_up",
        "fetched_at",
        "order_count",
        "truncated",
        "error",
        "error_at",
        "requested_at",
    )

    def has_add_permission(self, request):
        return False
