"""Writes the agent screens make that span many tickets (the tickets list's bulk actions).

Each ticket changes through ``tickets.services`` in its own transaction, so one ticket the rules
refuse (an activity not done, a deactivated agent) does not undo the others: the result says
which were refused and why.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import Customer
from customers.services import customer_update
from omnico.core import realtime
from tickets import assignment, services
from tickets.models import Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _updated_text(n: int) -> str:
    return ngettext("%(n)s ticket updated.", "%(n)s tickets updated.", n) % {"n": n}


def tickets_bulk_update(
    *,
    ticket_ids: list[int],
    actor: User,
    status: str | None = None,
    assign: bool = False,
    assignee: User | None = None,
    tag: str | None = None,
    override: bool = False,
) -> assignment.BatchOutcome:
    """Apply one change (status, assignee or an added tag) to each of ``ticket_ids``.

    An assignment obeys routing's rules ticket by ticket (``tickets.assignment``): an agent who
    is not active gets none, one with 2 free slots gets 2 and the rest are refused;
    ``override`` (staff only) assigns over them, each recorded in the ticket's history."""

    def apply(ticket: Ticket) -> None:
        if status is not None:
            services.ticket_set_status(ticket=ticket, status=status, actor=actor)
        elif assign:
            assignment.ticket_assign_checked(
                ticket=ticket, assignee=assignee, actor=actor, override=override
            )
        elif tag is not None:
            services.ticket_add_tag(ticket=ticket, name=tag, actor=actor)

    result = assignment.BatchOutcome(done_text=_updated_text)
    found = set()
    for ticket in Ticket.objects.filter(pk__in=set(ticket_ids)).order_by("pk"):
        found.add(ticket.pk)
        result.attempt(ticket.pk, partial(apply, ticket))
    result.refuse_missing(asked=ticket_ids, found=found, reason=_("this ticket does not exist."))
    return result


@transaction.atomic
def ticket_customer_update(*, ticket: Ticket, **changes: Any) -> Customer:
    """Edit the ticket's customer from its panel; after commit, its watchers re-fetch the panel
    and every agent gets its row."""
    customer = customer_update(customer=ticket.customer, **changes)
    realtime.publish(
        realtime.ticket_group(ticket.pk), "ticket.changed", ticket_id=ticket.pk, change="customer"
    )
    return customer
