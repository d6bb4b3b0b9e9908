"""The live counts tab of the reports: tickets per status, channel and agent, counted now."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import Ticket, TicketStatus
from tickets.services import ticket_assign


def test_reports_need_login(client, db):
    response = client.get(reverse("reports-live"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_agents_and_staff_both_see_reports(client, agent, admin_user):
    for user in (agent, admin_user):
        client.force_login(user)
        response = client.get(reverse("reports-live"))
        assert response.status_code == 200
        content = response.content.decode()
        assert "<h1>Reports</h1>" in content
        for heading in ("Tickets by status", "Tickets by channel", "Tickets by agent"):
            assert heading in content
        assert escape(agent.get_full_name() or agent.username) in content  # a row per agent


def test_reports_count_tickets_per_status_channel_and_agent(admin_client, agent, db):
    telegram, email = make_account(kind="telegram"), make_account(kind="email")
    first = make_ticket(account=telegram)
    make_ticket(account=telegram)
    closed = make_ticket(account=email, customer=make_customer(kind="email"))
    Ticket.objects.filter(pk=closed.pk).update(status=TicketStatus.CLOSED)
    ticket_assign(ticket=first, assignee=agent)
    idle = make_user("idle-agent")

    response = admin_client.get(reverse("reports-live"))
    by_status = {row.key: row.count for row in response.context["by_status"]}
    by_channel = {row.key: row.count for row in response.context["by_channel"]}
    by_agent = {row.user_id: row for row in response.context["by_agent"]}
    assert (by_status["open"], by_status["closed"], by_status["resolved"]) == (2, 1, 0)
    assert (by_channel["telegram"], by_channel["email"], by_channel["webchat"]) == (2, 1, 0)
    assert by_agent[agent.pk].by_status == {"open": 1} and by_agent[agent.pk].total == 1
    assert by_agent[idle.pk].total == 0
    assert by_agent[None].total == 2  # unassigned
    content = response.content.decode()
    assert "idle-agent" in content and "Unassigned" in content


def test_an_agent_sees_only_their_own_row_and_the_unassigned_one(agent_client, agent, account):
    ticket_assign(ticket=make_ticket(account=account), assignee=agent)
    ticket_assign(ticket=make_ticket(account=account), assignee=make_user("other-agent"))
    make_ticket(account=account)

    response = agent_client.get(reverse("reports-live"))

    rows = {row.user_id: row.total for row in response.context["by_agent"]}
    assert rows == {agent.pk: 1, None: 1}
    assert "other-agent" not in response.content.decode()


def test_reports_run_the_same_queries_for_n_and_3n_tickets(agent_client, agent, account):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get(reverse("reports-live")).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(2):
        ticket_assign(ticket=make_ticket(account=account), assignee=make_user())
    small = measure()
    for _ in range(6):
        ticket_assign(ticket=make_ticket(account=account), assignee=make_user())
    assert measure() == small <= 8
