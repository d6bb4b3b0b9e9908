"""How many webhook requests an account and a client address may send (``limits``).

Fixed windows, counted in Redis in the full stack (every web process shares the count) and in
this process's memory when embedded. A request over either rate is answered 429 with the
seconds left in the window as ``Retry-After``; providers retry, so nothing is lost. When the
count cannot be reached (Redis down) requests pass: a webhook must not be lost for a counter.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

logger = logging.getLogger(__name__)


_limiters: dict[str, FixedWindowRateLimiter] = {}
_limiters_lock = threading.Lock()


def _limiter(storage_uri: str) -> FixedWindowRateLimiter:
    """One limiter per storage, built once: the first burst of webhooks arrives on many threads
    at once, and ``limits`` imports its storage's client (redis) while building it; a thread
    that saw that module half-imported failed its version check."""
    limiter = _limiters.get(storage_uri)
    if limiter is None:
        with _limiters_lock:
            limiter = _limiters.get(storage_uri)
            if limiter is None:
                options = {"key_prefix": "omnico-hooks"} if storage_uri.startswith("redis") else {}
                limiter = FixedWindowRateLimiter(storage_from_string(storage_uri, **options))
                _limiters[storage_uri] = limiter
    return limiter


@functools.cache
def _rate(text: str) -> RateLimitItem:
    return parse(text)


def webhook_throttle(*, kind: str, name: str, address: str) -> int | None:
    """Count one request of account ``kind/name`` from ``address``; None when both rates
    allow it, else the whole seconds until the spent one allows requests again."""
    checks = (
        (_rate(settings.OMNICO_WEBHOOK_RATE_PER_ACCOUNT), ("account", kind, name)),
        (_rate(settings.OMNICO_WEBHOOK_RATE_PER_ADDRESS), ("address", address or "-")),
    )
    try:
        limiter = _limiter(settings.OMNICO_WEBHOOK_RATE_STORAGE)
        for rate, keys in checks:
            if not limiter.hit(rate, *keys):
                reset_at, _remaining = limiter.get_window_stats(rate, *keys)
                return max(1, math.ceil(reset_at - time.time()))
    except Exception as exc:  # the counter's storage is down or broken: let the webhook in
        logger.warning("webhook rate limit not counted: %s", type(exc).__name__)
    return None
