"""The raw payload behind a customer's message, for staff: what the channel really sent when
the conversation shows only a summary line of it (a type Omnico does not render)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from inbox.raw_selectors import message_raw_payload
from omnico.core.http import AgentRequest


@login_required
@require_GET
def message_raw(request: AgentRequest, message_id: int) -> HttpResponse:
    """The stored inbound event of the message, escaped; 403 to anyone but staff."""
    raw = message_raw_payload(message_id=message_id, user=request.user)
    return render(request, "inbox/ticket/message_raw.html", {"raw": raw})
