"""The import contracts of pyproject.toml ([tool.importlinter], run by CI as ``lint-imports``)
hold for the code, and fail when an import goes against the one-way dependencies.

Each case runs lint-imports on a copy of the packages, with one import added against a contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "omnico",
    "configuration",
    "customers",
    "tickets",
    "channels_adapters",
    "inbox",
    "reports",
]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tmp_path: Path, bad_import: tuple[str, str] | None = None) -> tuple[int, str]:
    """Copy the packages and pyproject.toml into ``tmp_path``, append ``bad_import`` =
    (module file, import line) if given, and run lint-imports there."""
    ignore = shutil.ignore_patterns("__pycache__", "locale", "templates", "static", "*.mo", "*.po")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if bad_import is not None:
        path, line = bad_import
        with (tmp_path / path).open("a") as module:
            module.write(f"\n{line}\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_code_keeps_every_import_contract(tmp_path):
    returncode, out = lint_imports(tmp_path)

    assert returncode == 0, out
    assert "BROKEN" not in out


@pytest.mark.parametrize(
    ("bad_import", "broken"),
    [
        (
            ("tickets/services.py", "import inbox.views  # noqa"),
            "tickets is not allowed to import inbox",
        ),
        (
            ("configuration/models.py", "import tickets.models  # noqa"),
            "configuration is not allowed to import tickets",
        ),
        (("omnico/core/env.py", "import customers.models  # noqa"), "omnico.core is not allowed"),
        (("omnico/core/crypto.py", "import omnico.settings  # noqa"), "omnico.core is not allowed"),
        (("reports/views.py", "import inbox.selectors  # noqa"), "reports is not allowed"),
        (("tickets/models.py", "import omnico.urls  # noqa"), "tickets is not allowed"),
    ],
    ids=[
        "tickets-imports-inbox",
        "configuration-imports-tickets",
        "floor-imports-an-app",
        "floor-imports-the-roof",
        "reports-imports-inbox",
        "app-imports-the-roof",
    ],
)
def test_an_import_against_the_dependencies_breaks_a_contract(tmp_path, bad_import, broken):
    returncode, out = lint_imports(tmp_path, bad_import)

    assert returncode != 0, out
    assert "BROKEN" in out
    assert broken in " ".join(out.split()), out
