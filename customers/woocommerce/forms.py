"""The admin form of a WooCommerce connection: the keys are write-only like every secret."""

from __future__ import annotations

from configuration.forms import SecretFieldsForm, https_urls
from customers.models import WooCommerceConnection


class WooCommerceConnectionForm(SecretFieldsForm):
    secret_fields = ("consumer_key", "consumer_secret")

    class Meta:
        model = WooCommerceConnection
        formfield_callback = https_urls
        fields = [
            "name",
            "store_url",
            "enabled",
            "consumer_key",
            "consumer_secret",
            "timeout_seconds",
            "order_links",
        ]
