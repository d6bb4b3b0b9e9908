"""The homepage: team, empty capacity, works, pool, offline messages, live statistics."""

from __future__ import annotations

from django.urls import reverse

from configuration.models import BreakReason
from tests.factories import make_customer, make_ticket, make_user
from tickets.models import AgentPresence, Ticket
from tickets.services import ticket_assign


def test_home_shows_team_with_presence_and_break_reason(agent_client, agent, db):
    lunch = BreakReason.objects.create(name="Lunch break")
    AgentPresence.objects.create(user=agent, is_active=True)
    resting = make_user("resting-agent")
    AgentPresence.objects.create(user=resting, is_active=False, break_reason=lunch)
    content = agent_client.get(reverse("home")).content.decode()
    team = content[content.index('id="team-h"') : content.index('id="capacity-h"')]
    assert "agent-a" in team and "resting-agent" in team
    assert "Lunch break" in team
    assert "Active" in team and "Passive" in team


def test_home_shows_my_capacity_works_and_free_slots(agent_client, agent, account):
    for _ in range(2):
        ticket_assign(ticket=make_ticket(account=account), assignee=agent)
    response = agent_client.get(reverse("home"))
    me = response.context["page"].me
    assert (me.capacity, me.works, me.free) == (5, 2, 3)
    content = response.content.decode()
    capacity = content[content.index('id="capacity-h"') : content.index('id="works-h"')]
    assert "<dd>5</dd>" in capacity and "<dd>2</dd>" in capacity and ">3</dd>" in capacity


def test_home_lists_my_works_pool_and_offline_messages(agent_client, agent, account):
    mine = make_ticket(account=account, customer=make_customer(name="Mine Person"))
    ticket_assign(ticket=mine, assignee=agent)
    make_ticket(account=account, customer=make_customer(name="Pool Person"))
    offline = make_ticket(account=account, customer=make_customer(name="Night Person"))
    Ticket.objects.filter(pk=offline.pk).update(is_offline=True)
    content = agent_client.get(reverse("home")).content.decode()
    works = content[content.index('id="works-h"') : content.index('id="pool-h"')]
    pool = content[content.index('id="pool-h"') : content.index('id="offline-h"')]
    offline_part = content[content.index('id="offline-h"') : content.index('id="stats-h"')]
    assert "Mine Person" in works and "Pool Person" not in works
    assert "Pool Person" in pool and "Mine Person" not in pool
    assert "Night Person" in offline_part and "Night Person" not in pool
    # An offline message waits for an e-mail answer, not for a slot: it is not in the pool.
    assert '<span class="count">1</span>' in pool


def test_home_statistics_are_live_counts_by_status_and_channel(agent_client, account):
    make_ticket(account=account)
    make_ticket(account=account)
    response = agent_client.get(reverse("home"))
    by_status = {row.key: row.count for row in response.context["page"].by_status}
    by_channel = {row.key: row.count for row in response.context["page"].by_channel}
    assert by_status["open"] == 2 and by_status["closed"] == 0
    assert by_channel["telegram"] == 2 and by_channel["email"] == 0
    assert "live" in response.content.decode()


def test_home_shows_the_pool_per_department_and_the_teams_free_slots(
    agent_client, agent, django_assert_max_num_queries
):
    from configuration.models import Department, OperatorProfile
    from tickets.models import Ticket
    from tickets.presence import agent_go_active

    OperatorProfile.objects.filter(user=agent).update(capacity=3)
    agent_go_active(user=agent)
    other = make_user("other-agent", capacity=4)
    agent_go_active(user=other)
    billing = Department.objects.create(name="Billing")
    for body in ("one", "two"):
        Ticket.objects.filter(pk=make_ticket(body=body).pk).update(department=billing)
    make_ticket(body="no department")

    with django_assert_max_num_queries(13):  # 10 + 3 for the statistics card's snapshots
        content = agent_client.get(reverse("home")).content.decode()

    assert "7 free slots in the team" in content
    pool = content[content.index('id="pool-h"') :]
    billing_row = pool[pool.index(f'data-pool-department="{billing.pk}"') :]
    assert "Billing" in billing_row and '<td class="num">2</td>' in billing_row
    none_row = pool[pool.index('data-pool-department="none"') :]
    assert "No department" in none_row and '<td class="num">1</td>' in none_row


def test_home_runs_the_same_queries_for_one_and_four_departments(agent_client, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from configuration.models import Department
    from tickets.models import Ticket

    def add_department(name: str) -> None:
        department = Department.objects.create(name=name)
        Ticket.objects.filter(pk=make_ticket(body=name).pk).update(department=department)

    add_department("A")
    with CaptureQueriesContext(connection) as small:
        agent_client.get(reverse("home"))
    for name in ("B", "C", "D"):
        add_department(name)
    with CaptureQueriesContext(connection) as large:
        content = agent_client.get(reverse("home")).content.decode()
    # 10 for the page, 3 for the statistics card (hourly snapshots)
    assert len(small) == len(large) == 13, "\n".join(q["sql"] for q in large)
    assert content.count("data-pool-department=") == 4
