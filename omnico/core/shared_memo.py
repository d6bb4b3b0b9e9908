"""Rarely changed rows remembered per process, forgotten in every process when they change.

The support page reads its own settings (the page, its web-chat account, the active group
types and subjects) on every visitor request: a query each, to read rows that change a few
times a year in the admin. A ``SharedMemo`` keeps what a loader returned in this process's
memory, under a *version* kept where every process sees it:

- full stack (``REDIS_URL``): one Redis key per memo and database, read with one ``GET`` on
  every look-up (a round trip on a process-wide client, far cheaper than building and running
  an ORM query). ``bump`` (``INCR``) after a change makes every process load again on its next
  look-up: a page changed in the admin shows on the next request, whichever web process
  answers it. When Redis cannot be read, nothing is remembered: the loader runs every time.
- embedded (no Redis, one process): the version is a counter in this process's memory.

Who bumps: the owner of the rows, on their ``post_save``/``post_delete``, once the transaction
commits (see ``channels_adapters.webchat.settings_memo``). A write that sends no signal
(``QuerySet.update``, raw SQL) must call ``bump_on_commit`` itself.
"""

from __future__ import annotations

import copy
import functools
import itertools
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

T = TypeVar("T")

_UNREADABLE = object()


@functools.cache
def _redis() -> Any:
    """One client (and connection pool) per process: Django's cache client is per thread and
    async context, so through it every request would open a Redis connection."""
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


class SharedMemo:
    """Values by key, valid while the shared version of ``name`` has not moved."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._local_version = itertools.count(1)
        self._embedded_version: int = next(self._local_version)
        self._version: Any = None
        self._values: dict[Hashable, Any] = {}

    def _key(self) -> str:
        # One version per database: test databases (and two stacks) may share one Redis.
        return f"omnico:memo:{connection.settings_dict['NAME']}:{self.name}"

    def version(self) -> Any:
        """The shared version now (``_UNREADABLE`` when Redis cannot be read)."""
        if not settings.REDIS_URL:
            return self._embedded_version
        try:
            return _redis().get(self._key()) or b"0"
        except Exception as exc:  # Redis down: remember nothing until it is back
            logger.warning("memo %s: version unreadable (%s)", self.name, type(exc).__name__)
            return _UNREADABLE

    def bump_on_commit(self) -> None:
        """Bump now (this connection already reads the change) and again once the surrounding
        transaction commits: a process that read the first new version before the commit may
        have remembered the old rows under it."""
        self.bump()
        if connection.in_atomic_block:
            transaction.on_commit(self.bump)

    def watch(self, *models: type[Model]) -> None:
        """Bump (``bump_on_commit``) whenever a row of one of ``models`` is saved or deleted
        through the ORM. A ``QuerySet.update()`` or raw SQL sends no signal: its caller bumps."""
        for model in models:
            label = f"{self.name}:{model._meta.label}"
            post_save.connect(self._changed, sender=model, weak=False, dispatch_uid=f"{label}:save")
            post_delete.connect(
                self._changed, sender=model, weak=False, dispatch_uid=f"{label}:delete"
            )

    def _changed(self, sender: type, **kwargs: Any) -> None:
        self.bump_on_commit()

    def bump(self) -> None:
        """The rows changed: every process loads them again on its next look-up."""
        with self._lock:
            self._values.clear()
        if not settings.REDIS_URL:
            self._embedded_version = next(self._local_version)
            return
        try:
            _redis().incr(self._key())
        except Exception:
            # Nothing else can tell the other processes; say so loudly.
            logger.exception("memo %s: the change could not be announced", self.name)

    def get(self, key: Hashable, load: Callable[[], T], *, copy_value: bool = False) -> T:
        """``load()``'s value for ``key``, from this process's memory while the version has not
        moved. ``copy_value``: each caller gets its own deep copy (a model instance that a
        request may change, e.g. by opening its file field)."""
        version = self.version()
        if version is _UNREADABLE:
            return load()
        with self._lock:
            if version != self._version:
                self._values.clear()
                self._version = version
            found = self._values.get(key, _UNREADABLE)
        if found is _UNREADABLE:
            found = load()
            with self._lock:
                # Stored under the version read before loading: a change meanwhile moved the
                # shared version, so the next look-up loads again.
                if self._version == version:
                    self._values[key] = found
        return copy.deepcopy(found) if copy_value else found
