"""The agent screens owned here: homepage, the inbox column and the tickets list.

Views parse input, call one selector or service, and render. The ticket itself (conversation,
panel, its actions) is in ``inbox/ticket_views.py``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from inbox import list_freshness, selectors
from inbox import services as inbox_services
from inbox.forms import BulkActionForm, InboxFilterForm, TicketFilterForm
from omnico.core.http import AgentRequest
from tickets.assignment import BatchOutcome


@login_required
def home(request: AgentRequest) -> HttpResponse:
    return render(request, "inbox/home.html", {"page": selectors.home_page(user=request.user)})


@login_required
@require_GET
def home_offline(request: AgentRequest) -> HttpResponse:
    """The homepage's offline-messages card, re-fetched live when an offline ticket changes."""
    count, offline = selectors.home_offline()
    context = {"offline_count": count, "offline": offline}
    return render(request, "inbox/fragments/home_offline.html", context)


def inbox_screen_context(request: AgentRequest, *, rows: bool = True) -> dict[str, Any]:
    """The left column of the agent screen: its filters and first page of rows.

    The view that opens a ticket on the same screen (``/inbox/<id>/``) merges this into its own
    context and extends ``inbox/inbox.html``, so the list beside an open ticket is the same.
    It asks for it without rows (``rows=False``): the list then fetches itself as soon as the
    page is shown (``inbox/list/deferred.html``), so the ticket is not kept waiting for it.
    """
    live_since = list_freshness.render_stamp()  # before the rows are read: see list_freshness
    form = InboxFilterForm(request.GET)
    filters = form.filters()
    page = (
        selectors.inbox_rows(user=request.user, filters=filters, cursor=request.GET.get("cursor"))
        if rows
        else None
    )
    sort = selectors.inbox_sort(filters)
    return {
        "page": page,
        "live_since": live_since,
        "rows_digest": list_freshness.rows_digest(page.items) if page else "",
        "list_deferred": not rows,
        "filter_form": form,
        "tab": filters.tab,
        "list_sort": sort,
        "live_filter": json.dumps(
            {
                "tab": filters.tab,
                "status": filters.status,
                "channel": filters.channel,
                "department": filters.department_id or "",
                "group_type": filters.group_type_id or "",
                "subject": filters.subject_id or "",
                "tag": filters.tag or filters.tag_id or "",
                "q": filters.query,
                "sort": sort,
            }
        ),
    }


@login_required
@require_GET
def inbox(request: AgentRequest) -> HttpResponse:
    """The agent screen: every conversation on the left, the open one beside it."""
    ticket_id = request.GET.get("ticket", "")
    if ticket_id.isdigit():
        params = request.GET.copy()
        del params["ticket"]
        url = reverse("ticket-detail", args=[int(ticket_id)])
        return redirect(f"{url}?{params.urlencode()}" if params else url)
    context = inbox_screen_context(request)
    if request.htmx and request.GET.get("cursor"):
        return render(request, "inbox/list/rows.html", context)
    return render(request, "inbox/inbox.html", context)


@login_required
@require_GET
def inbox_list(request: AgentRequest) -> HttpResponse:
    """The inbox rows for htmx: a filter change, "load more" (``cursor``) or a resync.

    With ``live_since`` (and ``live_digest``), the page's question on its socket's first hello:
    204, nothing to swap, while the list it rendered then is still current (list_freshness).
    """
    since = list_freshness.render_stamp_parse(request.GET.get("live_since"))
    if since and not selectors.tickets_changed_since(since=since - list_freshness.MARGIN):
        return HttpResponse(status=204)
    partial = "rows" if request.GET.get("cursor") else "list"
    context = inbox_screen_context(request)
    if since and context["rows_digest"] == request.GET.get("live_digest"):
        return HttpResponse(status=204)
    response = render(request, f"inbox/list/{partial}.html", context)
    if request.htmx and request.headers.get("HX-Trigger") == "inbox-filters":
        # Keep the address bar in step with the filters (and with the ticket that is open).
        current = urlsplit(request.headers.get("HX-Current-URL", "")).path
        path = current if current.startswith(reverse("inbox")) else reverse("inbox")
        query = request.GET.copy()
        query.pop("cursor", None)
        response["HX-Push-Url"] = f"{path}?{query.urlencode()}" if query else path
    return response


@login_required
@require_GET
def ticket_list(request: AgentRequest) -> HttpResponse:
    """Messages > Ticket: every ticket, filtered and sorted, with bulk changes."""
    form = TicketFilterForm(request.GET)
    cursor = request.GET.get("cursor")
    page = selectors.ticket_list_page(
        filters=form.filters(), sort=form.current_sort, cursor=cursor, user=request.user
    )
    context = {
        "page": page,
        "form": form,
        "sort": form.current_sort,
        "bulk_form": BulkActionForm(),
        "query": request.GET.urlencode(),
    }
    if request.htmx and cursor:
        return render(request, "inbox/list/table_rows.html", context)
    return render(request, "inbox/ticket_list.html", context)


@login_required
@require_POST
def tickets_bulk(request: AgentRequest) -> HttpResponse:
    """Apply one change to the checked tickets; a toast tells what was done and what refused."""
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
    else:
        result = inbox_services.tickets_bulk_update(
            ticket_ids=form.cleaned_data["ids"], actor=request.user, **form.changes()
        )
        if result.overridable and request.user.is_staff:
            return _bulk_override_offer(request, form, result)
        notify = messages.warning if result.refused else messages.success
        notify(request, result.summary())
    query = QueryDict(request.POST.get("query", ""), mutable=True)
    query.pop("cursor", None)
    url = reverse("ticket-list")
    return redirect(f"{url}?{query.urlencode()}" if query else url)


def _bulk_override_offer(
    request: AgentRequest, form: BulkActionForm, result: BatchOutcome
) -> HttpResponse:
    """A staff user's confirmation step: what was done, what the routing rules refused and
    why, and a button that assigns the refused tickets anyway."""
    context = {
        "result": result,
        "summary": result.summary(),
        "assignee": form.cleaned_data["assignee"],
        "query": request.POST.get("query", ""),
    }
    return render(request, "inbox/bulk_override.html", context)


def _first_error(form: forms.Form) -> str:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return _("Please check the form.")
