"""Merging two customers who are one person (written from two channels, say): everything the
second one has moves to the first, and the second is deleted. Here, not in ``customers``,
because tickets move too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from customers.models import Customer, Identity, ShoppingCart
from tickets.errors import TicketRuleError
from tickets.models import ACTIVE_STATUSES, Ticket, TicketEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class MergeConflict(TicketRuleError):
    """The merge would break a rule of the current state (two active tickets on one account)."""


@transaction.atomic
def customer_merge(*, into: Customer, other: Customer, actor: User | None = None) -> Customer:
    """Move ``other``'s identities, tickets and carts to ``into``, fill ``into``'s empty
    details and attributes from ``other``, delete ``other``; one transaction. Each moved
    ticket's trail records the move. Refused: merging a customer into itself, and two active
    tickets on the same channel account (a customer has one conversation per account: resolve
    one first)."""
    if into.pk == other.pk:
        raise TicketRuleError(_("A customer cannot be merged into itself."))
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[into.pk, other.pk])
        .order_by("pk")
    }
    into, other = locked[into.pk], locked[other.pk]
    clash = (
        Ticket.objects.filter(customer__in=[into, other], status__in=ACTIVE_STATUSES)
        .values("channel_account")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    if clash:
        raise MergeConflict(
            _(
                "Both customers have an active ticket on the same channel account; "
                "resolve one of them before merging."
            )
        )
    moved = list(Ticket.objects.filter(customer=other).values_list("pk", flat=True))
    Ticket.objects.filter(pk__in=moved).update(customer=into)
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket_id=pk,
            actor=actor,
            kind=TicketEvent.Kind.FIELD,
            data={"field": "customer", "old": other.pk, "new": into.pk},
        )
        for pk in moved
    )
    Identity.objects.filter(customer=other).update(customer=into)
    ShoppingCart.objects.filter(customer=other).update(customer=into)
    changed = []
    for field in ("email", "phone", "location", "size", "gender"):
        if not getattr(into, field) and getattr(other, field):
            setattr(into, field, getattr(other, field))
            changed.append(field)
    if into.age is None and other.age is not None:
        into.age = other.age
        changed.append("age")
    attributes = {**(other.attributes or {}), **(into.attributes or {})}
    if attributes != (into.attributes or {}):
        into.attributes = attributes
        changed.append("attributes")
    if changed:
        into.save(update_fields=[*changed, "updated_at"])
    other.delete()
    return into
