"""Run Omnico in subprocesses with a controlled environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: ``pytestmark`` of a module that runs Omnico's processes against the real services.
NEEDS_SERVICES = [
    pytest.mark.services,
    pytest.mark.skipif(
        not os.environ.get("OMNICO_TEST_SERVICES"),
        reason="needs the PostgreSQL and Redis that scripts/test starts (OMNICO_TEST_SERVICES=1)",
    ),
]

# Everything omnico/settings.py reads, so a subprocess sees only what a test gives it.
SETTINGS_ENV = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "TIME_ZONE",
    "LOG_LEVEL",
    "DJANGO_SETTINGS_MODULE",
}


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_ENV and not key.startswith(("OMNICO_", "PYTEST_", "CELERY_"))
    }
    env["OMNICO_VAR_DIR"] = str(tmp_path / "var")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def settings_in_subprocess(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "omnico.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, timeout: float = 15) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class Process:
    """A subprocess with its output in a file, for error messages."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.popen = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._file, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        if not self._file.closed:
            self._file.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._file.close()


def wait_until_ok(url: str, process: Process, timeout: float = 60) -> tuple[int, dict]:
    """Poll ``url`` until it answers 200; fail with the process output if it never does."""
    deadline = time.monotonic() + timeout
    last: tuple[int, dict] | str = "no answer"
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"process exited early:\n{process.output()}")
        try:
            last = get_json(url, timeout=15)
            if last[0] == 200:
                return last
        except (OSError, ValueError) as error:
            last = repr(error)
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200 (last: {last}):\n{process.output()}")


def end_this_connection_from_the_server() -> None:
    """As a PostgreSQL restart does: the server ends this thread's Django connection
    ("terminating connection due to administrator command"), waited for, so the next query on
    it fails at once."""
    import psycopg
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break
            time.sleep(0.05)
