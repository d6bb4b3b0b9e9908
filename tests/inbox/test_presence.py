"""An agent goes on a break with a reason and comes back from the top bar."""

from __future__ import annotations

import pytest
from django.urls import reverse

from configuration.models import BreakReason
from tests.factories import make_ticket, make_user
from tickets.models import AgentPresence, BreakLog

pytestmark = pytest.mark.django_db


def test_presence_widget_loads_on_every_page_without_adding_queries(agent_client):
    page = agent_client.get(reverse("home")).content.decode()
    assert 'hx-get="/presence/"' in page


def test_a_new_agent_is_passive_and_can_go_active(agent_client, agent):
    widget = agent_client.get(reverse("presence")).content.decode()
    assert "Go active" in widget

    response = agent_client.post(reverse("presence"), {"action": "active"})

    assert AgentPresence.objects.get(user=agent).is_active
    body = response.content.decode()
    assert "Take a break" in body
    assert "You are active" in body


def test_going_active_takes_a_ticket_waiting_in_the_pool(
    agent_client, agent, django_capture_on_commit_callbacks
):
    waiting = make_ticket()
    assert waiting.assignee_id is None

    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(reverse("presence"), {"action": "active"})

    waiting.refresh_from_db()
    assert waiting.assignee == agent


def test_a_break_needs_a_reason_and_is_logged(agent_client, agent):
    agent_client.post(reverse("presence"), {"action": "active"})
    lunch = BreakReason.objects.create(name="Lunch")

    refused = agent_client.post(reverse("presence"), {"action": "break", "break_reason": ""})
    assert "Pick a reason for the break." in refused.content.decode()
    assert AgentPresence.objects.get(user=agent).is_active

    response = agent_client.post(
        reverse("presence"), {"action": "break", "break_reason": str(lunch.pk)}
    )
    assert "Passive: Lunch" in response.content.decode()
    assert not AgentPresence.objects.get(user=agent).is_active
    log = BreakLog.objects.get(agent=agent)
    assert log.reason == lunch and log.ended_at is None

    agent_client.post(reverse("presence"), {"action": "active"})
    log.refresh_from_db()
    assert log.ended_at is not None


def test_presence_needs_login(client):
    response = client.post(reverse("presence"), {"action": "active"})
    assert response.status_code == 302
    assert AgentPresence.objects.count() == 0


def test_staff_without_a_capacity_is_not_offered_go_active_or_a_break(admin_client):
    BreakReason.objects.create(name="Lunch")
    widget = admin_client.get(reverse("presence")).content.decode()
    assert 'id="presence"' in widget  # the top bar keeps its slot
    assert "Go active" not in widget
    assert "Take a break" not in widget
    assert "Passive" not in widget


def test_staff_without_a_capacity_cannot_go_active_or_on_a_break(admin_client, admin_user):
    lunch = BreakReason.objects.create(name="Lunch")
    for data in ({"action": "active"}, {"action": "break", "break_reason": str(lunch.pk)}):
        response = admin_client.post(reverse("presence"), data)
        assert response.status_code == 403
        assert "You have no capacity set" in response.content.decode()
    assert not AgentPresence.objects.filter(user=admin_user, is_active=True).exists()
    assert not BreakLog.objects.filter(agent=admin_user).exists()


def test_staff_with_a_capacity_works_as_an_agent(client):
    supervisor = make_user("supervisor", staff=True, capacity=3)
    client.force_login(supervisor)
    assert "Go active" in client.get(reverse("presence")).content.decode()
    client.post(reverse("presence"), {"action": "active"})
    assert AgentPresence.objects.get(user=supervisor).is_active


# --- states, the log, overruns, "while you were away" (tickets/presence.py) --------------------


def test_signing_out_makes_the_agent_offline_and_the_widget_says_so(client, agent):
    from tickets.routing import agent_go_active

    agent_go_active(user=agent)
    client.force_login(agent)
    client.post(reverse("logout"))

    presence = AgentPresence.objects.get(user=agent)
    assert (presence.current_state, presence.is_active) == ("offline", False)
    client.force_login(agent)
    widget = client.get(reverse("presence")).content.decode()
    assert 'data-presence-state="offline"' in widget and "Go active" in widget
    assert 'data-working="false"' in widget


def test_an_away_agent_is_shown_away_not_on_a_break(agent_client, agent):
    from tickets.presence import agent_go_active

    agent_go_active(user=agent)
    AgentPresence.objects.filter(user=agent).update(is_active=False, state="away")
    widget = agent_client.get(reverse("presence")).content.decode()
    assert 'data-presence-state="away"' in widget
    assert "Passive" not in widget
    home = agent_client.get(reverse("home")).content.decode()
    assert 'data-member-state="away"' in home


def test_a_break_over_its_allowed_length_is_highlighted_in_the_top_bar(agent_client, agent):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.presence import agent_go_passive

    smoke = BreakReason.objects.create(name="Smoke", max_minutes=10)
    agent_go_passive(user=agent, break_reason=smoke)
    widget = agent_client.get(reverse("presence")).content.decode()
    assert "data-presence-overrun" not in widget
    assert "every 30s" in widget  # the control looks again while the break may run over

    AgentPresence.objects.filter(user=agent).update(
        state_since=timezone.now() - timedelta(minutes=11)
    )
    widget = agent_client.get(reverse("presence")).content.decode()
    assert "data-presence-overrun" in widget and "presence-overrun" in widget
    assert "Over the allowed 10 minutes" in widget


