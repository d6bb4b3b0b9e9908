"""How often a visitor, and a client address, may use the support page (``limits``).

Three actions: ``start`` (starting a chat), ``message`` (sending one) and ``offline`` (the
offline form). Each has a rate per address and per visitor (the signed cookie's id; a request
without one counts per address only), from the settings ``OMNICO_SUPPORT_RATE_<ACTION>_PER_
ADDRESS`` / ``_PER_VISITOR`` (README, "Configuration"). Fixed windows, counted in Redis in the
full stack (every web process shares the count) and in this process's memory when embedded.

A request over a rate is refused before anything is stored: the answer is 429 with
``Retry-After`` and a translated "slow down" the page shows next to its form. When the count
cannot be reached (Redis down) the request passes: a visitor is not turned away for a counter.

Use: ``support_throttle(request, action=...)`` (None, or the seconds to wait), then
``support_limited_response(request, retry_after=...)``; or the view decorator
``support_rate_limited("offline")`` that does both.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from channels_adapters.webchat.visitor import visitor_from_request

logger = logging.getLogger(__name__)

ACTIONS = ("start", "message", "offline")
KEY_PREFIX = "omnico-support"

_limiters: dict[str, FixedWindowRateLimiter] = {}
_lock = threading.Lock()


def _limiter(storage_uri: str) -> FixedWindowRateLimiter:
    """One limiter per storage, built once under a lock (see ``channels_adapters.throttle``:
    ``limits`` imports its storage's client while building it)."""
    limiter = _limiters.get(storage_uri)
    if limiter is None:
        with _lock:
            limiter = _limiters.get(storage_uri)
            if limiter is None:
                options = {"key_prefix": KEY_PREFIX} if storage_uri.startswith("redis") else {}
                limiter = FixedWindowRateLimiter(storage_from_string(storage_uri, **options))
                _limiters[storage_uri] = limiter
    return limiter


@functools.cache
def _rate(text: str) -> RateLimitItem:
    return parse(text)


def _rates(action: str) -> tuple[RateLimitItem, RateLimitItem]:
    upper = action.upper()
    return (
        _rate(getattr(settings, f"OMNICO_SUPPORT_RATE_{upper}_PER_ADDRESS")),
        _rate(getattr(settings, f"OMNICO_SUPPORT_RATE_{upper}_PER_VISITOR")),
    )


def support_throttle(request: HttpRequest, *, action: str) -> int | None:
    """Count one ``action`` of this request's address and visitor; None when both rates allow
    it, else the whole seconds until the spent one allows it again."""
    if action not in ACTIONS:
        raise ValueError(f"unknown support page action {action!r}")
    per_address, per_visitor = _rates(action)
    checks: list[tuple[RateLimitItem, tuple[str, ...]]] = [
        (per_address, (action, "address", request.META.get("REMOTE_ADDR") or "-"))
    ]
    visitor_id = visitor_from_request(request)
    if visitor_id is not None:
        checks.append((per_visitor, (action, "visitor", visitor_id)))
    try:
        limiter = _limiter(settings.OMNICO_SUPPORT_RATE_STORAGE)
        for rate, keys in checks:
            if not limiter.hit(rate, *keys):
                reset_at, _remaining = limiter.get_window_stats(rate, *keys)
                return max(1, math.ceil(reset_at - time.time()))
    except Exception as exc:  # the counter's storage is down or broken: let the visitor in
        logger.warning("support page rate limit not counted: %s", type(exc).__name__)
    return None


def support_limited_message() -> str:
    return _("You are going too fast. Please slow down and try again in a moment.")


def support_limited_response(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    """429 with Retry-After: JSON ``{"error": ..., "retry_after": n}`` for the page's script,
    else a small page with the message and a link back."""
    message = support_limited_message()
    response: HttpResponse
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"error": message, "retry_after": retry_after}, status=429)
    else:
        response = render(
            request,
            "support/limited.html",
            {"message": message, "back": request.path},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response


def support_rate_limited(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: the view runs only when ``action``'s rates allow this request."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            retry_after = support_throttle(request, action=action)
            if retry_after is not None:
                return support_limited_response(request, retry_after=retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def support_limits_reset() -> None:
    """Forget every count (tests; an admin after a false alarm)."""
    _limiter(settings.OMNICO_SUPPORT_RATE_STORAGE).storage.reset()
