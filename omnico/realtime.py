"""The one place that talks to the channel layer.

Group names live here, and ``publish`` sends an event to a group only after the surrounding
transaction commits, so no browser ever sees a change that was rolled back.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def visitor_group(session_key: str) -> str:
    return f"visitor.{session_key}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a dead Redis must not break the request that already committed
        logger.exception("realtime push to %s failed", group)


def publish(group: str, event_type: str, **payload: Any) -> None:
    """Send ``{"type": event_type, **payload}`` to ``group`` once the transaction commits."""
    message = {"type": event_type, **payload}
    transaction.on_commit(lambda: _send(group, message))
