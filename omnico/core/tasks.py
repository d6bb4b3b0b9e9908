"""The Celery task classes every task is declared with (the floor: imports no app, no roof).

Celery's eager mode (embedded: no broker, no worker) runs a task at once, also one with a
``countdown`` or a ``self.retry`` with backoff, so five delivery retries fired within a fraction
of a second. :class:`OmnicoTask` hands a delayed task to the process's embedded scheduler
instead, which runs it when due; :class:`BackgroundTask` (a task that talks to another server:
a webhook delivery, a shop's API) is handed over even without a delay, so the request that
queued it never waits for that server. The scheduler (``omnico.scheduler``, the roof) installs
itself with :func:`deferrer_install`; without one (tests, a shell) tasks run as Celery runs them.
"""

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery import Task, states
from celery.result import EagerResult
from celery.utils import uuid

Deferrer = Callable[[float, Callable[[], Any]], bool]

_deferrer: Deferrer | None = None


def deferrer_install(deferrer: Deferrer | None) -> None:
    """Where eager tasks that must not run now go: ``deferrer(delay, job)`` returns False when
    it cannot take the job (no scheduler running), and the task then runs at once."""
    global _deferrer
    _deferrer = deferrer


def _delay_seconds(countdown: Any, eta: Any) -> float:
    if eta is not None:
        if isinstance(eta, str):
            eta = datetime.fromisoformat(eta)
        if eta.tzinfo is None:
            eta = eta.replace(tzinfo=UTC)
        return (eta - datetime.now(UTC)).total_seconds()
    return float(countdown or 0)


class OmnicoTask(Task):
    """A task that waits its countdown/eta when run eagerly.

    ``apply`` is where both arrive eagerly (``apply_async`` and a retry's signature call it with
    the delay in their options).
    """

    #: Run eagerly on the embedded scheduler's thread, never in the caller's request.
    background: bool = False

    def apply(self, args=None, kwargs=None, *rest, **options):
        delay = _delay_seconds(options.get("countdown"), options.get("eta"))
        deferrer = _deferrer
        if deferrer is not None and (delay > 0 or self.background):
            now = {k: v for k, v in options.items() if k not in ("countdown", "eta")}
            task_id = options.get("task_id") or uuid()
            now["task_id"] = task_id
            job = functools.partial(super().apply, args, kwargs, *rest, **now)
            if deferrer(max(delay, 0.0), job):
                return EagerResult(task_id, None, states.PENDING, name=self.name)
        return super().apply(args, kwargs, *rest, **options)


class BackgroundTask(OmnicoTask):
    """A task that talks to another server: embedded, it never runs in the caller's request."""

    background = True