def test_supervisors_see_who_is_over_their_break_on_the_team_presence_page(
    admin_client, django_assert_max_num_queries
):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.presence import agent_go_passive

    smoke = BreakReason.objects.create(name="Smoke", max_minutes=10)
    late = make_user("late")
    fine = make_user("fine")
    agent_go_passive(user=late, break_reason=smoke)
    agent_go_passive(user=fine, break_reason=smoke)
    AgentPresence.objects.filter(user=late).update(
        state_since=timezone.now() - timedelta(minutes=15)
    )
    with django_assert_max_num_queries(6):
        page = admin_client.get(reverse("presence-team")).content.decode()
    assert f'data-agent="{late.pk}" data-state="passive" class="presence-overrun"' in page
    assert f'data-agent="{fine.pk}" data-state="passive">' in page


def test_agents_cannot_open_the_team_presence_page(agent_client):
    assert agent_client.get(reverse("presence-team")).status_code == 403


def _write(ticket, key: str) -> None:
    from tickets.receiving import Incoming, ticket_receive

    ticket_receive(
        channel_account=ticket.channel_account,
        customer=ticket.customer,
        incoming=Incoming(body="Are you there?", external_id=key),
    )


def _missed_setup(agent, *, extra: int = 0):
    """The agent works ``2 + extra`` tickets, goes on a break, and the first one's customer
    writes meanwhile. Returns the tickets."""
    from configuration.models import OperatorProfile
    from tickets.models import Ticket
    from tickets.presence import agent_go_active, agent_go_passive
    from tickets.services import ticket_assign

    OperatorProfile.objects.filter(user=agent).update(capacity=50)
    agent_go_active(user=agent)
    tickets = [make_ticket(body=f"ticket {i}") for i in range(2 + extra)]
    for ticket in tickets:  # assigned while she is active and has room
        ticket_assign(ticket=ticket, assignee=agent)
    Ticket.objects.update(unread=False)
    agent_go_passive(user=agent, break_reason=BreakReason.objects.create(name="Lunch"))
    _write(tickets[0], "during-break")
    return tickets


def test_coming_back_opens_the_tickets_list_with_what_arrived_meanwhile(agent_client, agent):
    waiting, other = _missed_setup(agent)

    response = agent_client.post(reverse("presence"), {"action": "active"}, HTTP_HX_REQUEST="true")

    assert response["HX-Redirect"] == reverse("ticket-list") + "?missed=1"
    listing = agent_client.get(response["HX-Redirect"]).content.decode()
    assert f'id="list-row-{waiting.pk}"' in listing
    assert f'id="list-row-{other.pk}"' not in listing
    widget = agent_client.get(reverse("presence")).content.decode()
    assert "1 new while you were away" in widget and "?missed=1" in widget


def test_coming_back_with_nothing_new_stays_on_the_page(agent_client, agent):
    from tickets.presence import agent_go_passive

    agent_go_passive(user=agent, break_reason=BreakReason.objects.create(name="Tea"))
    response = agent_client.post(reverse("presence"), {"action": "active"}, HTTP_HX_REQUEST="true")
    assert "HX-Redirect" not in response
    assert "Take a break" in response.content.decode()


def test_the_while_away_filter_costs_the_same_queries_for_n_and_3n_tickets(
    agent_client, agent, measure_page
):
    from django.utils import timezone

    from tickets.presence import agent_go_active

    tickets = _missed_setup(agent, extra=8)
    for ticket in tickets[1:3]:
        _write(ticket, f"small-{ticket.pk}")
    agent_go_active(user=agent)
    small = measure_page(agent_client, reverse("ticket-list"), data={"missed": "1"})
    for ticket in tickets[3:9]:  # more customers wrote during the same absence
        _write(ticket, f"large-{ticket.pk}")
    AgentPresence.objects.filter(user=agent).update(absent_until=timezone.now())
    large = measure_page(agent_client, reverse("ticket-list"), data={"missed": "1"})
    assert small.queries == large.queries, "\n".join(large.sql)
    assert large.queries <= 10, "\n".join(large.sql)
    assert (small.rows, large.rows) == (3, 9)


def test_the_presence_control_speaks_turkish(agent_client, agent):
    from datetime import timedelta

    from django.utils import timezone

    from tickets.presence import agent_go_passive

    agent_go_passive(
        user=agent, break_reason=BreakReason.objects.create(name="Sigara", max_minutes=5)
    )
    AgentPresence.objects.filter(user=agent).update(
        state_since=timezone.now() - timedelta(minutes=6)
    )
    widget = agent_client.get(reverse("presence"), HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "İzin verilen 5 dakika aşıldı" in widget
    AgentPresence.objects.filter(user=agent).update(is_active=False, state="away")
    widget = agent_client.get(reverse("presence"), HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Uzakta" in widget


def test_send_again_on_a_break_is_refused_with_a_clear_message(agent_client, agent):
    from tickets.models import Message
    from tickets.presence import agent_go_active, agent_go_passive
    from tickets.services import message_add_outbound

    agent_go_active(user=agent)
    ticket = make_ticket()
    reply = message_add_outbound(ticket=ticket, author=agent, body="Merhaba")
    Message.objects.filter(pk=reply.pk).update(delivery=Message.Delivery.FAILED)
    agent_go_passive(user=agent, break_reason=BreakReason.objects.create(name="Lunch"))

    retry_url = reverse("message-retry", args=[ticket.pk, reply.pk])
    response = agent_client.post(retry_url, follow=True)

    assert "You are on a break. Go active to reply to customers." in response.content.decode()
    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.FAILED
    # the reply box offers only internal notes meanwhile
    page = agent_client.get(reverse("ticket-detail", args=[ticket.pk])).content.decode()
    assert 'name="note" value="on" checked disabled' in page
