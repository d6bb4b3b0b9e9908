"""The one place that talks to the channel layer.

Group names live here, and ``publish`` sends an event to a group only after the surrounding
transaction commits, so no browser ever sees a change that was rolled back.

Fragments are rendered once, in the publishing process, not once per connected socket: a
*renderer* registered for an event type (``inbox/realtime.py`` registers the agent screen's)
turns the bare event (ids only) into the group messages to send, each carrying its HTML in
every configured language. A consumer then only picks its agent's language and forwards the
text, so pushing to 50 agents costs one render and one ``group_send``. Without a renderer
(or when rendering fails) the bare event is sent and consumers fall back to asking the page
to re-fetch from the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"

#: ``(group, message)`` pairs a renderer returns for one published event.
Outgoing = list[tuple[str, dict[str, Any]]]
Renderer = Callable[[str, dict[str, Any]], Outgoing]

_renderers: dict[str, Renderer] = {}


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def visitor_group(session_key: str) -> str:
    return f"visitor.{session_key}"


def register(event_type: str) -> Callable[[Renderer], Renderer]:
    """Decorator: ``fn(group, message) -> [(group, message), ...]`` renders ``event_type``."""

    def decorate(fn: Renderer) -> Renderer:
        _renderers[event_type] = fn
        return fn

    return decorate


def _render(group: str, message: dict[str, Any]) -> Outgoing:
    renderer = _renderers.get(message["type"])
    if renderer is None:
        return [(group, message)]
    try:
        return renderer(group, message)
    except Exception:  # a broken template must not lose the event: send it bare
        logger.exception("rendering realtime event %s failed", message["type"])
        return [(group, message)]


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for target, outgoing in _render(group, message):
        try:
            async_to_sync(layer.group_send)(target, outgoing)
        except Exception:  # a dead Redis must not break the request that already committed
            logger.exception("realtime push to %s failed", target)


def publish(group: str, event_type: str, **payload: Any) -> None:
    """Send ``{"type": event_type, **payload}`` to ``group`` once the transaction commits."""
    message = {"type": event_type, **payload}
    transaction.on_commit(lambda: _send(group, message))
