"""Agent presence: the four states, their log, the away sweep, overrun breaks, and what is
refused to an agent who is not active."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from configuration.models import BreakReason
from tests.factories import make_account, make_customer, make_ticket, make_user
from tests.tickets.concurrency import postgres_only, run_concurrently
from tickets.errors import TicketRuleError
from tickets.models import AgentPresence, BreakLog, Message, PresenceLog, Ticket
from tickets.presence import (
    agent_go_active,
    agent_go_offline,
    agent_go_passive,
    presence_away_sweep,
    presence_require_working,
    presence_screen_seen,
)
from tickets.presence_selectors import (
    breaks_overrun,
    missed_unread_count,
    presence_time,
    tickets_missed_q,
)
from tickets.receiving import Incoming, ticket_receive
from tickets.services import message_add_outbound, ticket_assign
from tickets.team_selectors import team_board

pytestmark = pytest.mark.django_db


def state(user) -> tuple[str, bool]:
    presence = AgentPresence.objects.get(user=user)
    return presence.current_state, presence.is_active


def log(user) -> list[tuple[str, str, bool]]:
    """(state, reason, still open) of the agent's log rows, oldest first."""
    return [
        (row.state, row.reason_text, row.ended_at is None)
        for row in PresenceLog.objects.filter(agent=user).order_by("started_at", "id")
    ]


