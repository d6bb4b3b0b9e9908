"""CI=true turns a skip for a missing service into a failure (tests/skip_policy.py).

Each test runs pytest in a subprocess, with only the skip policy as a plugin, on a tiny test
file that skips the way the real suite does when a browser or a server is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TINY_TESTS = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import pytest

    BROWSER = Path("/nonexistent/chromium")

    @pytest.fixture
    def browser():
        if not BROWSER.exists():
            pytest.skip(f"{BROWSER} not found: apt-get install chromium")
        yield BROWSER

    def test_page_renders_in_the_browser(browser):
        assert browser

    @pytest.mark.skipif(not os.environ.get("NO_SUCH_SERVICE_URL"), reason="needs Redis")
    def test_needs_redis():
        pass

    def test_needs_dovecot():
        pytest.skip("dovecot is not installed")

    @pytest.mark.skip_allowed("SQLite only; CI runs PostgreSQL")
    @pytest.mark.skipif(True, reason="SQLite only")
    def test_sqlite_only():
        pass

    @pytest.mark.xfail(reason="known")
    def test_known_failure():
        assert False

    def test_passes():
        pass
    """
)


#: A whole module skipped at import, as a test module needing an uninstalled driver would be.
TINY_MODULE = (
    'import pytest\n\npytest.importorskip("no_such_browser_driver")\n\n\ndef test_x():\n    pass\n'
)


def run_pytest(tmp_path: Path, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_tiny.py").write_text(TINY_TESTS)
    (tmp_path / "test_tiny_module.py").write_text(TINY_MODULE)
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["PYTHONPATH"] = str(ROOT)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.skip_policy",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            "-v",
            "-rfEs",
            "--continue-on-collection-errors",
            "test_tiny.py",
            "test_tiny_module.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def outcomes(output: str) -> dict[str, str]:
    """``{test name: outcome}`` from pytest's verbose lines (``test_tiny.py::name OUTCOME``)."""
    found = {}
    for line in output.splitlines():
        if line.startswith("test_tiny.py::"):
            name, outcome = line.removeprefix("test_tiny.py::").split()[:2]
            found[name] = outcome
    return found


def test_under_ci_a_skip_for_a_missing_service_fails_the_run(tmp_path):
    result = run_pytest(tmp_path, ci="true")
    out = result.stdout + result.stderr

    assert result.returncode == 1, out
    assert outcomes(out) == {
        "test_page_renders_in_the_browser": "ERROR",  # the fixture skipped: a setup error
        "test_needs_redis": "ERROR",  # skipif is evaluated in setup
        "test_needs_dovecot": "FAILED",
        "test_sqlite_only": "SKIPPED",
        "test_known_failure": "XFAIL",
        "test_passes": "PASSED",
    }, out
    assert "skipped under CI=true" in out
    assert "/nonexistent/chromium not found" in out
    assert "dovecot is not installed" in out
    assert "ERROR test_tiny_module.py - module skipped under CI=true" in out


def test_without_ci_the_same_skips_stay_skips(tmp_path):
    for ci in (None, "false"):
        result = run_pytest(tmp_path, ci=ci)
        out = result.stdout + result.stderr

        assert result.returncode == 0, out
        assert outcomes(out) == {
            "test_page_renders_in_the_browser": "SKIPPED",
            "test_needs_redis": "SKIPPED",
            "test_needs_dovecot": "SKIPPED",
            "test_sqlite_only": "SKIPPED",
            "test_known_failure": "XFAIL",
            "test_passes": "PASSED",
        }, out
        assert "could not import 'no_such_browser_driver'" in out  # skipped, not failed
        assert "ERROR test_tiny_module.py" not in out
