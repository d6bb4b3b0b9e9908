from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from configuration.models import ChannelKind


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
