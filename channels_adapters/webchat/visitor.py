"""The visitor's identity: a random id in a signed, HttpOnly, SameSite=Lax cookie.

The id is the external id of the visitor's ``customers.Identity(kind=webchat)``. Every view and
the visitor socket take the visitor from this cookie only, never from an id in the request: a
visitor cannot name someone else's conversation, and cannot forge a cookie without the
``SECRET_KEY``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from django.core import signing
from django.http import HttpRequest, HttpResponse

COOKIE = "omnico_visitor"
SALT = "omnico.webchat.visitor"
#: How long a visitor stays the same visitor without coming back (a closed tab for a while).
MAX_AGE_SECONDS = 30 * 24 * 3600
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def visitor_new() -> str:
    return secrets.token_urlsafe(24)


def visitor_from_cookies(cookies: Mapping[str, str]) -> str | None:
    """The visitor id in a request's (or socket's) cookies, or None when absent or forged."""
    raw = cookies.get(COOKIE)
    if not raw:
        return None
    try:
        value = _signer().unsign(raw, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return value if VISITOR_ID.match(value) else None


def visitor_from_request(request: HttpRequest) -> str | None:
    return visitor_from_cookies(request.COOKIES)


def visitor_set_cookie(request: HttpRequest, response: HttpResponse, visitor_id: str) -> None:
    """(Re)issue the cookie, which also renews its lifetime."""
    response.set_cookie(
        COOKIE,
        _signer().sign(visitor_id),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
