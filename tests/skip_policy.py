"""Under ``CI=true`` a skipped test is a failure, unless the test says its skip is allowed.

CI provides every service the suite needs (Chromium, PostgreSQL, Redis, Dovecot, msgfmt):
a test that skips there because one is missing tests nothing while the run looks green. So
when ``CI`` is true, a skip (from ``pytest.skip``, ``skipif``, ``importorskip`` or a fixture
that skips) is reported as a failure that names its reason. A test whose skip is legitimate
on CI (e.g. a SQLite-only check while CI runs on PostgreSQL) carries
``@pytest.mark.skip_allowed("why")``; expected failures (``xfail``) are left alone.

Loaded from ``tests/conftest.py``; a plugin module of its own so that a test can run pytest
with only this policy on a tiny test file (``tests/test_skip_policy.py``).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

MARKER = "skip_allowed"
_TRUE = {"1", "true", "yes", "on"}


def ci_enabled() -> bool:
    return os.environ.get("CI", "").strip().lower() in _TRUE


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): this test may skip under CI=true (its skip is not a missing service)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and ci_enabled()
        and item.get_closest_marker(MARKER) is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true, which must provide what this test needs: {reason}\n"
            f"(install the missing service, or mark the test @pytest.mark.{MARKER}(reason) "
            "if its skip is legitimate on CI)"
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A whole module skipped at import (``pytest.skip(allow_module_level=True)``,
    ``importorskip`` at the top) fails the same way."""
    report = yield
    if report.skipped and ci_enabled() and collector.get_closest_marker(MARKER) is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true: {reason}"
    return report
