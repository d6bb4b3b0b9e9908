"""The agent socket tells presence that a screen is open (tickets/presence.py): connecting
brings an away agent back, never ends a break; the heartbeat keeps an agent from being swept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from configuration.models import BreakReason
from tests.factories import make_user
from tests.inbox.test_realtime import (  # noqa: F401 - private_channel_layer is autouse
    connected,
    private_channel_layer,
    run,
    session_cookie,
)
from tickets.models import AgentPresence
from tickets.presence import agent_go_active, agent_go_passive, presence_away_sweep

pytestmark = pytest.mark.django_db(transaction=True)


def current(user) -> str:
    return AgentPresence.objects.get(user=user).current_state


def test_opening_an_agent_screen_brings_an_away_agent_back(settings):
    settings.OMNICO_AWAY_SECONDS = 120
    agent = make_user("ayse")
    agent_go_active(user=agent)
    AgentPresence.objects.filter(user=agent).update(
        last_seen_at=timezone.now() - timedelta(minutes=5)
    )
    presence_away_sweep()
    assert current(agent) == "away"
    cookie = session_cookie(agent)

    async def scenario():
        ws = await connected(cookie)
        await ws.disconnect()

    run(scenario)
    assert current(agent) == "active"
    assert AgentPresence.objects.get(user=agent).is_active


def test_opening_an_agent_screen_does_not_end_a_break():
    agent = make_user("ayse")
    agent_go_passive(user=agent, break_reason=BreakReason.objects.create(name="Lunch"))
    cookie = session_cookie(agent)

    async def scenario():
        ws = await connected(cookie)
        await ws.disconnect()

    run(scenario)
    assert current(agent) == "passive"


def test_an_open_screen_keeps_its_agent_from_being_swept_away(settings):
    settings.OMNICO_AWAY_SECONDS = 2
    settings.OMNICO_SCREEN_HEARTBEAT_SECONDS = 0.2
    agent = make_user("ayse")
    agent_go_active(user=agent)
    cookie = session_cookie(agent)

    async def scenario():
        import asyncio

        from channels.db import database_sync_to_async

        ws = await connected(cookie)
        await asyncio.sleep(2.6)  # longer than the away time: only the heartbeat saves her
        swept = await database_sync_to_async(presence_away_sweep)()
        await ws.disconnect()
        return swept

    assert run(scenario) == []
    assert current(agent) == "active"
