"""The agent's "Load images" on one e-mail: the message body again, in a sandboxed frame
whose document may load remote pictures (the agent page's own policy stays images-from-here)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from inbox import ticket_selectors as selectors
from inbox.mail_html import FRAME_POLICY, mail_html
from omnico.core.http import AgentRequest


@login_required
@require_GET
def message_images(request: AgentRequest, ticket_id: int, message_id: int) -> HttpResponse:
    """The message body swapped in by htmx: the frame that shows it with its pictures."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    message = selectors.message_get(ticket=ticket, message_id=message_id)
    return render(request, "inbox/ticket/mail_frame.html", {"message": message})


@login_required
@require_GET
@xframe_options_sameorigin
def message_html_document(request: AgentRequest, ticket_id: int, message_id: int) -> HttpResponse:
    """The framed document: the sanitised mail with its remote pictures; no script, style or
    form may run in it (its own policy, and the frame's sandbox)."""
    ticket = selectors.ticket_get(ticket_id=ticket_id, user=request.user)
    message = selectors.message_get(ticket=ticket, message_id=message_id)
    body = mail_html(message, remote_images=True)
    response = render(request, "inbox/ticket/mail_document.html", {"body": body.html})
    response["Content-Security-Policy"] = FRAME_POLICY
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
