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
