"""The image's build context (root .dockerignore, read by Docker's rules): what `COPY . .` in
scripts/Dockerfile takes holds the code and never a secret, local state or a cache."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _load_build_context():
    spec = importlib.util.spec_from_file_location(
        "build_context", ROOT / "scripts/build_context.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_context = _load_build_context()

#: What a checkout that ran Omnico, its tests and an editor holds besides the code.
DECOYS = [
    "var/secret_key",
    "var/encryption_key",
    "var/demo.env",
    "var/omnico.sqlite3",
    "var/omnico.sqlite3-wal",
    "var/media/attachments/passport.pdf",
    "var/staticfiles/js/omnico.js",
    ".git/config",
    ".venv/bin/python",
    ".env",
    ".env.production",
    "tickets/__pycache__/models.cpython-311.pyc",
    "omnico/core/__pycache__/env.cpython-311.pyc",
    "tickets/stray.sqlite3",
    "channels_adapters/email/test.pyc",
    "omnico/server.key",
    "omnico/tls.pem",
    "static/node_modules/htmx.org/package.json",
    "templates/.env",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/content",
    "tests/conftest.py",
    "bench/results/run.json",
    "dump.sql",
]


def _checkout_with_decoys(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(ROOT / ".dockerignore", root / ".dockerignore")
    for name in ["manage.py", "pyproject.toml", "uv.lock", "omnico/settings.py", *DECOYS]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return root


def test_the_context_of_a_used_checkout_holds_no_secret_state_or_cache(tmp_path):
    root = _checkout_with_decoys(tmp_path)

    files = build_context.context_files(root)

    assert [decoy for decoy in DECOYS if decoy in files] == []
    assert {"manage.py", "pyproject.toml", "uv.lock", "omnico/settings.py"} <= set(files)


def test_the_context_of_this_checkout_holds_the_code_and_nothing_forbidden():
    files = build_context.context_files(ROOT)

    assert build_context.forbidden_in(files) == []
    top = {path.split("/")[0] for path in files}
    local_apps = {app for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()}
    assert local_apps <= top, "an app the image needs is left out of .dockerignore's allowlist"
    assert {"templates", "static", "manage.py", "uv.lock", "pyproject.toml"} <= top
    assert "omnico/locale/tr/LC_MESSAGES/django.mo" in files


def test_the_script_lists_the_context_and_its_check_passes():
    listed = subprocess.run(
        [sys.executable, "scripts/build_context.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    checked = subprocess.run(
        [sys.executable, "scripts/build_context.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

    assert "omnico/settings.py" in listed
    assert not any(line.startswith(("var/", ".git/", ".venv/")) for line in listed)
    assert checked.returncode == 0, checked.stderr


def test_the_check_names_a_secret_that_reached_the_context(tmp_path):
    root = _checkout_with_decoys(tmp_path)
    (root / ".dockerignore").write_text("*.md\n")  # an ignore file that forgets var/

    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_context.py"), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 1
    assert "must not be in the image: var/secret_key" in checked.stderr


def test_one_ignore_file_for_every_builder():
    """BuildKit prefers <Dockerfile>.dockerignore to the root one: a second file would drift."""
    assert not (ROOT / "scripts/Dockerfile.dockerignore").exists()
