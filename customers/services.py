from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from customers.models import Customer, Identity, ShoppingCart
from omnico.core.db import insert_many_unless_duplicate


@dataclass
class Contact:
    """What a channel says of a sender, for ``customers_create_many``."""

    external_id: str
    name: str = ""
    display: str = ""
    email: str = ""
    phone: str = ""


def _new(kind: str, contact: Contact) -> tuple[Customer, Identity]:
    """A first-contact customer and its identity, unsaved."""
    customer = Customer(
        name=(contact.name or contact.display or contact.external_id)[:200],
        email=contact.email,
        phone=contact.phone,
    )
    identity = Identity(
        customer=customer,
        kind=kind,
        external_id=contact.external_id,
        display=(contact.display or contact.name)[:255],
    )
    return customer, identity


def customer_resolve(
    *,
    kind: str,
    external_id: str,
    name: str = "",
    display: str = "",
    email: str = "",
    phone: str = "",
) -> Customer:
    """The customer behind ``(kind, external_id)``, created on first contact.

    Two first messages racing in settle on the identity's unique constraint: the loser
    rolls back its savepoint and reads the winner's row. A known identity costs one query (no
    savepoint): this runs for every inbound message.
    """
    identity = (
        Identity.objects.select_related("customer")
        .filter(kind=kind, external_id=external_id)
        .first()
    )
    if identity is not None:
        return identity.customer
    customer, identity = _new(
        kind,
        Contact(external_id=external_id, name=name, display=display, email=email, phone=phone),
    )
    try:
        with transaction.atomic():
            customer.save(force_insert=True)
            identity.customer = customer
            identity.save(force_insert=True)
            return customer
    except IntegrityError:
        return (
            Identity.objects.select_related("customer")
            .get(kind=kind, external_id=external_id)
            .customer
        )


@transaction.atomic(savepoint=False)
def customers_create_many(
    *, kind: str, contacts: list[Contact]
) -> tuple[dict[str, Customer], set[str]]:
    """Customers for many senders of one kind seen for the first time, in a few statements.

    Returns every sender's customer by external id, and the external ids whose customer this
    call created (their first contact: nothing else refers to them yet). A sender another
    transaction created meanwhile gets that customer: identities are inserted ``ON CONFLICT DO
    NOTHING`` and the customers made for the losers are deleted again. For a caller already in a
    transaction (ingest), which it joins.
    """
    # One insert order for every caller: two batches with the same new senders wait on each
    # other's identities in the same order, never in a cycle.
    contacts = sorted({c.external_id: c for c in contacts}.values(), key=lambda c: c.external_id)
    if not contacts:
        return {}, set()
    made = [_new(kind, contact) for contact in contacts]
    Customer.objects.bulk_create([customer for customer, _identity in made])
    for customer, identity in made:
        identity.customer = customer
    stored = insert_many_unless_duplicate(
        [identity for _c, identity in made], conflict_fields=("kind", "external_id")
    )
    if all(stored):  # the usual case: nobody raced us, every sender is ours (no look-up)
        found = {identity.external_id: customer for customer, identity in made}
        return found, set(found)
    ours = {customer.pk for customer, _identity in made}
    identities = Identity.objects.select_related("customer").filter(
        kind=kind, external_id__in=[c.external_id for c in contacts]
    )
    found = {identity.external_id: identity.customer for identity in identities}
    fresh = {ext for ext, customer in found.items() if customer.pk in ours}
    lost = ours - {found[ext].pk for ext in fresh}
    if lost:
        Customer.objects.filter(pk__in=lost).delete()
    return found, fresh