def age_screen(user, seconds: float) -> None:
    """As if the agent's last screen reported ``seconds`` ago."""
    AgentPresence.objects.filter(user=user).update(
        last_seen_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.fixture
def lunch():
    return BreakReason.objects.create(name="Lunch", max_minutes=30)


# --- state changes and the log --------------------------------------------------------------


def test_every_change_is_logged_with_its_start_and_end(lunch):
    agent = make_user("ayse")
    agent_go_active(user=agent)
    agent_go_passive(user=agent, break_reason=lunch)
    agent_go_active(user=agent)
    agent_go_offline(user_id=agent.pk)

    assert log(agent) == [
        ("active", "", False),
        ("passive", "Lunch", False),
        ("active", "", False),
        ("offline", "", True),
    ]
    rows = list(PresenceLog.objects.filter(agent=agent).order_by("started_at", "id"))
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.ended_at == after.started_at  # no gap, no overlap
    assert state(agent) == ("offline", False)


def test_pressing_the_same_state_again_logs_nothing(lunch):
    agent = make_user("ayse")
    agent_go_active(user=agent)
    agent_go_active(user=agent)
    agent_go_passive(user=agent, break_reason=lunch)
    agent_go_passive(user=agent, break_reason=lunch)
    assert [s for s, _r, _o in log(agent)] == ["active", "passive"]
    assert BreakLog.objects.filter(agent=agent).count() == 1


def test_a_second_open_log_row_for_one_agent_is_refused_by_the_database(lunch):
    agent = make_user("ayse")
    agent_go_active(user=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        PresenceLog.objects.create(agent=agent, state="passive", started_at=timezone.now())


def test_signing_out_ends_a_break_and_makes_the_agent_offline(lunch):
    agent = make_user("ayse")
    agent_go_passive(user=agent, break_reason=lunch)
    agent_go_offline(user_id=agent.pk)
    assert state(agent) == ("offline", False)
    assert AgentPresence.objects.get(user=agent).break_reason is None
    assert not BreakLog.objects.filter(agent=agent, ended_at__isnull=True).exists()


def test_a_user_without_presence_gets_none_when_signing_out():
    staff = make_user("boss", staff=True, capacity=None)
    assert agent_go_offline(user_id=staff.pk) is None
    assert not AgentPresence.objects.filter(user=staff).exists()


def test_coming_back_drains_the_pool_to_the_agent(django_capture_on_commit_callbacks):
    agent = make_user("ayse", capacity=2)
    ticket = make_ticket()  # nobody active: it waits in the pool
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    with django_capture_on_commit_callbacks(execute=True):
        agent_go_active(user=agent)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent.pk


# --- away -----------------------------------------------------------------------------------


@override_settings(OMNICO_AWAY_SECONDS=120)
def test_an_active_agent_with_no_screen_for_the_away_time_becomes_away_and_gets_nobody(
    django_capture_on_commit_callbacks,
):
    gone = make_user("gone", capacity=3)
    here = make_user("here", capacity=3)
    agent_go_active(user=gone)
    agent_go_active(user=here)
    age_screen(gone, 121)
    age_screen(here, 60)

    assert presence_away_sweep() == [gone.pk]

    assert state(gone) == ("away", False)
    assert state(here) == ("active", True)
    assert log(gone)[-1] == ("away", "", True)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == here.pk


@override_settings(OMNICO_AWAY_SECONDS=120)
def test_the_sweep_leaves_breaks_and_signed_out_agents_alone(lunch):
    resting = make_user("resting")
    agent_go_passive(user=resting, break_reason=lunch)
    out = make_user("out")
    agent_go_active(user=out)
    agent_go_offline(user_id=out.pk)
    age_screen(resting, 999)
    age_screen(out, 999)
    assert presence_away_sweep() == []
    assert state(resting) == ("passive", False)
    assert state(out) == ("offline", False)


@override_settings(OMNICO_AWAY_SECONDS=120)
def test_a_screen_that_reported_after_the_sweep_looked_keeps_the_agent_active():
    agent = make_user("ayse")
    agent_go_active(user=agent)
    age_screen(agent, 121)
    later = timezone.now()
    presence_screen_seen(user_id=agent.pk)  # a heartbeat landed just now
    assert presence_away_sweep(now=later) == []
    assert state(agent) == ("active", True)


@override_settings(OMNICO_AWAY_SECONDS=120)
def test_a_screen_coming_back_makes_an_away_agent_active_again(
    django_capture_on_commit_callbacks,
):
    agent = make_user("ayse", capacity=1)
    agent_go_active(user=agent)
    age_screen(agent, 200)
    presence_away_sweep()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket()
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None  # away: nobody routes to her

    with django_capture_on_commit_callbacks(execute=True):
        assert presence_screen_seen(user_id=agent.pk) is True

    assert state(agent) == ("active", True)
    assert [s for s, _r, _o in log(agent)] == ["active", "away", "active"]
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent.pk  # the pool drained


def test_a_screen_never_ends_a_break_nor_signs_anyone_in(lunch):
    resting = make_user("resting")
    agent_go_passive(user=resting, break_reason=lunch)
    out = make_user("out")
    agent_go_active(user=out)
    agent_go_offline(user_id=out.pk)
    assert presence_screen_seen(user_id=resting.pk) is False
    assert presence_screen_seen(user_id=out.pk) is False
    assert state(resting) == ("passive", False)
    assert state(out) == ("offline", False)


@override_settings(OMNICO_AWAY_SECONDS=120)
def test_the_scheduled_sweep_task_marks_unseen_agents_away():
    from django.conf import settings

    from omnico.celery import app
    from tickets import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-away-agents"]
    assert app.tasks[entry["task"]].name == tasks.presence_away_sweep.name  # beat, scheduler
    agent = make_user("ayse")
    agent_go_active(user=agent)
    age_screen(agent, 121)
    assert app.tasks[entry["task"]].apply().get() == 1
    assert state(agent) == ("away", False)


# --- concurrency ----------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
@override_settings(OMNICO_AWAY_SECONDS=120)
def test_concurrent_changes_of_one_agent_leave_one_open_row_and_a_gapless_log():
    lunch = BreakReason.objects.create(name="Lunch")
    meeting = BreakReason.objects.create(name="Meeting")
    agent = make_user("ayse")
    agent_go_active(user=agent)
    age_screen(agent, 500)

    def change(i: int):
        kind = i % 5
        if kind == 0:
            return agent_go_passive(user=agent, break_reason=lunch)
        if kind == 1:
            return agent_go_active(user=agent)
        if kind == 2:
            return presence_away_sweep()
        if kind == 3:
            return agent_go_passive(user=agent, break_reason=meeting)
        return presence_screen_seen(user_id=agent.pk)

    for _round in range(3):
        run_concurrently(change, 10)

    rows = list(PresenceLog.objects.filter(agent=agent).order_by("started_at", "id"))
    assert sum(1 for row in rows if row.ended_at is None) == 1
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.ended_at == after.started_at
        assert (before.state, before.reason_id) != (after.state, after.reason_id)
    presence = AgentPresence.objects.get(user=agent)
    assert rows[-1].state == presence.current_state
    assert presence.is_active == (presence.current_state == "active")
    assert BreakLog.objects.filter(agent=agent, ended_at__isnull=True).count() == (
        1 if presence.current_state == "passive" else 0
    )


# --- refusals -------------------------------------------------------------------------------


def test_a_passive_or_away_agent_cannot_reply(lunch):
    agent = make_user("ayse")
    ticket = make_ticket()
    agent_go_passive(user=agent, break_reason=lunch)
    with pytest.raises(TicketRuleError, match="on a break"):
        message_add_outbound(ticket=ticket, author=agent, body="Merhaba")
    agent_go_active(user=agent)
    age_screen(agent, 10_000)
    presence_away_sweep()
    with pytest.raises(TicketRuleError, match="away"):
        message_add_outbound(ticket=ticket, author=agent, body="Merhaba")
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    # an internal note still works
    message_add_outbound(ticket=ticket, author=agent, body="note", note=True)


def test_sending_a_failed_reply_again_is_refused_on_a_break(lunch):
    from channels_adapters.services import message_retry

    agent = make_user("ayse")
    agent_go_active(user=agent)
    ticket = make_ticket()
    reply = message_add_outbound(ticket=ticket, author=agent, body="Merhaba")
    Message.objects.filter(pk=reply.pk).update(delivery=Message.Delivery.FAILED)
    agent_go_passive(user=agent, break_reason=lunch)

    with pytest.raises(TicketRuleError, match="on a break"):
        message_retry(message_id=reply.pk, actor=agent)

    assert Message.objects.get(pk=reply.pk).delivery == Message.Delivery.FAILED


def test_staff_without_presence_are_not_held_back():
    presence_require_working(user=make_user("boss", staff=True, capacity=None))


# --- time per state, overruns, the board ----------------------------------------------------


def test_time_per_state_and_reason_is_clipped_to_the_range(lunch):
    agent = make_user("ayse")
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = [
        ("active", None, t0, t0 + timedelta(hours=2)),
        ("passive", lunch, t0 + timedelta(hours=2), t0 + timedelta(hours=3)),
        ("away", None, t0 + timedelta(hours=3), t0 + timedelta(hours=3, minutes=10)),
        ("active", None, t0 + timedelta(hours=3, minutes=10), None),
    ]
    for s, reason, start, end in rows:
        PresenceLog.objects.create(
            agent=agent,
            state=s,
            reason=reason,
            reason_text=reason.name if reason else "",
            started_at=start,
            ended_at=end,
        )

    found = presence_time(
        since=t0 + timedelta(hours=1),
        until=t0 + timedelta(hours=4),
        now=t0 + timedelta(hours=10),
    )

    got = {(t.state, t.reason): t.seconds for t in found}
    assert got == {
        ("active", ""): 3600 + 50 * 60,  # 10:00-11:00, and 12:10-13:00 (the range's end)
        ("passive", "Lunch"): 3600,
        ("away", ""): 600,
    }
    assert {t.agent_id for t in found} == {agent.pk}


def test_a_break_over_its_allowed_length_is_marked(lunch):
    long_one = make_user("long")
    short_one = make_user("short")
    agent_go_passive(user=long_one, break_reason=lunch)
    agent_go_passive(user=short_one, break_reason=lunch)
    AgentPresence.objects.filter(user=long_one).update(
        state_since=timezone.now() - timedelta(minutes=31)
    )

    [overrun] = breaks_overrun()

    assert overrun.user_id == long_one.pk and overrun.allowed_minutes == 30
    board = {row.user_id: row for row in team_board().agents}
    assert board[long_one.pk].overrun is not None
    assert board[short_one.pk].overrun is None
    assert board[long_one.pk].reason == "Lunch"


def test_a_break_reason_without_a_limit_never_runs_over():
    coffee = BreakReason.objects.create(name="Coffee")
    agent = make_user("ayse")
    agent_go_passive(user=agent, break_reason=coffee)
    AgentPresence.objects.filter(user=agent).update(state_since=timezone.now() - timedelta(hours=5))
    assert breaks_overrun() == []


def test_away_is_not_shown_as_a_break_on_the_board():
    agent = make_user("ayse")
    agent_go_active(user=agent)
    age_screen(agent, 10_000)
    presence_away_sweep()
    [row] = team_board().agents
    assert (row.state, row.reason, row.overrun) == ("away", "", None)


# --- while you were away --------------------------------------------------------------------


def write(ticket: Ticket, body: str) -> None:
    ticket_receive(
        channel_account=ticket.channel_account,
        customer=ticket.customer,
        incoming=Incoming(body=body, external_id=f"x-{body}"),
    )


def test_what_customers_wrote_during_a_break_is_listed_once_the_agent_is_back(lunch):
    agent = make_user("ayse")
    agent_go_active(user=agent)
    account = make_account()
    before, during, quiet = (make_ticket(account=account, customer=make_customer()) for _ in "abc")
    for ticket in (before, during, quiet):
        ticket_assign(ticket=ticket, assignee=agent)
    Ticket.objects.update(unread=False)

    agent_go_passive(user=agent, break_reason=lunch)
    write(during, "still there?")
    assert missed_unread_count(user=agent) == 0  # not back yet
    agent_go_active(user=agent)
    write(before, "after she came back")

    missed = Ticket.objects.filter(tickets_missed_q(user=agent))
    assert list(missed.values_list("pk", flat=True)) == [during.pk]
    assert missed_unread_count(user=agent) == 1
