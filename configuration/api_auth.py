"""Who may call ``/api/v1/``: bearer-token authentication, per-view scopes and the per-token
rate limit (named in ``REST_FRAMEWORK`` settings; see ``configuration.api_base``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from limits import parse as parse_limit
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from configuration.api_tokens import api_token_authenticate
from configuration.models import ApiToken


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


class TokenRateThrottle(SimpleRateThrottle):
    """``OMNICO_API_RATE`` requests per token (default 600/minute), counted in the Django cache
    (Redis in the full stack, so every web process shares the count)."""

    scope = "api_token"

    def get_rate(self) -> str:
        return str(settings.OMNICO_API_RATE)

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return (None, None)
        item = parse_limit(rate)
        return (item.amount, item.get_expiry())

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        if not isinstance(token, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}
