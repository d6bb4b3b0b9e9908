"""A second, throwaway PostgreSQL cluster a test may stop and restart (the suite's own one,
started by scripts/test, must stay up). The commands are scripts/lib/services.sh's
``start_postgres``: initdb and pg_ctl, as user ``postgres`` when the tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.omnico.helpers import free_port


def pg_bindir() -> Path | None:
    for candidate in (os.environ.get("OMNICO_PG_BIN", ""), "/usr/lib/postgresql/15/bin"):
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class ThrowawayPostgres:
    """``start()``, ``stop()``, ``restart()``, ``remove()``; ``url`` for DATABASE_URL and
    ``dsn`` for psycopg, both to its database ``omnico``."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        assert bindir is not None, "PostgreSQL binaries not found (set OMNICO_PG_BIN)"
        self.bindir = bindir
        # Not under pytest's tmp_path: its parents are owner-only and the server runs as postgres.
        self.work = Path(tempfile.mkdtemp(prefix="omnico-pg-"))
        self.work.chmod(0o755)
        if os.getuid() == 0:
            shutil.chown(self.work, "postgres")
        self.data = self.work / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/omnico"
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=omnico"
        self.run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"),
            *("--auth-local=trust", "--auth-host=trust"),
        )
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "omnico")

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        if os.getuid() == 0:  # PostgreSQL refuses to run as root
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            return [runuser, "-u", "postgres", "--", *command]
        return command

    def run(self, program: str, *args: str, stdin: bytes | None = None) -> bytes:
        result = subprocess.run(
            self._command(program, *args),
            cwd="/",
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{program} failed:\n{result.stdout!r}\n{result.stderr!r}"
        return result.stdout

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-k {self.work} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            "pg_ctl",
            *("-D", str(self.data), "-l", str(self.work / "server.log"), "-w", "-t", "60"),
            *("-o", options, *args, action),
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart does: sessions are told "terminating
        connection due to administrator command" and closed."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def load(self, sql: bytes) -> None:
        """Run a script (a pg_dump) in its database ``omnico``."""
        self.run(
            "psql",
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "omnico"),
            *("-q", "-v", "ON_ERROR_STOP=1"),
            stdin=sql,
        )

    def remove(self) -> None:
        subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"),
            cwd="/",
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.work, ignore_errors=True)
