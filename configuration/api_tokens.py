"""API tokens: created with their secret shown once, stored as a SHA-256, checked in constant
time, revoked for good."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from configuration.models import ApiScope, ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Every token starts with this, so a leaked one is easy to recognise (secret scanners).
TOKEN_PREFIX = "omn_"  # noqa: S105 (a marker, not a secret)
#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret, which exists only here: shown to the admin once."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_scopes_clean(scopes: list[str]) -> list[str]:
    """The known scopes of ``scopes``, once each, in the order ``ApiScope`` lists them."""
    wanted = set(scopes)
    return [scope for scope in ApiScope.values if scope in wanted]


def api_token_issue(token: ApiToken) -> str:
    """Give an unsaved ``token`` a fresh secret (prefix and hash) and return the secret."""
    public = secrets.token_hex(4)  # 8 hex characters that find the row
    secret = f"{TOKEN_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    token.prefix = public
    token.token_hash = _digest(secret)
    return secret


@transaction.atomic
def api_token_create(
    *, name: str, scopes: list[str], created_by: User | None = None, acts_as: User | None = None
) -> IssuedToken:
    token = ApiToken(
        name=name, scopes=api_token_scopes_clean(scopes), created_by=created_by, acts_as=acts_as
    )
    secret = api_token_issue(token)
    token.save(force_insert=True)
    return IssuedToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke ``token`` for good; False when it already was."""
    now = timezone.now()
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if changed:
        token.revoked_at = now
    return bool(changed)


def api_token_authenticate(*, secret: str) -> ApiToken | None:
    """The live token whose secret this is, or None (unknown, malformed or revoked). One query;
    the hash is compared in constant time; ``last_used_at`` is written at most once a minute."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    public, _sep, rest = secret.removeprefix(TOKEN_PREFIX).partition("_")
    if not public or not rest:
        return None
    # A slice, not first(): the prefix is unique, an ORDER BY would only cost planning.
    found = list(ApiToken.objects.select_related("acts_as").filter(prefix=public)[:1])
    token = found[0] if found else None
    if token is None or not hmac.compare_digest(token.token_hash, _digest(secret)):
        return None
    if token.revoked_at is not None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
