"""scripts/Dockerfile, read as a builder would (no engine here to build it): uv pinned, the lock
enforced, static files collected into the image outside the var/ volume."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "scripts/Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    rows = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_uv_is_installed_at_a_fixed_version():
    args = {word: rest for word, rest in _instructions() if word == "ARG"}
    assert re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", args["ARG"])
    runs = " ".join(rest for word, rest in _instructions() if word == "RUN")
    assert '"uv==${UV_VERSION}"' in runs
    assert "pip install --no-cache-dir uv " not in runs + " "


def test_every_uv_sync_checks_the_lock_against_pyproject():
    syncs = [
        part
        for word, rest in _instructions()
        if word == "RUN"
        for part in rest.split("&&")
        if "uv sync" in part
    ]
    assert len(syncs) == 2
    assert all("--locked" in sync and "--frozen" not in sync for sync in syncs)


def test_the_lock_matches_pyproject_so_a_locked_build_succeeds():
    uv = shutil.which("uv")
    assert uv, "uv is needed to check uv.lock"
    check = subprocess.run(
        [uv, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_static_files_are_collected_at_build_time_outside_the_var_volume():
    env = " ".join(rest for word, rest in _instructions() if word == "ENV")
    assert "OMNICO_STATIC_COLLECTED=1" in env
    static_root = re.search(r"OMNICO_STATIC_ROOT=(\S+)", env)
    var_dir = re.search(r"OMNICO_VAR_DIR=(\S+)", env)
    assert static_root and var_dir
    assert not static_root.group(1).startswith(var_dir.group(1) + "/")
    volumes = [rest for word, rest in _instructions() if word == "VOLUME"]
    assert volumes == ['["/app/var"]']

    build = " ".join(rest for word, rest in _instructions() if word == "RUN")
    assert "manage.py collectstatic --noinput" in build
    # The throwaway settings directory of the build step goes in the same layer.
    assert "OMNICO_VAR_DIR=/tmp/build-var" in build and "rm -rf /tmp/build-var" in build


def test_the_default_command_serves_without_collecting_again():
    (cmd,) = [rest for word, rest in _instructions() if word == "CMD"]
    assert "serve" in cmd and "--no-collectstatic" in cmd
