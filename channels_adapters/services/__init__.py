"""Channels in and out: store inbound events, ingest them into tickets, deliver replies.

Every channel goes through the same path (DESIGN.md, "Inbound: every message becomes a ticket,
nothing is lost"): the webhook or poller stores the raw body with ``event_record``; after commit
``ingest_event`` runs ``event_ingest``, which parses it with the channel's adapter and hands each
message to ``tickets.receiving``. Replies are created with ``reply_send`` and
delivered by ``message_deliver`` from the ``deliver_message`` task.

One module per concern, each readable in one sitting:

- ``inbound``: the event store, the kick queue, the pending-events loop and the sweep;
- ``ingest``: turning a stored event into customers, tickets and messages;
- ``attachments``: keeping and fetching inbound attachments;
- ``outbound``: replies, their delivery with retries, delivery updates and the outbound sweep;
- ``setup``: registering webhooks with a provider.

Callers use the names re-exported here (``from channels_adapters import services``).
"""

from channels_adapters.services.attachments import (
    FETCH_BACKOFF,
    attachment_fetch,
    attachments_fetch_sweep,
)
from channels_adapters.services.inbound import (
    INGEST_BATCH,
    INGEST_FANOUT_AFTER,
    INGEST_TASK_LIMIT,
    INGEST_TXN_EVENTS,
    KICK_KEY,
    KICK_TTL_SECONDS,
    event_record,
    event_retry,
    events_ingest_pending,
    events_sweep,
    ingest_kick,
)
from channels_adapters.services.ingest import event_ingest
from channels_adapters.services.outbound import (
    DELIVERY_MAX_ATTEMPTS,
    DELIVERY_MAX_BACKOFF,
    OUTBOUND_MAX_CLAIMS,
    OUTBOUND_OVERDUE_AFTER,
    DeliveryRetry,
    button_press_answer,
    message_deliver,
    message_retry,
    outbound_sweep,
    reply_send,
)
from channels_adapters.services.setup import webhook_register
from tickets.delivery import message_fail

__all__ = [
    "button_press_answer",
    "DELIVERY_MAX_ATTEMPTS",
    "DELIVERY_MAX_BACKOFF",
    "FETCH_BACKOFF",
    "INGEST_BATCH",
    "INGEST_FANOUT_AFTER",
    "INGEST_TASK_LIMIT",
    "INGEST_TXN_EVENTS",
    "KICK_KEY",
    "KICK_TTL_SECONDS",
    "OUTBOUND_MAX_CLAIMS",
    "OUTBOUND_OVERDUE_AFTER",
    "DeliveryRetry",
    "attachment_fetch",
    "attachments_fetch_sweep",
    "event_ingest",
    "event_record",
    "event_retry",
    "events_ingest_pending",
    "events_sweep",
    "ingest_kick",
    "message_deliver",
    "message_fail",
    "message_retry",
    "outbound_sweep",
    "reply_send",
    "webhook_register",
]
