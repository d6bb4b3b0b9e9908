"""Exports: each report table as CSV and XLSX, and the per-ticket export, streamed."""

from __future__ import annotations

import csv
import io
import types
from datetime import UTC, datetime

import openpyxl
import pytest
from django.urls import reverse

from configuration.models import ActivityCategory, ChannelKind
from reports.exports import cell_safe
from tests.factories import make_account, make_customer, make_ticket, make_user
from tests.reports.snapshots import ticket_hour
from tickets.models import Activity, Message, Ticket

MARCH = {"range": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list[object]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def hours(db):
    ayse = make_user("ayse", first_name="Ayşe")
    mehmet = make_user("mehmet", first_name="=HYPERLINK(1)")
    ticket_hour(
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        agent=ayse,
        channel="telegram",
        assigned=3,
        first_responses=[60, 120, 180],
    )
    ticket_hour(datetime(2026, 3, 2, 9, tzinfo=UTC), agent=mehmet, channel="email", assigned=1)
    return ayse, mehmet


def test_a_table_exports_as_csv_and_xlsx_with_the_figures_of_the_page(client, hours):
    client.force_login(make_user("boss", staff=True))
    url = reverse("reports-export", args=["agents", "tickets", "csv"])
    rows = read_csv(client.get(url, MARCH))
    assert rows[0][:3] == ["Agent", "Assigned", "Resolved"]
    assert "First response, median (seconds)" in rows[0]
    by_name = {row[0]: row for row in rows[1:]}
    assert (
        by_name["Ayşe"][1] == "3"
        and by_name["Ayşe"][rows[0].index("First response, median (seconds)")] == "120"
    )
    assert "'=HYPERLINK(1)" in by_name  # a formula in a name is text

    sheet = read_xlsx(
        client.get(reverse("reports-export", args=["agents", "tickets", "xlsx"]), MARCH)
    )
    assert sheet[0][0] == "Agent"
    xlsx_rows = {row[0]: row for row in sheet[1:]}
    assert xlsx_rows["Ayşe"][1] == 3
    assert "'=HYPERLINK(1)" in xlsx_rows


def test_an_agent_exports_only_their_own_rows(client, hours):
    ayse, _mehmet = hours
    client.force_login(ayse)
    rows = read_csv(client.get(reverse("reports-export", args=["agents", "tickets", "csv"]), MARCH))
    assert [row[0] for row in rows[1:]] == ["Ayşe"]


def test_an_unknown_table_is_not_found(client, hours):
    client.force_login(make_user("boss", staff=True))
    assert client.get(reverse("reports-export", args=["agents", "nope", "csv"])).status_code == 404
    assert client.get("/reports/nope/tickets.csv").status_code == 404


def test_formula_starts_are_neutralised():
    assert [cell_safe(v) for v in ("=1+1", "+90", "-2", "@SUM(A1)", "ok", 5, None)] == [
        "'=1+1",
        "'+90",
        "'-2",
        "'@SUM(A1)",
        "ok",
        5,
        "",
    ]


@pytest.fixture
def tickets(db):
    ayse, mehmet = make_user("ayse", first_name="Ayşe"), make_user("mehmet")
    account = make_account(kind=ChannelKind.TELEGRAM)
    mine = make_ticket(account=account, customer=make_customer(name="=cmd|' /C calc'!A0"))
    theirs = make_ticket(account=account)
    Ticket.objects.filter(pk=mine.pk).update(assignee=ayse, rating=4)
    Ticket.objects.filter(pk=theirs.pk).update(assignee=mehmet)
    Message.objects.create(
        ticket=mine,
        channel_account=account,
        direction="out",
        author=ayse,
        body="Merhaba",
        sent_at=mine.created_at,
    )
    question = ActivityCategory.objects.create(name="Question")
    Activity.objects.create(
        ticket=mine, call_reason="Kargo", category=question, call_seconds=90, status="done"
    )
    Activity.objects.create(ticket=mine, call_reason="İade", call_seconds=30, status="done")
    return mine, theirs


def test_the_per_ticket_export_streams_every_ticket_with_activities_and_call_time(client, tickets):
    mine, theirs = tickets
    client.force_login(make_user("boss", staff=True))
    response = client.get(reverse("reports-tickets-export", args=["csv"]), {"range": "today"})
    assert response.streaming
    assert not response.has_header("Content-Length")  # sent as it is read, length unknown
    rows = read_csv(response)
    header, body = rows[0], {int(r[0]): r for r in rows[1:]}
    assert header[:3] == ["Ticket", "Channel", "Customer"] and len(body) == 2
    row = body[mine.pk]
    assert row[header.index("Customer")] == "'=cmd|' /C calc'!A0"
    assert row[header.index("Agent")] == "Ayşe"
    assert row[header.index("Rating")] == "4"
    assert row[header.index("First response")] != ""
    assert row[header.index("Activities")] == "Kargo (Question) 90s; İade 30s"
    assert row[header.index("Call time (seconds)")] == "120"
    assert body[theirs.pk][header.index("First response")] == ""


def test_the_per_ticket_xlsx_holds_the_same_rows(client, tickets):
    mine, _theirs = tickets
    client.force_login(make_user("boss", staff=True))
    response = client.get(reverse("reports-tickets-export", args=["xlsx"]), {"range": "today"})
    sheet = read_xlsx(response)
    assert sheet[0][0] == "Ticket" and len(sheet) == 3
    row = next(r for r in sheet[1:] if r[0] == mine.pk)
    assert row[2] == "'=cmd|' /C calc'!A0" and row[12] == 120


def test_an_agent_exports_only_their_own_tickets(client, tickets):
    mine, _theirs = tickets
    client.force_login(Ticket.objects.get(pk=mine.pk).assignee)
    rows = read_csv(client.get(reverse("reports-tickets-export", args=["csv"]), {"range": "today"}))
    assert [int(r[0]) for r in rows[1:]] == [mine.pk]


def test_the_per_ticket_export_reads_in_batches_of_two_queries(tickets, django_assert_num_queries):
    from django.utils import timezone

    from reports.exports import ticket_export_rows
    from reports.selectors import ReportFilters, period_make

    today = timezone.localdate()
    rows = ticket_export_rows(
        period=period_make(first=today, last=today), filters=ReportFilters(), batch=1
    )
    assert isinstance(rows, types.GeneratorType)  # nothing read until the response is sent
    with django_assert_num_queries(5):  # 2 tickets, 1 a batch: 2 + 2 + the empty last batch
        assert len(list(rows)) == 2


def test_under_asgi_the_per_ticket_export_is_an_async_stream_not_a_buffered_list(tickets):
    """Django reads a sync iterator to its end before sending under ASGI: the export must hand
    it an async one, pulled a chunk at a time."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncRequestFactory

    from reports.views import reports_tickets_export

    request = AsyncRequestFactory().get("/reports/tickets.csv", {"range": "today"})
    request.user = make_user("boss", staff=True)
    response = reports_tickets_export(request, fmt="csv")
    assert response.is_async

    async def consume() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(consume)()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0][0] == "Ticket"
