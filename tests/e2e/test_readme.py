"""The README's webhook samples, run as written against a live server: each one arrives as a
ticket dated now (at the top of the inbox), and running them again adds nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from configuration.models import ChannelAccount, ChannelKind
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(settings.BASE_DIR) / "README.md"
SECRET = "readme-demo-secret"


def _readme_samples() -> str:
    """The two shell blocks of "Try each channel with curl": the setup, then the curls."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Try each channel with curl") :]
    setup, curls = re.findall(r"```sh\n(.*?)```", section, re.S)[:2]
    return f"set -eu\n{setup}\n{curls}"


def _eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def test_readme_webhook_samples_arrive_dated_now(live, tmp_path):
    for tool in ("curl", "openssl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    for kind in (
        ChannelKind.TELEGRAM,
        ChannelKind.WHATSAPP,
        ChannelKind.MESSENGER,
        ChannelKind.API,
    ):
        ChannelAccount.objects.create(
            kind=kind, name="demo", token=f"demo-token-{kind}", secret=SECRET, verify_token=SECRET
        )
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "demo.env").write_text(f"OMNICO_DEMO_SECRET={SECRET}\n")
    script = _readme_samples().replace("http://127.0.0.1:8000", live)

    def run() -> str:
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    answers = run()
    assert answers.count('{"ok": true, "duplicate": false}') == 4, answers
    assert _eventually(lambda: Message.objects.count() == 4)
    now = timezone.now()
    for ticket in Ticket.objects.all():
        assert now - ticket.last_message_at < timedelta(minutes=5), ticket.source

    # Again, a few seconds later: the bodies differ (the time), the message ids do not.
    time.sleep(1.1)
    assert run().count('"ok": true') == 4
    time.sleep(1.0)  # let the new events be ingested (duplicates are dropped there)
    assert Message.objects.count() == 4 and Ticket.objects.count() == 4
