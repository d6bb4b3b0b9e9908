"""Writes of the agent screens (inbox/services.py)."""

from __future__ import annotations

from unittest import mock

from inbox.services import ticket_customer_update
from omnico.core import realtime
from tests.factories import make_ticket


def test_editing_a_tickets_customer_refreshes_its_watchers_and_rows_after_commit(
    db, django_capture_on_commit_callbacks
):
    ticket = make_ticket()
    with (
        mock.patch.object(realtime, "_send") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        ticket_customer_update(ticket=ticket, name="Ayşe Yılmaz", location="İzmir")
        assert not send.called  # nothing before the commit
    ticket.customer.refresh_from_db()
    assert (ticket.customer.name, ticket.customer.location) == ("Ayşe Yılmaz", "İzmir")
    sent = [(group, message["type"]) for group, message in send.call_args.args[0]]
    assert sent == [
        (realtime.ticket_group(ticket.pk), "ticket.changed"),
        (realtime.AGENTS_GROUP, "inbox.ticket"),
    ]
