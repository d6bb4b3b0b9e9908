"""A test that hangs is failed by pytest-timeout (pyproject.toml: ``timeout``); its default
"signal" method shows only the test's own thread, stuck waiting, which says little when the
cause is another thread (an event loop that never finishes, a pool thread, a lock). So just
before the timeout every thread's stack is written to the process's real stderr (Python's
faulthandler, also under pytest-xdist, whose workers share the run's stderr), and the test then
fails as before, the run going on. The thread method prints all threads too, but kills the
process, and under xdist the dying worker's report is lost.
"""

from __future__ import annotations

import faulthandler
import sys

import pytest
from _pytest.faulthandler import fault_handler_stderr_fd_key


def _dump_at(timeout: float) -> float:
    return max(timeout - 5, timeout * 0.9)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    if settings.timeout and settings.timeout > 0 and settings.method == "signal":
        fd = item.config.stash.get(fault_handler_stderr_fd_key, None)
        faulthandler.dump_traceback_later(
            _dump_at(settings.timeout), file=fd if fd is not None else sys.__stderr__
        )
    # None: pytest-timeout's own hook then sets the timer as usual.


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item):
    faulthandler.cancel_dump_traceback_later()
