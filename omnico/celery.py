import logging
import os
from collections.abc import Mapping
from typing import Any

from celery import Celery
from celery.signals import task_postrun, worker_init, worker_process_init

from omnico import scheduler
from omnico.core.gc_freeze import freeze_startup_objects
from omnico.core.tasks import OmnicoTask, deferrer_install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")


app = Celery("omnico", task_cls=OmnicoTask)
deferrer_install(scheduler.defer)  # embedded: delayed and background tasks run on its thread
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


@worker_init.connect  # after the adapters above: in the main process, before the pool forks
@worker_process_init.connect  # in each child: what was made between that and its fork
def _freeze_startup_objects(**kwargs) -> None:
    """The imports and set-up of a worker live as long as it does: out of the collector's
    walk (``omnico.core.gc_freeze``). Frozen before the fork, the children's collections do
    not touch (and copy) the pages they share with the main process."""
    freeze_startup_objects()


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
