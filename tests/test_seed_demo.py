"""``manage.py seed_demo``: a complete demo data set, the same after a second run."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_adapters.webchat.availability import support_availability
from configuration.models import (
    ActivityCategory,
    BreakReason,
    BusinessHours,
    CannedResponse,
    ChannelAccount,
    ChannelKind,
    Department,
    GroupType,
    MailAccount,
    OperatorProfile,
    Subject,
    SupportPage,
)
from customers.models import Customer, Identity
from tickets.models import Activity, AgentPresence, Message, Tag, Ticket, TicketEvent
from tickets.presence import presence_screen_seen

pytestmark = pytest.mark.django_db

PASSWORD = "demo-pass-Zq81"
SECRET = "demo-secret-7Hw2"
MODELS = [
    get_user_model(),
    OperatorProfile,
    AgentPresence,
    Subject,
    BreakReason,
    GroupType,
    Department,
    ActivityCategory,
    BusinessHours,
    ChannelAccount,
    MailAccount,
    Customer,
    Identity,
    Ticket,
    Message,
    Activity,
    Tag,
    TicketEvent,
    CannedResponse,
]


@pytest.fixture
def demo_env(settings):
    settings.OMNICO_DEMO_PASSWORD = PASSWORD
    settings.OMNICO_DEMO_SECRET = SECRET
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def seeded(demo_env):
    return _seed()


def test_running_twice_keeps_the_same_data(seeded):
    first = _counts()
    assert first["Ticket"] >= 10
    _seed()
    assert _counts() == first


def _signs_in(username: str, password: str) -> bool:
    """Through the real sign-in page (and its brute-force guard), in a fresh browser."""
    page = Client().post(reverse("login"), {"username": username, "password": password})
    return page.status_code == 302


def test_demo_users_log_in_with_the_env_password(seeded):
    for username in ("admin", "agent1", "agent2", "agent3"):
        assert _signs_in(username, PASSWORD), username
    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    assert not users.filter(username__startswith="agent", is_staff=True).exists()


def test_agents_have_capacities_and_two_work_from_their_first_screen(seeded):
    capacities = dict(
        OperatorProfile.objects.filter(user__username__startswith="agent").values_list(
            "user__username", "capacity"
        )
    )
    assert capacities == {"agent1": 8, "agent2": 3, "agent3": 4}
    states = dict(AgentPresence.objects.values_list("user__username", "state"))
    assert states == {"agent1": "away", "agent2": "away", "agent3": "passive"}
    # Nobody has a screen open yet, so nobody takes a customer before they sign in...
    assert not AgentPresence.objects.filter(is_active=True).exists()
    # ...and the first screen agent1 opens puts them to work.
    agent1 = AgentPresence.objects.get(user__username="agent1")
    assert presence_screen_seen(user_id=agent1.user_id)
    agent1.refresh_from_db()
    assert agent1.is_active and agent1.state == "active"


def test_every_channel_kind_has_a_demo_account_with_the_env_secret(seeded):
    for kind in ChannelKind.values:
        account = ChannelAccount.objects.get(kind=kind, name="demo")
        if kind == ChannelKind.EMAIL:
            mail = MailAccount.objects.get(pk=account.pk)
            assert not mail.enabled
            assert mail.imap_host == mail.smtp_host == "127.0.0.1"
        else:
            assert account.secret == SECRET
            assert account.verify_token == SECRET


def test_tickets_are_spread_over_channels_with_both_directions(seeded):
    sources = set(Ticket.objects.values_list("source", flat=True))
    assert len(sources) >= 5
    directions = set(Message.objects.values_list("direction", flat=True))
    assert {"in", "out"} <= directions
    assert Ticket.objects.filter(tags__isnull=False).exists()
    assert Activity.objects.filter(status="done").exists()
    assert Activity.objects.filter(status="open").exists()
    assert len(set(Ticket.objects.values_list("status", flat=True))) >= 4
    assert len(set(Ticket.objects.values_list("priority", flat=True))) == 4


def test_resolved_demo_tickets_have_no_open_activity(seeded):
    assert not Activity.objects.filter(
        status="open", ticket__status__in=["resolved", "closed"]
    ).exists()


def test_subjects_and_categories_from_the_handbook_exist(seeded):
    names = set(Subject.objects.values_list("name", flat=True))
    assert {
        "Donation",
        "Information",
        "Suggestion",
        "Appointment",
        "Help request",
        "Thanks",
        "Membership cancellation",
        "Campaigns",
        "Billing information",
    } <= names
    assert GroupType.objects.filter(name="Allianz").exists()
    tops = ActivityCategory.objects.filter(parent=None)
    assert set(tops.values_list("name", flat=True)) >= {
        "Question",
        "Incident",
        "Problem",
        "Feature Request",
    }
    assert all(top.subcategories.count() >= 2 for top in tops)
    assert set(BusinessHours.objects.values_list("weekday", flat=True)) == set(range(7))


def test_the_demo_support_page_is_open_whenever_it_is_tried(seeded):
    """A newcomer may try the demo at night or on a Sunday: the round trip must work then."""
    page = SupportPage.objects.get(is_default=True)
    monday = dt.datetime(2026, 11, 30)
    for day in range(7):
        for hour in (0, 3, 12, 23):
            now = timezone.make_aware(monday + dt.timedelta(days=day, hours=hour, minutes=30))
            assert support_availability(page=page, now=now).is_open, (day, hour)


def test_output_names_the_address_logins_and_secret(seeded):
    assert "http://127.0.0.1:8000/" in seeded
    for username in ("admin", "agent1", "agent2", "agent3"):
        assert f"{username}" in seeded
    assert PASSWORD in seeded
    assert SECRET in seeded


def test_without_env_a_password_is_generated_and_printed(settings):
    settings.OMNICO_DEMO_PASSWORD = ""
    settings.OMNICO_DEMO_SECRET = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    output = _seed()
    line = next(line for line in output.splitlines() if line.strip().startswith("agent1"))
    password = line.split()[-1]
    assert len(password) >= 12
    assert _signs_in("agent1", password)
    secret = ChannelAccount.objects.get(kind="telegram", name="demo").secret
    assert secret
    assert secret in output
    _seed()
    # The generated webhook secret is kept, so configured webhooks keep working.
    assert ChannelAccount.objects.get(kind="telegram", name="demo").secret == secret


def test_it_prints_the_address_it_is_served_at(demo_env):
    out = StringIO()
    call_command("seed_demo", "--url", "http://127.0.0.1:8123", stdout=out)

    assert "http://127.0.0.1:8123/" in out.getvalue()
    assert "http://127.0.0.1:8123/admin/" in out.getvalue()
    assert ":8000" not in out.getvalue()


def test_the_demo_has_a_support_page_to_chat_with_yourself(db, client):
    from omnico.demo import demo_seed

    demo_seed()
    demo_seed()  # idempotent
    response = client.get("/support/")
    assert response.status_code == 200
    assert "Omnico Demo" in response.content.decode()


def test_shared_canned_responses_in_turkish_and_english_with_valid_variables(seeded):
    answers = CannedResponse.objects.filter(owner=None, is_active=True)
    assert {answer.language for answer in answers} == {"tr", "en"}
    for answer in answers:
        answer.full_clean()  # every variable is one the composer fills in
    assert answers.get(shortcut="iade").title == "İade süreci"
