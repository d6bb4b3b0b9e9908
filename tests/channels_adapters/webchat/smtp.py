"""A real SMTP server (aiosmtpd) on a loopback port, no login, that keeps what it receives:
for the offline messages' acknowledgements and e-mail replies (unit and e2e tests)."""

from __future__ import annotations

import email
import socket
import time
from collections.abc import Iterator
from email.message import Message as MailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from configuration.models import MailAccount


class SmtpSink:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.host, self.port = sock.getsockname()
        self.mails: list[tuple[list[str], MailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=default)
        self.mails.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[list[str], MailMessage]]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails

    def account(self, **kw) -> MailAccount:
        return MailAccount.objects.create(
            **{
                "name": "support-mail",
                "display_name": "Acme Support",
                "email_address": "support@acme.test",
                "imap_host": "127.0.0.1",
                "imap_port": 1,
                "imap_security": MailAccount.Security.NONE,
                "smtp_host": self.host,
                "smtp_port": self.port,
                "smtp_security": MailAccount.Security.NONE,
                **kw,
            }
        )


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def eager_celery():
    """Tasks run in-process even when the suite runs with REDIS_URL set."""
    from omnico.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous
