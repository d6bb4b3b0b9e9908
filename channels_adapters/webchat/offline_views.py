"""The support page when nobody can chat: the offline form, its acknowledgement, and the
maximum-wait check a waiting page calls (``static/support/offline.js``).

``support_page`` asks ``offline_page`` first: out of business hours, on a holiday, with no
agent active (when the page says so) or when the visitor's ticket became an offline message
(maximum wait), the page is the offline form; a visitor in a live chat keeps chatting.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels_adapters.webchat import selectors
from channels_adapters.webchat.availability import Availability, support_availability
from channels_adapters.webchat.embedding import embeddable, support_page_for
from channels_adapters.webchat.forms import OfflineForm
from channels_adapters.webchat.limits import support_rate_limited
from channels_adapters.webchat.offline import offline_message_post, visitor_wait_check
from channels_adapters.webchat.services import VisitorMessageError
from channels_adapters.webchat.visitor import (
    visitor_from_request,
    visitor_new,
    visitor_set_cookie,
)
from configuration.models import SupportPage
from tickets.models import ACTIVE_STATUSES

TEMPLATE = "support/page.html"


def _reason_text(availability: Availability | None) -> str:
    if availability is None:  # the maximum wait
        return _(
            "No agent could take your chat in time. Leave us your message and how to reach "
            "you: the conversation so far is kept, and we will answer as soon as we can."
        )
    if availability.reason == "holiday":
        if availability.holiday:
            return _("We are closed today (%(name)s). Leave us a message.") % {
                "name": availability.holiday
            }
        return _("We are closed today. Leave us a message.")
    if availability.reason == "no_agent":
        return _("No agent is available right now. Leave us a message.")
    return _("We are outside our business hours. Leave us a message.")


def _initial(request: HttpRequest, page: SupportPage) -> dict:
    """What the visitor already told (the chat's contact step), to pre-fill the form."""
    from channels_adapters.webchat.views import _intake

    intake = _intake(request, page)
    initial: dict = {"client_id": str(uuid.uuid4())}
    if intake is not None:
        initial.update(
            name=intake.name, email=intake.email, phone=intake.phone, subject=intake.subject_id
        )
    return initial


def _context(page: SupportPage, form: OfflineForm, reason: str) -> dict:
    name = page.channel_account.name
    return {
        "page": page,
        "urls": {
            "page": reverse("support:page", args=[name]),
            "offline": reverse("support:offline", args=[name]),
            "theme": reverse("support:theme", args=[name]),
            "logo": reverse("support:logo", args=[name]) if page.logo else "",
        },
        "step": "offline",
        "offline_form": form,
        "offline_reason": reason,
    }


def offline_page(request: HttpRequest, page: SupportPage) -> HttpResponse | None:
    """The offline form (or its acknowledgement) when the page is offline for this visitor;
    None when they may chat."""
    if request.GET.get("sent"):
        context = _context(page, OfflineForm(subjects=[]), "")
        context["step"] = "offline_sent"
        return render(request, TEMPLATE, context)
    visitor_id = visitor_from_request(request)
    ticket = (
        selectors.visitor_ticket(account_id=page.channel_account_id, visitor_id=visitor_id)
        if visitor_id
        else None
    )
    availability: Availability | None
    if ticket is not None and ticket.status in ACTIVE_STATUSES:
        if not ticket.is_offline:
            return None  # a live chat goes on, whatever the hours
        availability = None
    else:
        availability = support_availability(page=page)
        if availability.is_open:
            return None
    form = OfflineForm(initial=_initial(request, page), subjects=selectors.subjects_for_visitors())
    return render(request, TEMPLATE, _context(page, form, _reason_text(availability)))


@embeddable
@require_POST
@support_rate_limited("offline")
def support_offline(request: HttpRequest, name: str) -> HttpResponse:
    """The offline form: stored durably, then the acknowledgement (a redirect, so a reload
    does not post again; a double post is deduplicated by the form's client id anyway)."""
    page = support_page_for(request, name)
    subjects = selectors.subjects_for_visitors()
    form = OfflineForm(request.POST, subjects=subjects)
    if form.is_valid():
        from channels_adapters.webchat.views import _intake

        intake = _intake(request, page)
        visitor_id = visitor_from_request(request) or visitor_new()
        try:
            offline_message_post(
                account=page.channel_account,
                visitor_id=visitor_id,
                client_id=form.cleaned_data["client_id"],
                message=form.offline_message(
                    group_type_id=intake.group_type_id if intake else None
                ),
                company_name=page.company_name,
            )
        except VisitorMessageError as exc:
            form.add_error(None, str(exc))
        else:
            response = redirect(reverse("support:page", args=[name]) + "?sent=1")
            visitor_set_cookie(request, response, visitor_id)
            return response
    context = _context(page, form, "")
    return render(request, TEMPLATE, context, status=400)


@require_POST
def support_wait(request: HttpRequest, name: str) -> JsonResponse:
    """A waiting page asks whether its maximum wait is over; when it is, the ticket becomes
    an offline message and the answer carries the offline form to show in place of the chat."""
    page = support_page_for(request, name)
    visitor_id = visitor_from_request(request)
    if visitor_id is None:
        return JsonResponse({"state": "done"})
    wait = visitor_wait_check(page=page, visitor_id=visitor_id)
    answer: dict = {"state": wait.state, "retry_in": wait.retry_in}
    if wait.state == "offline":
        form = OfflineForm(
            initial=_initial(request, page), subjects=selectors.subjects_for_visitors()
        )
        context = _context(page, form, _reason_text(None))
        answer["html"] = render_to_string(
            "support/fragments/offline.html", context, request=request
        )
    return JsonResponse(answer)
