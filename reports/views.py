"""Report pages. For now live counts; hourly snapshots and charts come with the statistics job."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tickets.models import TicketStatus
from tickets.selectors import agent_counts, channel_counts, status_counts


@login_required
def reports_index(request: HttpRequest) -> HttpResponse:
    """Tickets per status, per channel and per agent; staff and agents alike may see it."""
    context = {
        "by_status": status_counts(),
        "by_channel": channel_counts(),
        "by_agent": agent_counts(),
        "statuses": TicketStatus.choices,
    }
    return render(request, "reports/index.html", context)
