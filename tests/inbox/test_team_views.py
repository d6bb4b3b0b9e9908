"""The supervisor's team screen: what it shows, its cost, and what a supervisor does from it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from configuration.models import BreakReason, Department, OperatorProfile
from tests.factories import make_ticket, make_user
from tickets.models import AgentPresence, BreakLog, PresenceLog, PresenceState, Ticket, TicketEvent
from tickets.presence import agent_go_active, agent_go_passive
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db

_seq = iter(range(10_000))


def _row(page: str, user) -> str:
    """The board's row of ``user``."""
    start = page.index(f'data-agent="{user.pk}"')
    return page[start : page.index("</tr>", start)]


def _working(name: str, *, capacity: int = 5):
    user = make_user(name, capacity=capacity)
    agent_go_active(user=user)
    return user


def test_supervisors_see_state_load_oldest_waiting_and_breaks_today(admin_client):
    lunch = BreakReason.objects.create(name="Lunch")
    ayse = _working("ayse", capacity=4)
    first, second = make_ticket(body="first"), make_ticket(body="second")
    for ticket in (first, second):
        ticket_assign(ticket=ticket, assignee=ayse)
    waited_since = timezone.now() - timedelta(minutes=42)
    Ticket.objects.filter(pk=first.pk).update(awaiting_reply_since=waited_since)
    Ticket.objects.filter(pk=second.pk).update(awaiting_reply_since=timezone.now())
    mehmet = _working("mehmet")
    agent_go_passive(user=mehmet, break_reason=lunch)
    BreakLog.objects.filter(agent=mehmet, ended_at__isnull=True).update(
        started_at=timezone.now() - timedelta(minutes=20)
    )
    BreakLog.objects.create(
        agent=mehmet,
        reason=lunch,
        reason_text="Lunch",
        started_at=timezone.now() - timedelta(minutes=90),
        ended_at=timezone.now() - timedelta(minutes=80),
    )

    page = admin_client.get(reverse("presence-team")).content.decode()

    ayse_row, mehmet_row = _row(page, ayse), _row(page, mehmet)
    assert 'data-state="active"' in ayse_row and 'data-load="2/4"' in ayse_row
    assert "waiting 42\xa0minutes" in ayse_row
    assert 'data-breaks="0"' in ayse_row
    assert 'data-state="passive"' in mehmet_row and "Lunch" in mehmet_row
    assert 'data-breaks="2"' in mehmet_row and "2 breaks, 30 min" in mehmet_row


def test_the_pool_is_shown_per_department_with_its_oldest_wait(admin_client):
    billing = Department.objects.create(name="Billing")
    old = make_ticket(body="old")
    Ticket.objects.filter(pk=old.pk).update(
        department=billing, pool_entered_at=timezone.now() - timedelta(hours=2)
    )
    make_ticket(body="no department")
    make_ticket(body="neither")

    page = admin_client.get(reverse("presence-team")).content.decode()

    pool = page[page.index('id="team-pool-h"') :]
    billing_row = pool[pool.index(f'data-pool-department="{billing.pk}"') :]
    assert "Billing" in billing_row[: billing_row.index("</tr>")]
    assert "2\xa0hours" in billing_row[: billing_row.index("</tr>")]
    none_row = pool[pool.index('data-pool-department="none"') :]
    assert "No department" in none_row and '<td class="num">2</td>' in none_row
    assert "data-pool-total>3<" in pool


def test_the_team_screen_runs_the_same_queries_for_2_and_8_agents(
    admin_client, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reason = BreakReason.objects.create(name="Tea")

    def grow(n: int) -> None:
        for _ in range(n):
            agent = _working(f"a{next(_seq)}")
            ticket_assign(ticket=make_ticket(), assignee=agent)
            agent_go_passive(user=agent, break_reason=reason)
            agent_go_active(user=agent)

    grow(2)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(reverse("presence-team"))
    grow(6)
    with CaptureQueriesContext(connection) as large:
        page = admin_client.get(reverse("presence-team")).content.decode()
    assert len(small) == len(large), "\n".join(q["sql"] for q in large)
    assert len(re.findall(r'<tr data-agent="', page)) == 8
    with django_assert_num_queries(len(large)):
        admin_client.get(reverse("team-board"))


def test_team_redirects_to_the_team_screen_and_staff_have_a_nav_link(admin_client):
    response = admin_client.get("/team/")
    assert response.status_code == 302 and response["Location"] == reverse("presence-team")
    home = admin_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("presence-team")}"' in home


