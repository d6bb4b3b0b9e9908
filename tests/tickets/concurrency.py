"""Run one function from several threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections

postgres_only = pytest.mark.skipif(
    connections["default"].vendor != "postgresql",
    reason="SQLite serialises writers with a file lock; real concurrency needs PostgreSQL",
)


def run_concurrently(fn: Callable[[int], object], n: int) -> list[object]:
    """Call ``fn(i)`` for i in 0..n-1 from n threads released together; re-raise any error."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0]
    return results
