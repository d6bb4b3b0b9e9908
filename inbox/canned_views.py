"""Canned responses on the agent screen: the composer's ``/`` search and insertion, and the
agent's own page of answers (list, add, edit, delete: only their own, the shared ones are the
admin's). Views parse, call a selector or a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from configuration import selectors as canned_selectors
from configuration import services as canned_services
from configuration.canned import canned_text_render
from configuration.forms import CannedResponseForm
from configuration.models import CannedResponse
from inbox.ticket_selectors import ticket_get
from omnico.core.http import AgentRequest

# --- the composer ---------------------------------------------------------------------------


@login_required
@require_GET
def canned_search(request: AgentRequest) -> HttpResponse:
    """The options of the composer's list for ``?q=`` (what follows the ``/``)."""
    answers = canned_selectors.canned_response_search(
        user=request.user, query=request.GET.get("q", "")[:80], language=get_language() or ""
    )
    return render(request, "inbox/fragments/canned_options.html", {"answers": answers})


@login_required
@require_GET
def canned_render(request: AgentRequest, ticket_id: int, canned_id: int) -> JsonResponse:
    """The answer's text with its variables filled in for the ticket, as plain text (the
    composer puts it in the textarea; shown later as HTML, it is escaped like any message)."""
    ticket = ticket_get(ticket_id=ticket_id, user=request.user)
    answer = canned_selectors.canned_response_get_usable(user=request.user, pk=canned_id)
    values = {
        "customer_name": ticket.customer.name,
        "agent_name": request.user.get_full_name() or request.user.get_username(),
        "ticket_number": str(ticket.pk),
    }
    return JsonResponse(
        {"id": answer.pk, "text": canned_text_render(text=answer.text, values=values)}
    )


def canned_count_sent(request: AgentRequest) -> None:
    """Count a use of each answer the composer inserted in the reply just sent (its hidden
    ``canned`` inputs); a note is not sent, so ``ticket_reply`` calls this for replies only."""
    ids = [int(raw) for raw in request.POST.getlist("canned")[:20] if raw.isdigit()]
    canned_services.canned_response_count_sent(user=request.user, ids=ids)


# --- the agent's own answers ----------------------------------------------------------------


@login_required
@require_GET
def canned_list(request: AgentRequest) -> HttpResponse:
    own = list(canned_selectors.canned_responses_own(user=request.user))
    return render(request, "inbox/canned/list.html", {"answers": own})


def _save(request: AgentRequest, answer: CannedResponse) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = CannedResponseForm(data, instance=answer, owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            canned_services.canned_response_save(owner=request.user, answer=form.instance)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Canned response saved."))
            return redirect("canned-list")
    return render(request, "inbox/canned/form.html", {"form": form, "answer": answer})


@login_required
@require_http_methods(["GET", "POST"])
def canned_add(request: AgentRequest) -> HttpResponse:
    return _save(request, CannedResponse(owner=request.user))


@login_required
@require_http_methods(["GET", "POST"])
def canned_edit(request: AgentRequest, canned_id: int) -> HttpResponse:
    return _save(request, canned_selectors.canned_response_get_own(user=request.user, pk=canned_id))


@login_required
@require_POST
def canned_delete(request: AgentRequest, canned_id: int) -> HttpResponse:
    answer = canned_selectors.canned_response_get_own(user=request.user, pk=canned_id)
    canned_services.canned_response_delete(user=request.user, answer=answer)
    messages.success(request, _("Canned response deleted."))
    return redirect("canned-list")
