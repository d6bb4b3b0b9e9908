import functools
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task, states
from celery.result import EagerResult
from celery.signals import task_postrun, worker_init, worker_process_init
from celery.utils import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")


def _delay_seconds(countdown: Any, eta: Any) -> float:
    if eta is not None:
        if isinstance(eta, str):
            eta = datetime.fromisoformat(eta)
        if eta.tzinfo is None:
            eta = eta.replace(tzinfo=UTC)
        return (eta - datetime.now(UTC)).total_seconds()
    return float(countdown or 0)


class OmnicoTask(Task):
    """A task that waits its countdown/eta when run eagerly (embedded: no broker, no worker).

    Celery's eager mode runs a task at once, also a ``countdown`` or a ``self.retry`` with
    backoff, so five delivery retries fired within a fraction of a second. ``apply`` is where
    both arrive eagerly (``apply_async`` and a retry's signature call it with the delay in
    their options); a delayed one is handed to the embedded scheduler, which runs it when due
    (``omnico.scheduler.defer``). Without a running scheduler (tests, a shell) nothing changes.

    A task declared with ``background=True`` (one that talks to another server: a webhook
    delivery, a shop's API) is handed to the scheduler's thread even without a delay, so the
    request that queued it never waits for that server; its callers just call ``delay()``.
    """

    #: Run eagerly on the embedded scheduler's thread, never in the caller's request.
    background: bool = False

    def apply(self, args=None, kwargs=None, *rest, **options):
        delay = _delay_seconds(options.get("countdown"), options.get("eta"))
        if delay > 0 or self.background:
            from omnico.scheduler import defer

            now = {k: v for k, v in options.items() if k not in ("countdown", "eta")}
            task_id = options.get("task_id") or uuid()
            now["task_id"] = task_id
            if defer(max(delay, 0.0), functools.partial(super().apply, args, kwargs, *rest, **now)):
                return EagerResult(task_id, None, states.PENDING, name=self.name)
        return super().apply(args, kwargs, *rest, **options)


app = Celery("omnico", task_cls=OmnicoTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _load_channel_adapters(**kwargs) -> None:
    """Import every channel adapter (and its HTTP client) once in the worker's main process,
    before the pool forks: otherwise each child pays for the imports on its first ingest."""
    from channels_adapters.registry import ADAPTERS, get_adapter

    for kind in list(ADAPTERS):
        try:
            get_adapter(kind)
        except Exception:  # a broken adapter fails its own events, not the worker's start
            logging.getLogger(__name__).warning("channel adapter %s did not load", kind)


@task_postrun.connect
def _release_db_connections(task=None, **kwargs) -> None:
    """Hand the task's connection back to the pool (a cheap put, not a reconnect) and drop a
    broken one; see CELERY_DB_REUSE_MAX in settings. Eager tasks run inside the caller's
    request or transaction and leave its connection alone."""
    from django.db import close_old_connections

    if task is None or getattr(task.request, "is_eager", False):
        return
    close_old_connections()


def pool_of_one(databases: Mapping[str, Any]) -> None:
    """Shrink every database's connection pool to one connection: what a process that runs one
    task at a time can use (README, "Connection budget")."""
    for database in databases.values():
        pool = database.get("OPTIONS", {}).get("pool")
        if isinstance(pool, dict):
            pool["min_size"] = min(int(pool.get("min_size", 0)), 1)
            pool["max_size"] = 1


@worker_process_init.connect
def _one_connection_per_child(**kwargs) -> None:
    """A prefork child runs one task at a time, so its pool (sized for a web process's threads)
    holds one connection: a worker then needs at most its concurrency in connections."""
    from django.conf import settings

    pool_of_one(settings.DATABASES)
