import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnico.settings")

app = Celery("omnico")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def _release_db_connections(task=None, **kwargs) -> None:
    """Hand the task's connection back to the pool (a cheap put, not a reconnect) and drop a
    broken one; see CELERY_DB_REUSE_MAX in settings. Eager tasks run inside the caller's
    request or transaction and leave its connection alone."""
    from django.db import close_old_connections

    if task is None or getattr(task.request, "is_eager", False):
        return
    close_old_connections()
