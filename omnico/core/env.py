"""Typed readers for settings from the environment.

Every setting Omnico reads comes through one of these helpers, so a bad value fails
at start with a message that names the variable, never later with a stack trace.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ImproperlyConfiguredEnv(RuntimeError):
    pass


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate such as ``600/minute`` or ``50 per second`` (the ``limits`` library's notation)."""
    from limits import parse

    raw = os.environ.get(name, "").strip() or default
    try:
        parse(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(
            f"{name} must be a rate such as 600/minute or 50/second, got {raw!r}"
        ) from None
    return raw


def persistent_secret(name: str, path: Path, *, generate) -> str:
    """Read ``name`` from the environment, else a value generated once and kept in ``path``
    (owner-only, like the directory it is in)."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    private_dir(path.parent)
    if path.exists():
        owner_only(path)
        stored = path.read_text().strip()
        if stored:
            return stored
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    owner_only(path)
    return value


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) readable by its owner only (0700), or make an existing
    one so: it holds the secret key, the encryption key and the SQLite database."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return owner_only(path)


def private_file(path: Path) -> Path:
    """Create ``path`` empty and owner-only (0600) when missing, or make an existing one so."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return owner_only(path)


def owner_only(path: Path) -> Path:
    """Take away every group and other permission of ``path`` (0600 a file, 0700 a directory);
    fail at start, naming it, when that cannot be done."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except OSError as exc:
        raise ImproperlyConfiguredEnv(
            f"{path} is readable by other users and cannot be made owner-only: {exc.strerror}"
        ) from None
    return path


def random_secret_key() -> str:
    return secrets.token_urlsafe(50)


#: Hosts whose passwordless connections stay on this machine (a Unix socket is a path or empty).
_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "[::1]"}


def require_database_password(database: Mapping[str, Any]) -> None:
    """Refuse a PostgreSQL server reached over the network without a password: it would trust
    anyone who reaches it. Unix sockets and loopback stay allowed (a developer's server, the
    test services); so does libpq's own PGPASSWORD or PGPASSFILE, or certificates when
    OMNICO_DB_PASSWORDLESS=1 says so."""
    host = str(database.get("HOST") or "")
    if database.get("PASSWORD") or host.startswith("/") or host in _LOCAL_HOSTS:
        return
    if os.environ.get("PGPASSWORD") or os.environ.get("PGPASSFILE"):
        return
    if env_bool("OMNICO_DB_PASSWORDLESS", False):
        return
    raise ImproperlyConfiguredEnv(
        f"DATABASE_URL names the PostgreSQL server {host!r} without a password: put one in it "
        "(postgres://user:PASSWORD@host/db; with docker compose set POSTGRES_PASSWORD in .env), "
        "or set OMNICO_DB_PASSWORDLESS=1 if the server authenticates another way"
    )
