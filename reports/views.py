"""Report pages (tabs over the hourly snapshots), their exports, the per-ticket export, and the
live counts. Agents see their own figures only: ``ReportForm.report_filters`` forces the agent."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reports.exports import (
    csv_lines,
    table_csv,
    table_xlsx,
    ticket_export_header,
    ticket_export_rows,
    xlsx_file,
)
from reports.forms import ReportForm, period_label
from reports.pages import TABS, report_page_build
from reports.selectors import stats_last_refreshed
from tickets.models import TicketStatus
from tickets.selectors import agent_counts, channel_counts, status_counts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _form(request: HttpRequest) -> ReportForm:
    return ReportForm(request.GET or None, user=request.user)


@login_required
@require_GET
def reports_page(request: HttpRequest, tab: str = "overview") -> HttpResponse:
    if tab not in TABS:
        raise Http404
    form = _form(request)
    period = form.report_period()
    page = report_page_build(tab=tab, period=period, filters=form.report_filters())
    context = {
        "form": form,
        "tab": tab,
        "tabs": [(slug, label) for slug, (label, _build) in TABS.items()],
        "page": page,
        "period": period_label(period),
        "last_refreshed": stats_last_refreshed(),
        "query": request.GET.urlencode(),
    }
    return render(request, "reports/page.html", context)


def _filename(stem: str, ext: str) -> str:
    return f"omnico-{stem}-{timezone.localdate().isoformat()}.{ext}"


@login_required
@require_GET
def reports_export(request: HttpRequest, tab: str, table: str, fmt: str) -> HttpResponse:
    if tab not in TABS:
        raise Http404
    form = _form(request)
    page = report_page_build(tab=tab, period=form.report_period(), filters=form.report_filters())
    found = page.table(table)
    if found is None:
        raise Http404
    name = _filename(f"{tab}-{table}", fmt)
    if fmt == "csv":
        body, kind = table_csv(found), "text/csv; charset=utf-8"
    else:
        body, kind = table_xlsx(found), XLSX
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_GET
def reports_tickets_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    form = _form(request)
    rows = ticket_export_rows(period=form.report_period(), filters=form.report_filters())
    name = _filename("tickets", fmt)
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_lines(ticket_export_header(), rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(
        xlsx_file(ticket_export_header(), rows),
        as_attachment=True,
        filename=name,
        content_type=XLSX,
    )


@login_required
def reports_live(request: HttpRequest) -> HttpResponse:
    """Tickets per status, per channel and per agent, counted now (the queue as it stands)."""
    context = {
        "by_status": status_counts(),
        "by_channel": channel_counts(),
        "by_agent": agent_counts(),
        "statuses": TicketStatus.choices,
        "tab": "live",
        "tabs": [(slug, label) for slug, (label, _build) in TABS.items()],
    }
    return render(request, "reports/live.html", context)
