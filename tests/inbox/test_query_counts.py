"""Every list page and the ticket page run a fixed number of queries, whatever the data size."""

from __future__ import annotations

import re

import pytest
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


def _measure(client, measure_page, url, grow, *, most: int):
    """Count the queries of ``url`` after ``grow(1)`` and again after ``grow(3)`` (about three
    times the data): the same number both times, at most ``most``, and the larger data shown."""
    grow(1)
    small = measure_page(client, url)
    assert small.status == 200
    grow(3)
    large = measure_page(client, url)
    assert large.status == 200
    assert small.queries == large.queries, "\n".join(large.sql)
    assert large.queries <= most, "\n".join(large.sql)
    return small, large


def test_home_runs_the_same_queries_for_3_and_30_tickets(agent_client, agent, measure_page):
    def grow(factor):
        _tickets(3 * factor if factor == 1 else 27, agents=[agent, *_team(factor)])

    # 10 for the page (the pool per department is one), 3 for the own figures of today read
    # from the hourly snapshots
    small, large = _measure(agent_client, measure_page, reverse("home"), grow, most=13)

    def team_size(content: str) -> int:
        return int(re.search(r"active\s*/\s*(\d+)", content).group(1))

    # the team beside the figures grew with the data: the larger page shows more
    assert (team_size(small.content), team_size(large.content)) == (2, 5)


@pytest.mark.parametrize("tab", ["mine", "unassigned", "all"])
def test_inbox_tab_runs_the_same_queries_for_n_and_3n_tickets(
    agent_client, agent, measure_page, tab
):
    def grow(factor):
        _tickets(5 * factor, agents=[agent])

    url = reverse("inbox") + f"?tab={tab}"
    small, large = _measure(agent_client, measure_page, url, grow, most=8)
    assert 0 < small.rows < large.rows


@pytest.mark.parametrize("query", ["", "?status=open"])
def test_ticket_list_runs_the_same_queries_for_n_and_3n_tickets(
    agent_client, agent, measure_page, query
):
    def grow(factor):
        _tickets(5 * factor, agents=[agent, *_team(factor)])

    url = reverse("ticket-list") + query
    small, large = _measure(agent_client, measure_page, url, grow, most=9)
    assert 0 < small.rows < large.rows
