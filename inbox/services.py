"""Writes the agent screens make that span many tickets (the tickets list's bulk actions).

Each ticket changes through ``tickets.services`` in its own transaction, so one ticket the rules
refuse (an activity not done, a deactivated agent) does not undo the others: the result says
which were refused and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customers.models import Customer
from customers.services import customer_update
from omnico.core import realtime
from tickets import assignment, services
from tickets.assignment import AssignmentRefused, refused_summary
from tickets.errors import TicketRuleError
from tickets.models import Ticket

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass
class BulkResult:
    updated: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    #: Refused by a routing rule a staff user may override (``tickets.assignment``).
    overridable: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """ "3 updated, 1 refused: #12 has an open activity…" (for a toast)."""
        text = ngettext("%(n)s ticket updated.", "%(n)s tickets updated.", len(self.updated)) % {
            "n": len(self.updated)
        }
        return text + refused_summary(self.refused)


def tickets_bulk_update(
    *,
    ticket_ids: list[int],
    actor: User,
    status: str | None = None,
    assign: bool = False,
    assignee: User | None = None,
    tag: str | None = None,
    override: bool = False,
) -> BulkResult:
    """Apply one change (status, assignee or an added tag) to each of ``ticket_ids``.

    An assignment obeys routing's rules ticket by ticket (``tickets.assignment``): an agent who
    is not active gets none, one with 2 free slots gets 2 and the rest are refused;
    ``override`` (staff only) assigns over them, each recorded in the ticket's history."""
    result = BulkResult()
    tickets = Ticket.objects.filter(pk__in=set(ticket_ids)).order_by("pk")
    found = set()
    for ticket in tickets:
        found.add(ticket.pk)
        try:
            if status is not None:
                services.ticket_set_status(ticket=ticket, status=status, actor=actor)
            elif assign:
                assignment.ticket_assign_checked(
                    ticket=ticket, assignee=assignee, actor=actor, override=override
                )
            elif tag is not None:
                services.ticket_add_tag(ticket=ticket, name=tag, actor=actor)
        except AssignmentRefused as error:
            result.refused.append((ticket.pk, error.message))
            result.overridable.append(ticket.pk)
        except TicketRuleError as error:
            result.refused.append((ticket.pk, error.message))
        else:
            result.updated.append(ticket.pk)
    for missing in sorted(set(ticket_ids) - found):
        result.refused.append((missing, _("this ticket does not exist.")))
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
