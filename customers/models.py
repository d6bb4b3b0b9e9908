from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from configuration.models import ChannelKind
from omnico.core.crypto import EncryptedTextField


class Customer(models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "", _("Unknown")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    age = models.PositiveSmallIntegerField(_("age"), null=True, blank=True)
    size = models.CharField(_("size"), max_length=40, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    attributes = models.JSONField(
        _("attributes"), default=dict, blank=True, help_text=_("Fields stored by integrations.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]

    def __str__(self) -> str:
        return self.name


class Identity(models.Model):
    """How a customer is known on one channel: Telegram chat id, phone, PSID, e-mail address."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer")
    )
    kind = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    external_id = models.CharField(_("external id"), max_length=255)
    display = models.CharField(_("shown as"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "external_id"], name="identity_kind_external"),
            models.CheckConstraint(
                condition=Q(kind__in=ChannelKind.values), name="identity_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.display or self.external_id}"


@dataclass(frozen=True)
class CartLine:
    """One line of a cart as shown to an agent: how many of what, at what unit price."""

    name: str
    quantity: int
    price: Decimal | str | None = None

    @classmethod
    def from_item(cls, item: Any) -> CartLine:
        """Reads one reported item: WooCommerce's ``quantity`` (or ``qty``), default 1."""
        if not isinstance(item, dict):
            return cls(name=str(item), quantity=1)
        name = item.get("name") or item.get("product_name") or item.get("sku") or "—"
        try:
            # A payload value of any type; int() of a bad one (None included) is caught below.
            quantity = int(cast(Any, item.get("quantity", item.get("qty", 1))))
        except (TypeError, ValueError):
            quantity = 1
        price = item.get("price")
        if price not in (None, ""):
            try:
                price = Decimal(str(price))
            except InvalidOperation:
                price = str(price)
        return cls(name=str(name), quantity=quantity, price=price if price != "" else None)


class ShoppingCart(models.Model):
    """A cart an e-commerce integration reported; the newest is the customer's latest cart.

    ``items`` is the integration's list of lines, each an object with ``name``, ``quantity``
    (WooCommerce's key; ``qty`` is read too, missing means 1) and optionally ``price``.
    """

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="carts", verbose_name=_("customer")
    )
    source = models.CharField(_("source"), max_length=60, blank=True)
    external_id = models.CharField(_("external id"), max_length=120, blank=True)
    items = models.JSONField(_("items"), default=list, blank=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="TRY")
    status = models.CharField(_("status"), max_length=40, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("shopping cart")
        verbose_name_plural = _("shopping carts")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["customer", "-updated_at"], name="cart_customer_recent")]
        constraints = [
            # The shop's id of a cart or order: a second push of it updates the same row.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="cart_source_external_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.total} {self.currency}"

    @property
    def lines(self) -> list[CartLine]:
        return [CartLine.from_item(item) for item in self.items or ()]


# --- WooCommerce (customers/woocommerce/) ----------------------------------------------------


class WooCommerceConnection(models.Model):
    """The company's WooCommerce shop: where its REST API is and the keys to read it.

    The keys are encrypted at rest and write-only in the admin. At most one connection is
    enabled at a time: the panel shows the orders of that shop.
    """

    class OrderLinks(models.TextChoices):
        HPOS = "hpos", _("Orders page (WooCommerce 8.2 and later, HPOS)")
        LEGACY = "legacy", _("Post editor (orders stored as posts)")

    name = models.CharField(_("name"), max_length=100, default="WooCommerce")
    store_url = models.URLField(
        _("store URL"),
        help_text=_(
            "The shop's address, e.g. https://shop.example.com (https: the keys travel "
            "with every request)."
        ),
    )
    consumer_key = EncryptedTextField(_("consumer key"), blank=True)
    consumer_secret = EncryptedTextField(_("consumer secret"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    timeout_seconds = models.FloatField(
        _("timeout (seconds)"),
        default=4.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(30)],
        help_text=_("How long Omnico waits for one answer of the shop."),
    )
    order_links = models.CharField(
        _("order links"),
        max_length=8,
        choices=OrderLinks.choices,
        default=OrderLinks.HPOS,
        help_text=_("Which admin page an order's link opens in the shop."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("WooCommerce connection")
        verbose_name_plural = _("WooCommerce connections")
        constraints = [
            models.UniqueConstraint(
                fields=["enabled"], condition=Q(enabled=True), name="woocommerce_one_enabled"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from customers.woocommerce.client import store_url_problem

        problem = store_url_problem(self.store_url or "", debug=settings.DEBUG)
        if problem:
            raise ValidationError({"store_url": problem})

    def order_admin_url(self, woo_id: int) -> str:
        base = self.store_url.rstrip("/")
        if self.order_links == self.OrderLinks.LEGACY:
            return f"{base}/wp-admin/post.php?post={woo_id}&action=edit"
        return f"{base}/wp-admin/admin.php?page=wc-orders&action=edit&id={woo_id}"


class WooCustomer(models.Model):
    """What Omnico last fetched from the shop about one customer: the cache the panel reads.

    ``fetched_at`` is the last successful fetch (its orders are ``orders``); a failed one keeps
    them and sets ``error``. ``requested_at`` is set while a refresh is queued or running.
    """

    connection = models.ForeignKey(
        WooCommerceConnection, on_delete=models.CASCADE, related_name="customers"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="woo_records", verbose_name=_("customer")
    )
    woo_customer_id = models.PositiveBigIntegerField(_("shop customer id"), null=True, blank=True)
    looked_up = models.CharField(_("looked up by"), max_length=255, blank=True)
    fetched_at = models.DateTimeField(_("fetched"), null=True, blank=True)
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    truncated = models.BooleanField(_("more orders than fetched"), default=False)
    error = models.TextField(_("last error"), blank=True)
    error_at = models.DateTimeField(_("failed"), null=True, blank=True)
    requested_at = models.DateTimeField(_("refresh requested"), null=True, blank=True)

    class Meta:
        verbose_name = _("WooCommerce customer")
        verbose_name_plural = _("WooCommerce customers")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "customer"], name="woo_customer_connection_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} @ {self.connection_id}"


class WooOrder(models.Model):
    """One order of a shop customer as last fetched (cache; the shop is the truth)."""

    record = models.ForeignKey(WooCustomer, on_delete=models.CASCADE, related_name="orders")
    woo_id = models.PositiveBigIntegerField(_("shop order id"))
    number = models.CharField(_("number"), max_length=40)
    status = models.CharField(_("status"), max_length=40)
    created_at = models.DateTimeField(_("date"))
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=200, blank=True)
    shipping = models.CharField(_("shipping"), max_length=300, blank=True)
    items = models.JSONField(_("items"), default=list, blank=True)

    class Meta:
        verbose_name = _("WooCommerce order")
        verbose_name_plural = _("WooCommerce orders")
        constraints = [
            models.UniqueConstraint(fields=["record", "woo_id"], name="woo_order_record_id"),
        ]
        indexes = [
            models.Index(fields=["record", "-created_at", "-woo_id"], name="woo_order_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def lines(self) -> list[CartLine]:
        return [CartLine.from_item(item) for item in self.items or ()]
