"""What the inbound, attachment and outbound services share."""

from __future__ import annotations

from omnico.core import realtime

MAX_ERROR_CHARS = 2000


def _publish_message(ticket_id: int, message_id: int) -> None:
    realtime.publish(
        realtime.ticket_group(ticket_id),
        "ticket.message",
        ticket_id=ticket_id,
        message_id=message_id,
    )
