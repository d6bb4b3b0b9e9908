"""Admin list pages run the same number of queries for 3 rows as for 9 (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from configuration.models import ActivityCategory, OperatorProfile, Subject
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets import services as ticket_services
from tickets.models import Activity

pytestmark = pytest.mark.django_db


def _add_tickets(n: int, agent) -> None:
    category = ActivityCategory.objects.get_or_create(name="Question", parent=None)[0]
    sub = ActivityCategory.objects.get_or_create(name="Pricing", parent=category)[0]
    subject = Subject.objects.get_or_create(name="Billing information")[0]
    for _i in range(n):
        account = make_account()
        ticket = make_ticket(account=account, customer=make_customer(kind=account.kind))
        ticket.subject = subject
        ticket.save(update_fields=["subject"])
        ticket_services.ticket_assign(ticket=ticket, assignee=agent)
        ticket_services.ticket_add_tag(ticket=ticket, name="vip")
        ticket_services.activity_add(
            ticket=ticket, call_reason="Price", category=category, subcategory=sub, actor=agent
        )


def _count(client, url: str, expected_rows: int) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == expected_rows
    return len(ctx.captured_queries), "\n".join(q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:tickets_ticket_changelist",
        "admin:tickets_message_changelist",
        "admin:tickets_activity_changelist",
        "admin:tickets_ticketevent_changelist",
        "admin:customers_identity_changelist",
    ],
)
def test_ticket_admin_lists_do_not_grow_queries_with_rows(admin_client, agent, url_name):
    url = reverse(url_name)
    _add_tickets(3, agent)
    rows = len(admin_client.get(url).context["cl"].result_list)
    few, few_sql = _count(admin_client, url, rows)

    _add_tickets(6, agent)
    many, many_sql = _count(admin_client, url, rows * 3)

    assert many == few, f"{few} queries for {rows} rows, {many} for {rows * 3}:\n{many_sql}"


def test_capacity_list_does_not_grow_queries_with_agents(admin_client):
    url = reverse("admin:configuration_operatorprofile_changelist")
    for _i in range(3):
        make_user()
    few, _sql = _count(admin_client, url, 3)
    for _i in range(6):
        make_user()
    many, many_sql = _count(admin_client, url, 9)
    assert OperatorProfile.objects.count() == 9
    assert many == few, many_sql


def test_activity_list_shows_category_and_subcategory(admin_client, agent):
    _add_tickets(1, agent)
    page = admin_client.get(reverse("admin:tickets_activity_changelist")).content.decode()
    assert Activity.objects.count() == 1
    assert "Question › Pricing" in page
