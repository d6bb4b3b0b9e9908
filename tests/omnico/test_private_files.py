"""var/ holds the secret key, the encryption key and the SQLite database: its owner's only."""

from __future__ import annotations

import os
import sqlite3
import stat

from tests.omnico.helpers import clean_env, settings_in_subprocess

SECRETS = ("secret_key", "encryption_key", "omnico.sqlite3")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _start(tmp_path) -> None:
    old = os.umask(0o022)  # a usual umask: what is not made private is world-readable
    try:
        result = settings_in_subprocess(clean_env(tmp_path), "DATABASES")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr


def test_a_first_start_creates_var_and_its_secrets_owner_only(tmp_path):
    _start(tmp_path)

    var = tmp_path / "var"
    assert _mode(var) == 0o700
    for name in SECRETS:
        assert _mode(var / name) == 0o600, name


def test_a_start_makes_a_readable_var_from_before_owner_only(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "secret_key").write_text("s" * 50 + "\n")
    (var / "encryption_key").write_text("ZmVybmV0LWtleS1mZXJuZXQta2V5LWZlcm5ldC1rZXk=\n")
    sqlite3.connect(var / "omnico.sqlite3").close()
    for name in SECRETS:
        (var / name).chmod(0o644)

    _start(tmp_path)

    assert _mode(var) == 0o700
    for name in SECRETS:
        assert _mode(var / name) == 0o600, name
    assert (var / "secret_key").read_text() == "s" * 50 + "\n"  # kept, not regenerated


def test_uploaded_and_fetched_files_are_owner_only(settings):
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700
