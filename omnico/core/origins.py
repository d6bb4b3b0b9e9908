"""The one origin check of every websocket (the agent's and the visitor's).

A browser sends the page's origin (scheme, host and port) with a websocket handshake and the
site's cookies whatever that page is. So a socket is accepted only from the site's own origin
(the handshake's scheme and Host, the host one of ``ALLOWED_HOSTS``) or an origin listed in
``CSRF_TRUSTED_ORIGINS``, compared in full: ``http://127.0.0.1:9999`` is not
``http://127.0.0.1:8000``. A handshake without an Origin (no browser) is refused too.

A route may accept more origins: the validator asks its ``extra_origins`` (given by the
wiring, ``omnico.asgi``) for the scope's additional ones, e.g. the visitor socket of a support
page accepts the page's allowed embedding origins, and no other socket does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_parse(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) origin (default port filled in), or None."""
    return _normalise(origin)


def _normalise(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any], extra: Iterable[str] = ()) -> bool:
    """True when the handshake comes from this site's own origin, a trusted one, or one of
    ``extra`` (each compared in full, like the others)."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    parsed = _normalise(origin)
    if parsed is None:
        return False
    if any(parsed == _normalise(trusted) for trusted in (*settings.CSRF_TRUSTED_ORIGINS, *extra)):
        return True
    host = _header(scope, b"host")
    if not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return parsed == _normalise(f"{scheme}://{host}")


ExtraOrigins = Callable[[dict[str, Any]], Awaitable[Iterable[str]]]


async def _no_extra(scope: dict[str, Any]) -> Iterable[str]:
    return ()


class SameOriginValidator:
    """ASGI middleware: a websocket from another origin is refused before anything runs.
    ``extra_origins(scope)`` names the origins a route accepts besides the site's own (asked
    only when those refuse, so the agent screen's sockets pay nothing for it)."""

    def __init__(self, application: Any, extra_origins: ExtraOrigins = _no_extra) -> None:
        self.application = application
        self.extra_origins = extra_origins

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            extra = await self.extra_origins(scope) if _header(scope, b"origin") else ()
            if not extra or not origin_allowed(scope, extra):
                return await WebsocketDenier()(scope, receive, send)  # type: ignore[arg-type]
        return await self.application(scope, receive, send)
