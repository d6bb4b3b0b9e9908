"""A throwaway PgBouncer (Debian package ``pgbouncer``) in transaction pooling in front of the
test database, for tests of what runs behind one (settings ``OMNICO_DB_PGBOUNCER``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.omnico.helpers import free_port


def pgbouncer_binary() -> str:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.access(binary, os.X_OK):
        raise RuntimeError("pgbouncer not found: apt-get install pgbouncer (.ci/run does)")
    return binary


@contextlib.contextmanager
def running_pgbouncer(*, host: str, port: int, user: str, pool_size: int) -> Iterator[int]:
    """PgBouncer on a free loopback port, every database forwarded to ``host:port`` as
    ``user`` (no password: the test server trusts loopback); yields its port."""
    listen = free_port()
    with tempfile.TemporaryDirectory(prefix="omnico-pgbouncer-") as work:
        ini = Path(work) / "pgbouncer.ini"
        ini.write_text(
            f"[databases]\n* = host={host} port={port} user={user}\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {listen}\nunix_socket_dir =\nauth_type = any\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            "ignore_startup_parameters = extra_float_digits,options\nlogfile =\npidfile =\n"
        )
        # PgBouncer refuses to run as root; -u drops to the postgres user after reading the file.
        command = [pgbouncer_binary(), str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", listen), timeout=0.5),
                ):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"pgbouncer did not start: {output[-2000:]}")
                time.sleep(0.05)
            yield listen
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            if process.poll() is None:
                process.kill()
