"""The shop section of the ticket panel (WooCommerce orders), loaded by the panel after it
renders and polled a few times while a refresh runs. It reads the cache only: the shop is
called by a task, so a slow or dead shop never slows the agent screen.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from customers.woocommerce.selectors import woo_order_history, woo_panel
from customers.woocommerce.services import woo_refresh_request
from inbox import ticket_selectors as selectors
from omnico.core.http import AgentRequest

#: How many times the section asks again while a refresh is under way (every 2 s).
MAX_POLLS = 10


def _section(request: AgentRequest, ticket_id: int, *, force: bool, poll: int) -> HttpResponse:
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    panel = woo_panel(customer_id=ticket.customer_id)
    if panel is None:
        return HttpResponse("")  # no shop connected: the placeholder goes away
    wanted = force or (poll == 0 and panel.stale)
    queued = wanted and woo_refresh_request(
        customer_id=ticket.customer_id,
        force=force,
        connection=panel.connection,
        record=panel.record,
    )
    if queued and panel.record is None:  # the first time: its record was just created
        panel = woo_panel(customer_id=ticket.customer_id)
    context = {"ticket": ticket, "shop": panel, "poll": poll + 1, "max_polls": MAX_POLLS}
    return render(request, "inbox/ticket/shop.html", context)


@login_required
@require_GET
def ticket_shop(request: AgentRequest, ticket_id: int) -> HttpResponse:
    try:
        poll = max(0, int(request.GET.get("poll", 0)))
    except ValueError:
        poll = 0
    return _section(request, ticket_id, force=False, poll=poll)


@login_required
@require_POST
def ticket_shop_refresh(request: AgentRequest, ticket_id: int) -> HttpResponse:
    return _section(request, ticket_id, force=True, poll=0)


@login_required
@require_GET
def ticket_shop_orders(request: AgentRequest, ticket_id: int) -> HttpResponse:
    """The order history, one page at a time ("show all")."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    found = woo_order_history(customer_id=ticket.customer_id, page=request.GET.get("page"))
    if found is None:
        raise Http404
    panel, page = found
    return render(
        request, "inbox/ticket/shop_orders.html", {"ticket": ticket, "shop": panel, "page": page}
    )
