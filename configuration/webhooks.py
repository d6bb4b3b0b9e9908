"""Outgoing webhook endpoints: their secrets, their URLs, and which ones want an event.

- The secret is generated here when an endpoint is created (``webhook_endpoint_create``) and
  when an admin rotates it (``webhook_endpoint_rotate_secret``); both return it so the admin can
  show it once. It is stored encrypted (``EncryptedTextField``) and never rendered again.
- URLs: ``https`` only, except plain ``http`` to a loopback address when ``DEBUG`` or
  ``OMNICO_WEBHOOK_ALLOW_PRIVATE`` is set (tests, a receiver on the same host). Private,
  loopback, link-local and reserved addresses are refused unless ``OMNICO_WEBHOOK_ALLOW_PRIVATE``
  is set (loopback also under ``DEBUG``): a desk must not be turned into a probe of its own
  network (SSRF). A literal address is checked when the admin saves; a host name is resolved
  and checked again before every send (``webhook_address_refusal``).
- ``subscribed_endpoint_ids``: the enabled endpoints that want an event, remembered per process
  (``omnico.core.shared_memo``): the ingest hot path asks on every message and pays no query
  while no endpoint changed.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from configuration.models import WebhookEndpoint
from omnico.core.shared_memo import SharedMemo

MEMO = SharedMemo("webhook-endpoints")
_KEY = "enabled"


def _secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_endpoint_create(*, endpoint: WebhookEndpoint) -> str:
    """Save a new endpoint with a fresh secret; returns the secret (to be shown once)."""
    secret = _secret()
    endpoint.secret = secret
    endpoint.save()
    return secret


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """Replace the endpoint's secret; deliveries from now on are signed with the new one.
    Returns it (to be shown once)."""
    secret = _secret()
    endpoint.secret = secret
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at"])
    return secret


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    address = _literal(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def webhook_url_validate(url: str) -> None:
    """Refuse a URL Omnico must not post to (``ValidationError`` saying why)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allow_private = settings.OMNICO_WEBHOOK_ALLOW_PRIVATE
    if not host:
        raise ValidationError({"url": _("Enter a URL with a host name.")})
    if parts.username or parts.password:
        raise ValidationError({"url": _("Do not put a user name or password in the URL.")})
    if parts.scheme != "https" and not (
        parts.scheme == "http" and _loopback(host) and (settings.DEBUG or allow_private)
    ):
        raise ValidationError({"url": _("Webhook URLs must use https.")})
    address = _literal(host)
    private = host == "localhost" or (address is not None and _private(address))
    if private and not (allow_private or (settings.DEBUG and _loopback(host))):
        raise ValidationError(
            {
                "url": _(
                    "This address is on a private or local network; set "
                    "OMNICO_WEBHOOK_ALLOW_PRIVATE to allow it."
                )
            }
        )


def webhook_address_refusal(url: str) -> str:
    """Why a send to ``url`` is refused now ("" when it may go): its host resolves to a private
    address while those are not allowed, or it does not resolve."""
    if settings.OMNICO_WEBHOOK_ALLOW_PRIVATE:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return "the host name does not resolve"
    for info in infos:
        address = _literal(str(info[4][0]).split("%", 1)[0])
        if address is None or (settings.DEBUG and address.is_loopback):
            continue
        if _private(address):
            return "the host resolves to a private or local address"
    return ""


def _load() -> tuple[tuple[int, frozenset[str]], ...]:
    return tuple(
        (pk, frozenset(events or ()))
        for pk, events in WebhookEndpoint.objects.filter(enabled=True)
        .order_by("pk")
        .values_list("pk", "events")
    )


def subscribed_endpoint_ids(event: str) -> list[int]:
    """The enabled endpoints subscribed to ``event``: no query while none changed."""
    return [pk for pk, events in MEMO.get(_KEY, _load) if event in events]


def endpoints_forget() -> None:
    """Endpoints changed without a signal (``QuerySet.update``): every process loads again."""
    MEMO.bump_on_commit()


def connect() -> None:
    MEMO.watch(WebhookEndpoint)
