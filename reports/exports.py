"""Exports: every report table as CSV or XLSX, and the per-ticket export, streamed.

Cells that a spreadsheet would run as a formula (text starting with = + - @, a tab or a carriage
return: customer names, subjects, call reasons) are written with a leading apostrophe.
The per-ticket export reads tickets in keyset batches (``id > last``), the activities of each batch
in one more query, so memory holds one batch whatever the number of tickets; the XLSX goes through
XlsxWriter's ``constant_memory`` mode to a temporary file that is streamed and then gone.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import xlsxwriter  # type: ignore[import-untyped]
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.pages import Table
from reports.selectors import ReportFilters, ReportPeriod
from tickets.models import Activity, Message, Ticket

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000


def cell_safe(value: Any) -> Any:
    """The value as a spreadsheet should store it: text never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """CSV (UTF-8 with a BOM, so spreadsheets read Turkish letters) one line at a time."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow([cell_safe(v) for v in header]).encode()
    for row in rows:
        yield writer.writerow([cell_safe(v) for v in row]).encode()


def _table_header(table: Table) -> list[str]:
    return [
        f"{column.title} ({_('seconds')})" if column.kind == "seconds" else str(column.title)
        for column in table.columns
    ]


def table_csv(table: Table) -> bytes:
    return b"".join(csv_lines(_table_header(table), table.rows))


def _xlsx_write(sheet: Any, row: int, values: Sequence[Any], fmt: Any = None) -> None:
    for col, value in enumerate(values):
        safe = cell_safe(value)
        if isinstance(safe, str):
            sheet.write_string(row, col, safe, fmt)  # never a formula, a URL or a number
        else:
            sheet.write_number(row, col, safe, fmt)


def table_xlsx(table: Table) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(str(table.title)[:31])
    bold = book.add_format({"bold": True})
    _xlsx_write(sheet, 0, _table_header(table), bold)
    for i, row in enumerate(table.rows, start=1):
        _xlsx_write(sheet, i, row)
    book.close()
    return buffer.getvalue()


# --- per ticket --------------------------------------------------------------------------------


def ticket_export_header() -> list[str]:
    return [
        _("Ticket"),
        _("Channel"),
        _("Customer"),
        _("Group type"),
        _("Subject"),
        _("Department"),
        _("Agent"),
        _("Created"),
        _("First response"),
        _("Resolved"),
        _("Rating"),
        _("Activities"),
        _("Call time (seconds)"),
    ]


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def _agent_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or username or ""


def ticket_export_rows(
    *, period: ReportPeriod, filters: ReportFilters, batch: int = BATCH
) -> Iterator[list[Any]]:
    """One row per ticket created in the period (filters as on the pages), by id.

    Two queries per ``batch`` tickets: the tickets (with names and the first reply as a
    subquery), then their activities.
    """
    qs = Ticket.objects.filter(
        filters.q(agent="assignee_id", channel="source"),
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    first_reply = (
        Message.objects.filter(ticket_id=OuterRef("pk"), direction=Message.Direction.OUTBOUND)
        .order_by("sent_at", "id")
        .values("sent_at")[:1]
    )
    columns = (
        "id",
        "source",
        "customer__name",
        "group_type__name",
        "subject__name",
        "department__name",
        "assignee__first_name",
        "assignee__last_name",
        "assignee__username",
        "created_at",
        "first_reply",
        "resolved_at",
        "rating",
    )
    rows_qs: QuerySet[Any, tuple[Any, ...]] = (
        qs.annotate(first_reply=Subquery(first_reply)).order_by("id").values_list(*columns)
    )
    last_id = 0
    while True:
        chunk = list(rows_qs.filter(id__gt=last_id)[:batch])
        if not chunk:
            return
        last_id = chunk[-1][0]
        activities: dict[int, list[tuple[str, int]]] = {}
        for ticket_id, reason, category, subcategory, seconds in (
            Activity.objects.filter(ticket_id__in=[row[0] for row in chunk])
            .order_by("ticket_id", "created_at", "id")
            .values_list(
                "ticket_id", "call_reason", "category__name", "subcategory__name", "call_seconds"
            )
        ):
            label = " / ".join(x for x in (category, subcategory) if x)
            text = f"{reason} ({label})" if label else reason
            activities.setdefault(ticket_id, []).append((f"{text} {seconds}s", seconds))
        for row in chunk:
            acts = activities.get(row[0], [])
            yield [
                row[0],
                row[1],
                row[2],
                row[3] or "",
                row[4] or "",
                row[5] or "",
                _agent_name(row[6], row[7], row[8]),
                _local(row[9]),
                _local(row[10]),
                _local(row[11]),
                row[12] if row[12] is not None else "",
                "; ".join(text for text, _s in acts),
                sum(s for _t, s in acts),
            ]


def xlsx_file(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> IO[bytes]:
    """An XLSX of the rows in a temporary file (constant memory), rewound, deleted on close."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    book = xlsxwriter.Workbook(handle, {"constant_memory": True})
    sheet = book.add_worksheet(_("Tickets")[:31])
    _xlsx_write(sheet, 0, header, book.add_format({"bold": True}))
    for i, row in enumerate(rows, start=1):
        _xlsx_write(sheet, i, row)
    book.close()
    handle.seek(0)
    return handle