def test_agents_are_refused_the_team_screen_and_every_action(agent_client, agent):
    other = _working("other")
    ticket = make_ticket()
    ticket_assign(ticket=ticket, assignee=other)
    reason = BreakReason.objects.create(name="Tea")
    home = agent_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("presence-team")}"' not in home

    assert agent_client.get(reverse("presence-team")).status_code == 403
    assert agent_client.get(reverse("team-board")).status_code == 403
    assert agent_client.get(reverse("team-agent-tickets", args=[other.pk])).status_code == 403
    state = reverse("team-agent-state", args=[other.pk])
    refused = agent_client.post(state, {"state": "passive", "break_reason": reason.pk})
    assert refused.status_code == 403
    capacity = reverse("team-agent-capacity", args=[other.pk])
    assert agent_client.post(capacity, {"capacity": "50"}).status_code == 403
    move = reverse("team-agent-tickets", args=[other.pk])
    assert agent_client.post(move, {"which": "all", "to": "pool"}).status_code == 403

    assert AgentPresence.objects.get(user=other).state == PresenceState.ACTIVE
    assert OperatorProfile.objects.get(user=other).capacity == 5
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == other.pk


def test_actions_are_post_only(admin_client):
    other = _working("other")
    assert admin_client.get(reverse("team-agent-state", args=[other.pk])).status_code == 405
    assert admin_client.get(reverse("team-agent-capacity", args=[other.pk])).status_code == 405


def test_a_supervisor_sets_an_agent_on_a_break_and_back_and_the_log_names_them(
    admin_client, admin_user
):
    reason = BreakReason.objects.create(name="Coaching")
    ayse = _working("ayse")
    url = reverse("team-agent-state", args=[ayse.pk])

    response = admin_client.post(url, {"state": "passive", "break_reason": reason.pk}, follow=True)

    presence = AgentPresence.objects.get(user=ayse)
    assert presence.state == PresenceState.PASSIVE and presence.break_reason == reason
    assert "ayse is on a break (Coaching)." in response.content.decode()
    entry = PresenceLog.objects.get(agent=ayse, ended_at__isnull=True)
    assert (entry.state, entry.changed_by) == (PresenceState.PASSIVE, admin_user)

    admin_client.post(url, {"state": "active"})

    assert AgentPresence.objects.get(user=ayse).state == PresenceState.ACTIVE
    entry = PresenceLog.objects.get(agent=ayse, ended_at__isnull=True)
    assert (entry.state, entry.changed_by) == (PresenceState.ACTIVE, admin_user)


def test_a_break_needs_a_reason_and_a_signed_out_agent_is_left_alone(admin_client):
    ayse = _working("ayse")
    url = reverse("team-agent-state", args=[ayse.pk])
    page = admin_client.post(url, {"state": "passive"}, follow=True).content.decode()
    assert "Pick a reason for the break." in page
    assert AgentPresence.objects.get(user=ayse).state == PresenceState.ACTIVE

    from tickets.presence import agent_go_offline

    agent_go_offline(user_id=ayse.pk)
    page = admin_client.post(url, {"state": "active"}, follow=True).content.decode()
    assert "ayse is signed out" in page
    assert AgentPresence.objects.get(user=ayse).state == PresenceState.OFFLINE


def test_a_supervisor_changes_an_agents_capacity(admin_client):
    ayse = _working("ayse", capacity=2)
    url = reverse("team-agent-capacity", args=[ayse.pk])

    page = admin_client.post(url, {"capacity": "7"}, follow=True).content.decode()

    assert OperatorProfile.objects.get(user=ayse).capacity == 7
    assert "ayse&#x27;s capacity is now 7." in page
    page = admin_client.post(url, {"capacity": "-3"}, follow=True).content.decode()
    assert "A capacity is a whole number from 0 to 1000." in page
    assert OperatorProfile.objects.get(user=ayse).capacity == 7


