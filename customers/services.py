from __future__ import annotations

from django.db import IntegrityError, transaction

from customers.models import Customer, Identity


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
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                name=(name or display or external_id)[:200], email=email, phone=phone
            )
            Identity.objects.create(
                customer=customer,
                kind=kind,
                external_id=external_id,
                display=(display or name)[:255],
            )
            return customer
    except IntegrityError:
        return (
            Identity.objects.select_related("customer")
            .get(kind=kind, external_id=external_id)
            .customer
        )


@transaction.atomic
def customer_update(*, customer: Customer, **fields) -> Customer:
    allowed = {"name", "gender", "age", "size", "location", "email", "phone", "attributes"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for field, value in fields.items():
        setattr(customer, field, value)
    customer.full_clean()
    customer.save(update_fields=[*fields, "updated_at"])
    return customer
