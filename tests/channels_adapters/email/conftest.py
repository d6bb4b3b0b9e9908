"""Real servers for the e-mail channel's tests: Dovecot (IMAP) and aiosmtpd (SMTP).

Dovecot comes from the environment when ``scripts/test`` started it (OMNICO_TEST_IMAP_*), else
this file starts one itself with ``scripts/lib/dovecot.sh`` for the session. Every test gets a
fresh IMAP folder of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from imapclient import IMAPClient

from configuration.models import MailAccount

REPO = Path(__file__).resolve().parents[3]
DOVECOT_SH = REPO / "scripts" / "lib" / "dovecot.sh"
ENV_KEYS = ("OMNICO_TEST_IMAP_HOST", "OMNICO_TEST_IMAP_PORT", "OMNICO_TEST_IMAP_USER")


def corpus_dir() -> Path:
    return Path(os.environ.get("OMNICO_CORPUS") or REPO.parent / "shared" / "corpus") / "email"


def corpus_files() -> list[Path]:
    return sorted(corpus_dir().glob("*.eml"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Imap:
    host: str
    port: int
    user: str
    password: str

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client


@pytest.fixture(scope="session")
def dovecot():
    if all(os.environ.get(key) for key in ENV_KEYS):
        yield Imap(
            os.environ["OMNICO_TEST_IMAP_HOST"],
            int(os.environ["OMNICO_TEST_IMAP_PORT"]),
            os.environ["OMNICO_TEST_IMAP_USER"],
            os.environ.get("OMNICO_TEST_IMAP_PASSWORD", ""),
        )
        return
    if not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()):
        pytest.skip("dovecot is not installed (Debian package dovecot-imapd)")
    script = (
        f'source "{DOVECOT_SH}" && start_dovecot >&2 && '
        'printf "%s\\n" "$OMNICO_TEST_DOVECOT_DIR" "$OMNICO_TEST_IMAP_HOST" '
        '"$OMNICO_TEST_IMAP_PORT" "$OMNICO_TEST_IMAP_USER" "$OMNICO_TEST_IMAP_PASSWORD"'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.fail(f"could not start dovecot: {out.stderr}")
    directory, host, port, user, password = out.stdout.split("\n")[:5]
    try:
        yield Imap(host, int(port), user, password)
    finally:
        subprocess.run(
            ["bash", "-c", f'source "{DOVECOT_SH}" && stop_dovecot "$1"', "_", directory],
            check=False,
        )


@pytest.fixture
def imap_folder(dovecot):
    """A fresh, empty folder for one test, removed afterwards."""
    name = f"t{uuid.uuid4().hex[:12]}"
    client = dovecot.client()
    client.create_folder(name)
    try:
        yield name
    finally:
        try:
            if client.folder_exists(name):
                client.delete_folder(name)
            client.logout()
        except Exception:  # noqa: S110 - teardown of a throwaway server
            pass


def append(dovecot: Imap, folder: str, *mails: bytes) -> None:
    client = dovecot.client()
    try:
        for raw in mails:
            client.append(folder, raw)
    finally:
        client.logout()


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list = field(default_factory=list)  # (mail_from, rcpt_tos, raw bytes)
    refuse: set = field(default_factory=set)


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server(dovecot):
    """aiosmtpd on a loopback port; logins succeed with the Dovecot test user's password."""
    sink = SmtpSink("127.0.0.1", free_port())

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == dovecot.user
            and auth_data.password.decode() == dovecot.password
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Handler(sink),
        hostname=sink.host,
        port=sink.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def mail_account(db, dovecot, imap_folder, smtp_server):
    return MailAccount.objects.create(
        name=f"mail-{imap_folder}",
        display_name="Omnico Destek",
        email_address="destek@omnico.test",
        username=dovecot.user,
        password=dovecot.password,
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security=MailAccount.Security.NONE,
        imap_folder=imap_folder,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security=MailAccount.Security.NONE,
    )


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
