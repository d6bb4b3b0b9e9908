"""Only staff set an agent's capacity: in the admin and in the service behind it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from configuration.models import OperatorProfile
from configuration.services import operator_set_capacity
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_admin_lists_agents_with_their_capacity_and_searches_by_username(admin_client):
    make_user("ayse", capacity=5, first_name="Ayşe", last_name="Yılmaz")
    make_user("mehmet", capacity=3)
    url = reverse("admin:configuration_operatorprofile_changelist")

    page = admin_client.get(url).content.decode()
    assert "ayse" in page
    assert "Ayşe Yılmaz" in page
    assert "mehmet" in page

    found = admin_client.get(url, {"q": "meh"})
    assert [p.user.username for p in found.context["cl"].result_list] == ["mehmet"]


def test_admin_edits_capacity_in_the_list(admin_client):
    agent = make_user("ayse", capacity=5)
    profile = agent.operator_profile
    response = admin_client.post(
        reverse("admin:configuration_operatorprofile_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(profile.pk),
            "form-0-capacity": "8",
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.capacity == 8


def test_admin_edits_capacity_on_the_change_page(admin_client):
    agent = make_user("ayse", capacity=5)
    profile = agent.operator_profile
    response = admin_client.post(
        reverse("admin:configuration_operatorprofile_change", args=[profile.pk]),
        {"capacity": "2"},
        follow=True,
    )
    profile.refresh_from_db()
    assert profile.capacity == 2
    assert "Update successful: operator capacity “ayse”." in response.content.decode()


def test_agent_is_sent_to_the_login_page_and_capacity_stays(agent_client, agent):
    profile = agent.operator_profile
    url = reverse("admin:configuration_operatorprofile_change", args=[profile.pk])
    login = reverse("admin:login")

    got = agent_client.get(url)
    posted = agent_client.post(url, {"capacity": "50"})

    assert got.status_code == 302
    assert got["Location"].startswith(login)
    assert posted.status_code == 302
    assert posted["Location"].startswith(login)
    profile.refresh_from_db()
    assert profile.capacity == 5


def test_agent_cannot_raise_capacity_from_the_list_either(agent_client, agent):
    profile = agent.operator_profile
    agent_client.post(
        reverse("admin:configuration_operatorprofile_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(profile.pk),
            "form-0-capacity": "50",
            "_save": "Save",
        },
    )
    profile.refresh_from_db()
    assert profile.capacity == 5


def test_service_refuses_an_agent_setting_their_own_capacity(agent):
    with pytest.raises(PermissionDenied):
        operator_set_capacity(actor=agent, agent=agent, capacity=50)
    assert OperatorProfile.objects.get(user=agent).capacity == 5


def test_service_refuses_an_agent_setting_another_agents_capacity(agent):
    other = make_user("other", capacity=3)
    with pytest.raises(PermissionDenied):
        operator_set_capacity(actor=agent, agent=other, capacity=0)
    assert OperatorProfile.objects.get(user=other).capacity == 3


def test_service_refuses_a_deactivated_staff_user(agent):
    former_admin = make_user("former", staff=True, capacity=None, is_active=False)
    with pytest.raises(PermissionDenied):
        operator_set_capacity(actor=former_admin, agent=agent, capacity=9)


def test_service_lets_staff_set_capacity(admin_user, agent):
    profile = operator_set_capacity(actor=admin_user, agent=agent, capacity=9)
    assert profile.capacity == 9
    assert OperatorProfile.objects.get(user=agent).capacity == 9


@pytest.mark.django_db(transaction=True)
def test_raising_capacity_in_the_admin_gives_the_agent_a_ticket_waiting_in_the_pool(client):
    from tests.factories import make_ticket
    from tickets.models import AgentPresence

    boss = make_user("boss2", staff=True, capacity=None)
    agent = make_user("ayse", capacity=0)
    AgentPresence.objects.create(user=agent, is_active=True)
    waiting = make_ticket()
    waiting.refresh_from_db()
    assert waiting.assignee is None  # capacity 0: it waits in the pool

    client.force_login(boss)
    client.post(
        reverse("admin:configuration_operatorprofile_change", args=[agent.operator_profile.pk]),
        {"capacity": "1"},
    )

    waiting.refresh_from_db()
    assert waiting.assignee == agent
