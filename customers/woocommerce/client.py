"""A small read-only client of the WooCommerce REST API v3.

Authentication is HTTP basic with the consumer key and secret, as WooCommerce documents for
HTTPS (query-string keys are never used: they would end up in access logs). Lists are paged
with ``per_page=100`` and ``X-WP-TotalPages``, up to ``max_pages`` pages. Every failure is a
:class:`WooError` whose message says in plain words what went wrong at the store; nothing here
logs a key or a secret.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils.translation import gettext as _

API_PREFIX = "/wp-json/wc/v3"
PER_PAGE = 100
LOOPBACK_HOSTS = {"localhost", "localhost.localdomain"}


class WooError(Exception):
    """The store could not be read; ``str()`` is a sentence for an admin or an agent."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def store_url_problem(url: str, *, debug: bool = False) -> str:
    """Why ``url`` cannot be a store URL, or "" when it can: https, or http on loopback."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _("Enter the shop's address, e.g. https://shop.example.com.")
    if parts.scheme == "http" and not (debug or _is_loopback(parts.hostname)):
        return _(
            "The keys travel with every request: the shop must be reached over https "
            "(plain http is accepted on this machine only)."
        )
    if parts.query or parts.fragment:
        return _("Enter the shop's address without ? or #.")
    return ""


def _woo_message(response: httpx.Response) -> str:
    """WooCommerce's own error text ({"code": ..., "message": ...}), if it sent one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return ""


def _cause_chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _transport_error(error: httpx.TransportError, timeout: float) -> WooError:
    if isinstance(error, httpx.TimeoutException):
        return WooError(
            _("The shop did not answer within %(seconds)s seconds.") % {"seconds": f"{timeout:g}"}
        )
    chain = _cause_chain(error)
    text = str(error)
    if any(isinstance(e, ssl.SSLError) for e in chain) or "CERTIFICATE" in text.upper():
        return WooError(
            _("The shop's TLS certificate could not be verified (%(detail)s).")
            % {"detail": text[:200]}
        )
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service" in text.lower():
        return WooError(_("The shop's host name could not be found (DNS)."))
    return WooError(
        _("Could not connect to the shop (%(detail)s).") % {"detail": text[:200] or "—"}
    )


def _status_error(response: httpx.Response) -> WooError:
    status = response.status_code
    detail = _woo_message(response)
    if status in (401, 403):
        message = _(
            "The shop refused the keys (HTTP %(status)s): check the consumer key and secret, "
            "and that they have Read permission."
        ) % {"status": status}
    elif status == 404:
        message = _(
            "No WooCommerce REST API at this address (HTTP 404): check the store URL, that "
            "WooCommerce is active and that permalinks are not set to Plain."
        )
    else:
        message = _("The shop answered with an error (HTTP %(status)s).") % {"status": status}
    if detail:
        message = f"{message} {_('The shop says:')} {detail}"
    return WooError(message, status=status)


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int | None
    total_pages: int


@dataclass
class WooClient:
    store_url: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    timeout: float = 4.0
    max_pages: int = 5
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.store_url.rstrip("/") + API_PREFIX,
            auth=(self.consumer_key, self.consumer_secret),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=True,
            headers={"Accept": "application/json", "User-Agent": "Omnico"},
            transport=self.transport,
        )

    def _page(self, http: httpx.Client, path: str, params: dict[str, Any]) -> Page:
        try:
            response = http.get(path, params=params)
        except httpx.TransportError as error:
            raise _transport_error(error, self.timeout) from None
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            body = response.json()
        except ValueError:
            raise WooError(
                _(
                    "The shop's answer is not WooCommerce's JSON (a login, maintenance or "
                    "security page?)."
                )
            ) from None
        if not isinstance(body, list):
            raise WooError(_("The shop's answer is not a list: is this WooCommerce?"))

        def header_int(name: str) -> int | None:
            try:
                return int(response.headers.get(name, ""))
            except ValueError:
                return None

        return Page(
            items=[item for item in body if isinstance(item, dict)],
            total=header_int("X-WP-Total"),
            total_pages=header_int("X-WP-TotalPages") or 1,
        )

    def list_all(self, path: str, **params: Any) -> tuple[list[dict[str, Any]], bool]:
        """Every item of a list endpoint, up to ``max_pages`` pages; and whether there were
        more pages than that."""
        items: list[dict[str, Any]] = []
        with self._client() as http:
            page_number = 1
            while True:
                page = self._page(http, path, {**params, "per_page": PER_PAGE, "page": page_number})
                items.extend(page.items)
                if page_number >= page.total_pages or not page.items:
                    return items, False
                if page_number >= self.max_pages:
                    return items, True
                page_number += 1

    def probe(self) -> int | None:
        """One cheap read that needs the permission Omnico needs: the number of orders."""
        with self._client() as http:
            return self._page(http, "/orders", {"per_page": 1}).total

    def customers_by_email(self, email: str) -> list[dict[str, Any]]:
        with self._client() as http:
            return self._page(http, "/customers", {"email": email, "role": "all"}).items

    def orders_of_customer(self, woo_customer_id: int) -> tuple[list[dict[str, Any]], bool]:
        return self.list_all("/orders", customer=woo_customer_id, orderby="date", order="desc")

    def orders_matching(self, term: str) -> tuple[list[dict[str, Any]], bool]:
        """Orders whose searchable fields (billing e-mail, phone, names) contain ``term``:
        how guests' orders are found."""
        return self.list_all("/orders", search=term, orderby="date", order="desc")
