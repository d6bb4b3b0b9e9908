"""The thin tasks survive a database restart: one whose connection is dropped runs once more."""

from __future__ import annotations

import json
import logging
import os

import psycopg
import pytest
from django.db import connection

from channels_adapters import tasks
from channels_adapters.models import InboundEvent
from channels_adapters.services import ingest
from tests.channels_adapters.conftest import make_channel
from tickets.models import Message

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"),
        reason="drops a real PostgreSQL session (scripts/test starts the server)",
    ),
    pytest.mark.django_db(transaction=True),  # a worker runs a task outside any transaction
]


def _terminate(pid: int) -> None:
    """What a PostgreSQL restart does to every session: "terminating connection due to
    administrator command", then the socket is closed."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def _update(update_id: int) -> bytes:
    chat = {"id": 4242, "type": "private", "first_name": "Zeynep"}
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1700000000,
                "chat": chat,
                "from": {"id": 4242, "is_bot": False, "first_name": "Zeynep"},
                "text": "Siparişim nerede?",
            },
        }
    ).encode()


def test_an_ingest_whose_connection_is_dropped_mid_event_runs_once_more_and_stores_it(
    monkeypatch, caplog
):
    account = make_channel("telegram")
    event = InboundEvent.objects.create(channel_account=account, dedupe_key="u:1", body=_update(1))
    apply_event, dropped = ingest._apply_event, []

    def dropped_on_first_run(*args, **kwargs):
        if not dropped:  # the event is claimed (FOR UPDATE) on a session the server now ends
            dropped.append(connection.connection.info.backend_pid)
            _terminate(dropped[0])
        return apply_event(*args, **kwargs)

    monkeypatch.setattr(ingest, "_apply_event", dropped_on_first_run)
    caplog.set_level(logging.WARNING, logger="omnico.core.db")

    result = tasks.ingest_event.apply(args=[event.pk])

    assert result.successful(), result.traceback
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == (InboundEvent.Status.PROCESSED, "", 1)
    assert Message.objects.filter(body="Siparişim nerede?").count() == 1
    assert dropped and connection.connection.info.backend_pid != dropped[0]
    assert "ingest_event: database error (OperationalError" in caplog.text
