"""Celery beat, one at a time by construction: the scheduler sends periodic tasks only while
it holds a lock in Redis (``CELERY_BEAT_SCHEDULER`` names it).

Why a lock and not a scheduler that tolerates two: every periodic task here is safe to run
twice (the sweeps claim rows with ``SKIP LOCKED`` or conditional updates, the mail poll holds its
own lock), but two beats would still double the broker traffic and the database work of every
sweep, and any schedule added later would have to be checked for it. With the lock, a second
beat (a scaled compose service, a Procfile started on two hosts, a deploy that overlaps the old
beat with the new) waits on standby, checking every few seconds, and takes over within
``LOCK_TIMEOUT`` seconds of the first one's death; a beat that stops cleanly hands over at once.

The schedule lives in memory (Celery's base ``Scheduler``, not the ``PersistentScheduler``'s
shelve file, which two beats on one volume would both open): every entry is an interval of a
minute or less, so there is nothing worth remembering across a restart.

Health: with ``CELERY_BEAT_ENABLE_REMOTE_CONTROL`` beat answers
``celery -A omnico inspect ping --destination celerybeat@HOST`` while its loop ticks (a standby
one too), and stops answering when the loop stalls (the compose health check).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery.beat import Scheduler
from redis.exceptions import LockNotOwnedError, RedisError

logger = logging.getLogger(__name__)

#: The Redis key the sending beat holds.
LOCK_NAME = "omnico:beat:lock"
#: How long the lock outlives a beat that died without releasing it (seconds).
LOCK_TIMEOUT = 30.0
#: How often the sending beat renews the lock at least, and a standby one tries to take it.
RENEW_EVERY = 5


class LockedScheduler(Scheduler):
    """Celery's in-memory scheduler that sends tasks only while it holds ``LOCK_NAME``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("schedule_filename", None)  # no file: see the module's docstring
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval or RENEW_EVERY, RENEW_EVERY)
        self._lock: Any = None
        self.leading = False

    @property
    def info(self) -> str:
        return f"    . lock -> {LOCK_NAME} (one beat sends; others stand by)"

    def _beat_lock(self) -> Any:
        if self._lock is None:
            client = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5)
            self._lock = client.lock(LOCK_NAME, timeout=LOCK_TIMEOUT, thread_local=False)
        return self._lock

    def hold_lock(self) -> bool:
        """Take the lock, or renew it if held; whether this beat may send now."""
        lock = self._beat_lock()
        try:
            if self.leading:
                lock.reacquire()
            elif lock.acquire(blocking=False):
                self.leading = True
                logger.info("beat: took %s, sending the periodic tasks", LOCK_NAME)
        except LockNotOwnedError:
            self.leading = False
            logger.warning("beat: lost %s (expired): standing by", LOCK_NAME)
        except RedisError as exc:
            # Redis is the broker too: nothing could be sent now anyway. The lock, if this beat
            # holds it, is kept while it lasts, and renewed once Redis answers again.
            logger.warning("beat: cannot reach Redis for %s: %s", LOCK_NAME, exc)
            return False
        return self.leading

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self.hold_lock():
            return RENEW_EVERY
        return min(super().tick(*args, **kwargs), RENEW_EVERY)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.leading:
                self.leading = False
                try:
                    self._beat_lock().release()
                    logger.info("beat: released %s", LOCK_NAME)
                except RedisError:  # expired or unreachable: it frees itself in LOCK_TIMEOUT
                    pass
