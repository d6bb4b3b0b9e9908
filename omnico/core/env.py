"""Typed readers for settings from the environment.

Every setting Omnico reads comes through one of these helpers, so a bad value fails
at start with a message that names the variable, never later with a stack trace.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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


def persistent_secret(name: str, path: Path, *, generate) -> str:
    """Read ``name`` from the environment, else a value generated once and kept in ``path``."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        stored = path.read_text().strip()
        if stored:
            return stored
    value = generate()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def random_secret_key() -> str:
    return secrets.token_urlsafe(50)