def test_a_supervisor_moves_all_an_agents_tickets_to_the_pool_and_they_do_not_come_back(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    ayse = _working("ayse")
    tickets = [make_ticket(body=f"t{i}") for i in range(3)]
    for ticket in tickets:
        ticket_assign(ticket=ticket, assignee=ayse)
    url = reverse("team-agent-tickets", args=[ayse.pk])
    listing = admin_client.get(url).content.decode()
    assert all(f'name="ids" value="{t.pk}"' in listing for t in tickets)

    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.post(url, {"which": "all", "to": "pool"}, follow=True)

    assert "3 tickets moved." in page.content.decode()
    # ayse is still active with free slots; the pool drained after the move, yet not to her
    assert not Ticket.objects.filter(assignee=ayse).exists()
    event = TicketEvent.objects.filter(ticket=tickets[0], kind=TicketEvent.Kind.ASSIGNEE).last()
    assert event.actor == admin_user and event.data["new"] is None


def test_moving_picked_tickets_to_an_agent_obeys_capacity_and_offers_an_override(
    admin_client, admin_user
):
    ayse = _working("ayse")
    full = _working("full", capacity=1)
    ticket_assign(ticket=make_ticket(body="theirs"), assignee=full)
    picked, kept = make_ticket(body="picked"), make_ticket(body="kept")
    for ticket in (picked, kept):
        ticket_assign(ticket=ticket, assignee=ayse)
    url = reverse("team-agent-tickets", args=[ayse.pk])

    offer = admin_client.post(url, {"which": "selected", "ids": [picked.pk], "to": full.pk})

    body = offer.content.decode()
    assert "data-move-override" in body and "full is at capacity (1 of 1 tickets)." in body
    assert Ticket.objects.get(pk=picked.pk).assignee_id == ayse.pk

    admin_client.post(
        url, {"which": "selected", "ids": [picked.pk], "to": full.pk, "override": "on"}
    )

    assert Ticket.objects.get(pk=picked.pk).assignee_id == full.pk
    assert Ticket.objects.get(pk=kept.pk).assignee_id == ayse.pk
    event = TicketEvent.objects.filter(ticket=picked, kind=TicketEvent.Kind.ASSIGNEE).last()
    assert event.actor == admin_user and event.data["override"] == "at_capacity"


def test_moving_to_an_agent_on_a_break_is_refused_with_a_clear_message(admin_client):
    ayse = _working("ayse")
    resting = _working("resting")
    agent_go_passive(user=resting, break_reason=BreakReason.objects.create(name="Tea"))
    ticket = make_ticket()
    ticket_assign(ticket=ticket, assignee=ayse)

    page = admin_client.post(
        reverse("team-agent-tickets", args=[ayse.pk]), {"which": "all", "to": resting.pk}
    ).content.decode()

    assert "resting is not active (on a break, away or signed out)" in page
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == ayse.pk


def test_a_ticket_no_longer_the_agents_is_not_moved(admin_client):
    ayse, mehmet = _working("ayse"), _working("mehmet")
    ticket = make_ticket()
    ticket_assign(ticket=ticket, assignee=mehmet)

    page = admin_client.post(
        reverse("team-agent-tickets", args=[ayse.pk]),
        {"which": "selected", "ids": [ticket.pk], "to": "pool"},
        follow=True,
    ).content.decode()

    assert "it is no longer this agent&#x27;s ticket." in page
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == mehmet.pk


def test_the_team_screen_speaks_turkish(admin_client):
    _working("ayse")
    with translation.override("tr"):
        admin_client.cookies["django_language"] = "tr"
        page = admin_client.get(reverse("presence-team"), HTTP_ACCEPT_LANGUAGE="tr").content
    text = page.decode()
    assert "Takım" in text and "En uzun bekleyen müşteri" in text and "Bugünkü molalar" in text
