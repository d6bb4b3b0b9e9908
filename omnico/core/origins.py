"""The one origin check of every websocket (the agent's and the visitor's).

A browser sends the page's origin (scheme, host and port) with a websocket handshake and the
site's cookies whatever that page is. So a socket is accepted only from the site's own origin
(the handshake's scheme and Host, the host one of ``ALLOWED_HOSTS``) or an origin listed in
``CSRF_TRUSTED_ORIGINS``, compared in full: ``http://127.0.0.1:9999`` is not
``http://127.0.0.1:8000``. A handshake without an Origin (no browser) is refused too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def origin_allowed(scope: dict[str, Any]) -> bool:
    """True when the handshake comes from this site's own origin or a trusted one."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    parsed = _normalise(origin)
    if parsed is None:
        return False
    if any(parsed == _normalise(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS):
        return True
    host = _header(scope, b"host")
    if not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return parsed == _normalise(f"{scheme}://{host}")


class SameOriginValidator:
    """ASGI middleware: a websocket from another origin is refused before anything runs."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)  # type: ignore[arg-type]
        return await self.application(scope, receive, send)