@transaction.atomic
def customer_update(*, customer: Customer, **fields: Any) -> Customer:
    allowed = {"name", "gender", "age", "size", "location", "email", "phone", "attributes"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(customer, field, value)
    customer.full_clean()
    customer.save(update_fields=[*fields, "updated_at"])
    return customer


@dataclass(frozen=True)
class IdentityMove:
    """What ``customer_identity_change`` did: the customer, and whether an id moved."""

    customer: Customer | None
    moved: bool = False


@transaction.atomic
def customer_identity_change(*, kind: str, external_id: str, new_external_id: str) -> IdentityMove:
    """The customer known on ``kind`` as ``external_id`` now goes by ``new_external_id`` (a
    WhatsApp customer changed number): their identity takes the new id, so the next message
    from it lands in the same customer (and their open ticket).

    When the new id already has an identity (the customer wrote from the new number before
    the notice arrived), that identity moves to this customer and the old one is dropped. The
    customer's phone follows when it was the old id. Applying the same change twice changes
    nothing more. No customer known by either id: nothing changes (``customer`` None).
    """
    identities = {
        identity.external_id: identity
        for identity in Identity.objects.select_for_update()
        .select_related("customer")
        .filter(kind=kind, external_id__in=[external_id, new_external_id])
        .order_by("pk")
    }
    old, new = identities.get(external_id), identities.get(new_external_id)
    if old is None:  # unknown, or already moved (a redelivered notice)
        return IdentityMove(customer=new.customer if new else None)
    if not new_external_id or new_external_id == external_id:
        return IdentityMove(customer=old.customer)
    customer = old.customer
    if new is None:
        old.external_id = new_external_id
        old.save(update_fields=["external_id"])
    else:
        if new.customer_id != customer.pk:
            new.customer = customer
            new.save(update_fields=["customer"])
        old.delete()
    if customer.phone == external_id:
        customer.phone = new_external_id
        customer.save(update_fields=["phone", "updated_at"])
    return IdentityMove(customer=customer, moved=True)


@transaction.atomic
def customer_attributes_update(*, customer: Customer, changes: dict[str, Any]) -> Customer:
    """Merge an integration's CRM fields into the customer's attributes (shown under Customer
    Details): a key with value None is removed, others are set; keys not named are kept."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    attributes = dict(customer.attributes or {})
    for key, value in changes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    customer.attributes = attributes
    customer.save(update_fields=["attributes", "updated_at"])
    return customer


@dataclass(frozen=True)
class CartPush:
    """What ``cart_push`` did: the stored cart, and whether it made the row."""

    cart: ShoppingCart
    created: bool
    changed: bool


#: The states a shop reports of a cart; ``converted``: it became an order.
CART_STATUSES = ("added", "changed", "abandoned", "converted")


@transaction.atomic
def cart_push(
    *,
    customer: Customer,
    source: str,
    external_id: str,
    items: list[Any],
    total: Decimal,
    currency: str,
    status: str,
    updated_at: datetime,
) -> CartPush:
    """Store a shop's cart or order, idempotent by ``(source, external_id)``: the first push
    makes the row, later ones update it; a push older than the stored one (``updated_at``:
    the shop's time) changes nothing, so retried or reordered pushes never go back in time.
    The customer's carts, newest first, are the cart history the panel shows."""
    fields = {
        "customer": customer,
        "items": items,
        "total": total,
        "currency": currency.upper(),
        "status": status,
        "updated_at": updated_at,
    }
    stored = (
        ShoppingCart.objects.select_for_update()
        .filter(source=source, external_id=external_id)
        .first()
    )
    if stored is None:
        try:
            with transaction.atomic():
                cart = ShoppingCart.objects.create(source=source, external_id=external_id, **fields)
            return CartPush(cart=cart, created=True, changed=True)
        except IntegrityError:  # the same cart pushed twice at once: the other one made it
            stored = ShoppingCart.objects.select_for_update().get(
                source=source, external_id=external_id
            )
    if stored.updated_at > updated_at:
        return CartPush(cart=stored, created=False, changed=False)
    changed = False
    for field, value in fields.items():
        current = stored.customer_id if field == "customer" else getattr(stored, field)
        wanted = customer.pk if field == "customer" else value
        if current != wanted:
            setattr(stored, field, value)
            changed = True
    if changed:
        stored.save()
    return CartPush(cart=stored, created=False, changed=changed)
