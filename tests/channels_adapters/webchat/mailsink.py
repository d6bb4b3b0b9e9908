"""A real SMTP server (aiosmtpd on a loopback port, no login) that keeps what it receives, for
the web chat's mails (transcripts, replies while away, offline acknowledgements and e-mail
replies), and the mail account the desk sends them from. The webchat conftest provides the
fixtures; other test modules import them from here."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from configuration.models import MailAccount


@dataclass
class Sink:
    host: str
    port: int
    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    def parts(self, index: int = -1) -> tuple[EmailMessage, str, str]:
        """A received mail, its plain text and its HTML alternative."""
        _to, mail = self.mails[index]
        text = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        return mail, text, html

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[list[str], EmailMessage]]:
        """The mails received, once there are ``count`` of them (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.mails

    def account(self, **fields) -> MailAccount:
        """A mail account sending through this server (``fields`` override its defaults)."""
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
                **fields,
            }
        )


class _Handler:
    def __init__(self, sink: Sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.sink.mails.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_sink() -> Iterator[Sink]:
    sink = Sink("127.0.0.1", _free_port())
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink():
    with running_sink() as sink:
        yield sink


def desk_mail_account(smtp_sink: Sink) -> MailAccount:
    """The desk's mail account, sending through ``smtp_sink``."""
    return MailAccount.objects.create(
        name="desk-mail",
        display_name="Acme Support",
        email_address="support@acme.test",
        username="support@acme.test",
        password="",
        imap_host="127.0.0.1",
        imap_port=1,
        imap_security=MailAccount.Security.NONE,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_security=MailAccount.Security.NONE,
    )


@pytest.fixture
def desk_mail(db, smtp_sink) -> MailAccount:
    return desk_mail_account(smtp_sink)


@pytest.fixture
def eager_tasks():
    """Tasks run in-process even when the suite runs with REDIS_URL set."""
    from omnico.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = previous
