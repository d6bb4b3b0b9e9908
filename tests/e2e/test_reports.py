"""The reports overview in a real browser: a chart is drawn from its JSON and its numbers are in
the table beside it, with no Content-Security-Policy violation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from reports.selectors import local_midnight
from tests.e2e.conftest import login
from tests.factories import make_user
from tests.reports.snapshots import ticket_hour

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_overview_draws_its_charts_beside_their_tables(new_page, live):
    staff = make_user("sena", staff=True, first_name="Sena")
    morning = local_midnight(day=timezone.localdate(), tz=timezone.get_current_timezone())
    ticket_hour(morning + timedelta(hours=1), agent=staff, created=4, first_responses=[60, 90])
    page = new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if m.type == "error" else None)
    login(page, staff.username)
    page.goto(reverse("reports") + "?range=today")
    canvas = page.locator('canvas[data-chart="chart-volume-day"]')
    expect(canvas).to_have_attribute("data-drawn", "1")
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    table = page.locator("#section-by-day table")
    expect(table).to_contain_text(timezone.localdate().isoformat())
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text("4")
    assert violations == []
