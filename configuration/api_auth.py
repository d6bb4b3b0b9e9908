"""Who may call ``/api/v1/``: bearer-token authentication, per-view scopes and the per-token
rate limit (named in ``REST_FRAMEWORK`` settings; see ``configuration.api_base``)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from limits import parse as parse_limit
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from configuration.api_tokens import api_token_authenticate
from configuration.models import ApiToken

logger = logging.getLogger(__name__)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``. The request's user is the token's acting agent (or
    anonymous); ``request.auth`` is the ``ApiToken``."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:  # noqa: PLR2004
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            secret = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = api_token_authenticate(secret=secret)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (token.acts_as or AnonymousUser(), token)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "configuration.api_auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}


class HasScope(BasePermission):
    """The view's ``scopes`` names the scope each method needs; the token must hold it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # DRF answers 401: no credentials were given
        scopes: dict[str, str] = getattr(view, "scopes", {})
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = scopes.get(method or "")
        if needed is None:
            return False
        if not token.has_scope(needed):
            raise exceptions.PermissionDenied(f"This token lacks the scope {needed}.")
        return True


class TokenRateThrottle(BaseThrottle):
    """``OMNICO_API_RATE`` requests per token (default 600/minute) in fixed windows, counted
    in the Django cache (Redis in the full stack: every web process shares the count): one
    atomic increment per request, not DRF's list of every request's time. Over it: 429 with
    the seconds left in the window as ``Retry-After``. A window edge lets up to twice the rate
    through in a short burst. A cache that cannot be reached lets requests pass."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # not authenticated: answered 401 anyway
        item = parse_limit(str(settings.OMNICO_API_RATE))
        period = item.get_expiry()
        now = time.time()
        window = int(now // period)
        key = f"api-rate:{token.pk}:{window}"
        try:
            cache.add(key, 0, timeout=period + 1)
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        except Exception as exc:
            logger.warning("API rate limit not counted: %s", type(exc).__name__)
            return True
        if count <= item.amount:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return None if self._wait is None else math.ceil(self._wait)
