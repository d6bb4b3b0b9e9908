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
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from limits import RateLimitItem

from channels_adapters.throttle import limiter, rate, throttle_wait
from channels_adapters.webchat.visitor import visitor_from_request

ACTIONS = ("start", "message", "offline")
KEY_PREFIX = "omnico-support"


def _rates(action: str) -> tuple[RateLimitItem, RateLimitItem]:
    upper = action.upper()
    return (
        rate(getattr(settings, f"OMNICO_SUPPORT_RATE_{upper}_PER_ADDRESS")),
        rate(getattr(settings, f"OMNICO_SUPPORT_RATE_{upper}_PER_VISITOR")),
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
    return throttle_wait(
        storage_uri=settings.OMNICO_SUPPORT_RATE_STORAGE,
        key_prefix=KEY_PREFIX,
        checks=checks,
        what="support page",
    )


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
    limiter(settings.OMNICO_SUPPORT_RATE_STORAGE, key_prefix=KEY_PREFIX).storage.reset()
