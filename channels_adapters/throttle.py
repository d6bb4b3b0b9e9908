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


#: The webhooks' counts in Redis (``limiter``'s ``key_prefix``).
HOOKS_PREFIX = "omnico-hooks"

_limiters: dict[tuple[str, str], FixedWindowRateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(storage_uri: str, *, key_prefix: str = HOOKS_PREFIX) -> FixedWindowRateLimiter:
    """One limiter per storage and prefix, built once: the first burst of webhooks arrives on
    many threads at once, and ``limits`` imports its storage's client (redis) while building
    it; a thread that saw that module half-imported failed its version check. In memory each
    prefix keeps its own counts."""
    key = (storage_uri, key_prefix)
    found = _limiters.get(key)
    if found is None:
        with _limiters_lock:
            found = _limiters.get(key)
            if found is None:
                options = {"key_prefix": key_prefix} if storage_uri.startswith("redis") else {}
                found = FixedWindowRateLimiter(storage_from_string(storage_uri, **options))
                _limiters[key] = found
    return found


@functools.cache
def rate(text: str) -> RateLimitItem:
    return parse(text)


def throttle_wait(
    *,
    storage_uri: str,
    key_prefix: str,
    checks: list[tuple[RateLimitItem, tuple[str, ...]]],
    what: str,
) -> int | None:
    """Count one hit of each ``(rate, keys)``; None when every rate allows it, else the whole
    seconds until the first spent one allows hits again. When the counter's storage cannot be
    reached the hit passes (logged as ``what``): nothing is refused for a counter."""
    try:
        counter = limiter(storage_uri, key_prefix=key_prefix)
        for item, keys in checks:
            if not counter.hit(item, *keys):
                reset_at, _remaining = counter.get_window_stats(item, *keys)
                return max(1, math.ceil(reset_at - time.time()))
    except Exception as exc:  # the counter's storage is down or broken: let it in
        logger.warning("%s rate limit not counted: %s", what, type(exc).__name__)
    return None


def webhook_throttle(*, kind: str, name: str, address: str) -> int | None:
    """Count one request of account ``kind/name`` from ``address``; None when both rates
    allow it, else the whole seconds until the spent one allows requests again."""
    return throttle_wait(
        storage_uri=settings.OMNICO_WEBHOOK_RATE_STORAGE,
        key_prefix=HOOKS_PREFIX,
        checks=[
            (rate(settings.OMNICO_WEBHOOK_RATE_PER_ACCOUNT), ("account", kind, name)),
            (rate(settings.OMNICO_WEBHOOK_RATE_PER_ADDRESS), ("address", address or "-")),
        ],
        what="webhook",
    )


def webhook_limits_reset() -> None:
    """Forget every webhook count (tests; an admin after a false alarm)."""
    limiter(settings.OMNICO_WEBHOOK_RATE_STORAGE).storage.reset()
