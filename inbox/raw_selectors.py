"""Reading the stored inbound event behind a message (``inbox/raw_views.py``)."""

from __future__ import annotations

import contextlib
import json

from django.core.exceptions import PermissionDenied
from django.http import Http404

from channels_adapters.models import InboundEvent
from tickets.models import Message

#: Longest payload shown (a mail with attachments can be megabytes): the rest is cut.
MAX_RAW_CHARS = 200_000


def message_raw_payload(*, message_id: int, user) -> str:
    """The raw inbound event a message came from, as text (JSON indented): to staff only
    (``PermissionDenied`` for anyone else); 404 when the message links to no stored event."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    if not user.is_staff:
        raise PermissionDenied
    meta = Message.objects.filter(pk=message_id).values_list("meta", flat=True).first()
    event_id = meta.get("inbound_event") if isinstance(meta, dict) else None
    if not isinstance(event_id, int):
        raise Http404
    body = InboundEvent.objects.filter(pk=event_id).values_list("body", flat=True).first()
    if body is None:
        raise Http404
    text = bytes(body).decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):  # a mail, or a body that is not JSON: as it came
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "\n…"
