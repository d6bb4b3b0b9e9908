"""The team screen is live: a supervisor's socket hears of presence, capacity and ticket moves
made from the team screen (the board re-fetches itself on them: inbox/team/board.html)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from configuration.models import BreakReason
from tests.factories import make_ticket, make_user
from tests.inbox.test_realtime import (  # noqa: F401 - the fixture is used by name
    connected,
    frame,
    private_channel_layer,
    run,
    session_cookie,
)
from tickets.presence import agent_go_active
from tickets.services import ticket_assign

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_board_refreshes_on_presence_and_ticket_events(db):
    boss = make_user("live-boss", staff=True, capacity=None)
    client = Client()
    client.force_login(boss)
    page = client.get(reverse("presence-team")).content.decode()
    assert 'id="team-board"' in page
    assert "omnico:team from:body" in page and "omnico:ticket from:body" in page
    assert 'hx-get="/team/board/"' in page


def test_a_supervisors_socket_hears_breaks_capacity_and_moves_made_from_the_team_screen(db):
    boss = make_user("live-boss", staff=True, capacity=None)
    ayse = make_user("live-ayse", capacity=3)
    agent_go_active(user=ayse)
    reason = BreakReason.objects.create(name="Coaching")
    ticket = make_ticket(body="move me")
    ticket_assign(ticket=ticket, assignee=ayse)
    cookie = session_cookie(boss)
    client = Client()
    client.force_login(boss)

    async def scenario():
        ws = await connected(cookie)
        post = database_sync_to_async(client.post)
        await post(
            reverse("team-agent-state", args=[ayse.pk]),
            {"state": "passive", "break_reason": reason.pk},
        )
        passive = await frame(ws, "event", name="omnico:team")
        assert f"&quot;user_id&quot;: {ayse.pk}" in passive and "passive" in passive
        await post(reverse("team-agent-capacity", args=[ayse.pk]), {"capacity": "9"})
        capacity = await frame(ws, "event", name="omnico:team")
        assert "&quot;capacity&quot;: 9" in capacity
        await post(reverse("team-agent-tickets", args=[ayse.pk]), {"which": "all", "to": "pool"})
        row = await frame(ws, "row", ticket=ticket.pk)
        assert 'data-assignee=""' in row
        await ws.disconnect()

    run(scenario)
