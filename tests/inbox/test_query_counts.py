"""Every list page and the ticket page run a fixed number of queries, whatever the data size."""

from __future__ import annotations

from django.urls import reverse

from configuration.models import BreakReason
from tests.factories import make_account, make_customer, make_ticket, make_user
from tickets.models import AgentPresence
from tickets.services import (
    ticket_add_tag,
    ticket_assign,
)


def _tickets(n: int, *, agents: list) -> None:
    accounts = [make_account(kind=kind) for kind in ("telegram", "email", "whatsapp")]
    for i in range(n):
        account = accounts[i % 3]
        ticket = make_ticket(account=account, customer=make_customer(kind=account.kind))
        if i % 2:
            ticket_assign(ticket=ticket, assignee=agents[i % len(agents)])
        if i % 5 == 0:
            ticket_add_tag(ticket=ticket, name=f"tag{i % 3}")


def _team(extra: int) -> list:
    reason = BreakReason.objects.get_or_create(name="Lunch")[0]
    users = [make_user() for _ in range(extra)]
    for i, user in enumerate(users):
        AgentPresence.objects.create(user=user, is_active=bool(i % 2), break_reason=reason)
    return users


def _measure(client, count_queries, url, grow) -> tuple[int, int]:
    grow(1)
    status, small, _sql = count_queries(client, url)
    assert status == 200
    grow(3)
    status, large, sql = count_queries(client, url)
    assert status == 200
    assert small == large, "\n".join(sql)
    return small, large


def test_home_runs_the_same_queries_for_3_and_30_tickets(agent_client, agent, count_queries):
    def grow(factor):
        _tickets(3 * factor if factor == 1 else 27, agents=[agent, *_team(factor)])

    small, _ = _measure(agent_client, count_queries, reverse("home"), grow)
    assert small <= 10


def test_inbox_runs_the_same_queries_for_n_and_3n_tickets(agent_client, agent, count_queries):
    def grow(factor):
        _tickets(5 * factor, agents=[agent])

    for tab in ("mine", "unassigned", "all"):
        _measure(agent_client, count_queries, reverse("inbox") + f"?tab={tab}", lambda f: None)
    _measure(agent_client, count_queries, reverse("inbox") + "?tab=all", grow)


def test_ticket_list_runs_the_same_queries_for_n_and_3n_tickets(agent_client, agent, count_queries):
    def grow(factor):
        _tickets(5 * factor, agents=[agent, *_team(factor)])

    _measure(agent_client, count_queries, reverse("ticket-list"), grow)
    _measure(agent_client, count_queries, reverse("ticket-list") + "?status=open", lambda f: None)
