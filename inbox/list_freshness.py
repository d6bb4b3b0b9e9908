"""Is the inbox list a page shows still current? The answer to the socket's first hello.

A page renders its list, then ``static/js/live.js`` opens the socket; a ticket that arrived or
changed in between was pushed to nobody. So the list carries the server's clock at its render
(``data-live-since``, taken before its rows are read) and a digest of the rows it shows
(``data-live-digest``); on its first hello the page asks for the list again with both, and the
view answers 204 (htmx swaps nothing) unless a ticket changed since and the rows differ.

``MARGIN``: a writer stamps ``updated_at`` before it commits, so a change stamped just before the
render but committed after its read would look older than the render. Asking from ``MARGIN``
earlier covers any transaction shorter than that; the digest keeps the extra look from swapping
a list that did not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from tickets.models import Ticket

MARGIN = timedelta(seconds=10)


def render_stamp() -> str:
    """The server's clock now, as the page carries it (microseconds since the epoch)."""
    return str(int(timezone.now().timestamp() * 1_000_000))


def render_stamp_parse(raw: str | None) -> datetime | None:
    """The render time a page sent back, or None when there is none (or it is not one)."""
    if not raw or not raw.isdigit() or len(raw) > 20:
        return None
    try:
        return datetime.fromtimestamp(int(raw) / 1_000_000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def rows_digest(tickets: Iterable[Ticket]) -> str:
    """What the rows shown depend on: which tickets, in which order, in which version."""
    parts = (f"{t.pk}:{t.updated_at.timestamp()}:{t.unread:d}" for t in tickets)
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def ticket_unchanged(ticket: Ticket, raw_since: str | None) -> bool:
    """The open conversation's check when the socket joins its ticket: a new message (either
    way) stamps the ticket's ``updated_at``, so nothing was missed unless that moved since."""
    since = render_stamp_parse(raw_since)
    return since is not None and ticket.updated_at <= since - MARGIN
