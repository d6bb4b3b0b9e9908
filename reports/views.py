"""Report pages (tabs over the hourly snapshots), their exports, the per-ticket export, and the
live counts. Agents see their own figures only: ``ReportForm.report_filters`` forces the agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import IO

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import (
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


def _chunked(parts: Iterable[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    buffer: list[bytes] = []
    held = 0
    for part in parts:
        buffer.append(part)
        held += len(part)
        if held >= size:
            yield b"".join(buffer)
            buffer, held = [], 0
    if buffer:
        yield b"".join(buffer)


def _file_chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


async def _pulled(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks pulled one at a time in the request's sync thread (where its database
    connection lives): under ASGI, Django would otherwise read a sync iterator to its end into
    a list before sending the first byte."""

    def pull() -> bytes | None:
        return next(chunks, None)

    pull_async = sync_to_async(pull, thread_sensitive=True)
    try:
        while (chunk := await pull_async()) is not None:
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()


def _streamed(
    request: HttpRequest, chunks: Iterator[bytes]
) -> Iterator[bytes] | AsyncIterator[bytes]:
    return _pulled(chunks) if isinstance(request, ASGIRequest) else chunks


@login_required
@require_GET
def reports_tickets_export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """Every ticket of the period as CSV (streamed as it is read, one batch in memory) or XLSX
    (written to a temporary file in constant memory, then streamed)."""
    form = _form(request)
    rows = ticket_export_rows(period=form.report_period(), filters=form.report_filters())
    if fmt == "csv":
        chunks = _chunked(csv_lines(ticket_export_header(), rows))
        kind = "text/csv; charset=utf-8"
    else:
        chunks = _file_chunks(xlsx_file(ticket_export_header(), rows))
        kind = XLSX
    response = StreamingHttpResponse(_streamed(request, chunks), content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{_filename("tickets", fmt)}"'
    return response


@login_required
def reports_live(request: HttpRequest) -> HttpResponse:
    """Tickets per status, per channel and per agent, counted now (the queue as it stands).
    An agent sees their own row and the unassigned one; staff see every agent's."""
    by_agent = agent_counts()
    if not request.user.is_staff:
        by_agent = [row for row in by_agent if row.user_id in (request.user.pk, None)]
    context = {
        "by_status": status_counts(),
        "by_channel": channel_counts(),
        "by_agent": by_agent,
        "statuses": TicketStatus.choices,
        "tab": "live",
        "tabs": [(slug, label) for slug, (label, _build) in TABS.items()],
    }
    return render(request, "reports/live.html", context)
