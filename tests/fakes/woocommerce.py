"""A loopback stand-in for a WooCommerce shop's REST API v3 (``/wp-json/wc/v3``).

It checks HTTP basic auth with the consumer key and secret (401 ``woocommerce_rest_cannot_view``
otherwise), answers ``GET /customers?email=``, ``GET /orders?customer=`` and
``GET /orders?search=`` with the documented shapes, pages with ``per_page``/``page`` and the
``X-WP-Total``/``X-WP-TotalPages`` headers, records every request, and can be slowed down::

    with FakeWooCommerce() as shop:
        customer = shop.add_customer(email="ayse@example.com", first_name="Ayşe")
        shop.add_order(customer=customer, total="149.90")
        shop.delay = 5.0  # every answer waits 5 s
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIX = "/wp-json/wc/v3"


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorized: bool


class FakeWooCommerce:
    def __init__(self, *, key: str = "ck_test", secret: str = "cs_test") -> None:  # noqa: S107
        self.key, self.secret = key, secret
        self.customers: list[dict[str, Any]] = []
        self.orders: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.delay = 0.0
        self._ids = itertools.count(101)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeWooCommerce:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWooCommerce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- data ------------------------------------------------------------------------------
    def add_customer(self, *, email: str, first_name: str = "", last_name: str = "", phone=""):
        customer = {
            "id": next(self._ids),
            "date_created": "2025-01-10T09:00:00",
            "date_created_gmt": "2025-01-10T06:00:00",
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "role": "customer",
            "username": email.split("@")[0],
            "billing": self._address(first_name, last_name, email, phone),
            "shipping": self._address(first_name, last_name, "", ""),
            "is_paying_customer": False,
            "avatar_url": "",
            "meta_data": [],
        }
        self.customers.append(customer)
        return customer

    @staticmethod
    def _address(first: str, last: str, email: str, phone: str) -> dict[str, str]:
        return {
            "first_name": first,
            "last_name": last,
            "company": "",
            "address_1": "Bağdat Caddesi 1",
            "address_2": "",
            "city": "İstanbul",
            "state": "TR34",
            "postcode": "34728",
            "country": "TR",
            **({"email": email} if email else {}),
            **({"phone": phone} if phone else {}),
        }

    def add_order(
        self,
        *,
        customer: dict[str, Any] | None = None,
        email: str = "",
        phone: str = "",
        status: str = "processing",
        total: str = "149.90",
        currency: str = "TRY",
        items: list[tuple[str, int]] | None = None,
        created: datetime | None = None,
        paid: bool = True,
        shipping: str = "Yurtiçi Kargo",
    ) -> dict[str, Any]:
        order_id = next(self._ids)
        created = created or datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=order_id)
        email = email or (customer or {}).get("email", "")
        first = (customer or {}).get("first_name", "")
        last = (customer or {}).get("last_name", "")
        gmt = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        order = {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": f"wc_order_{order_id}",
            "created_via": "checkout",
            "version": "9.4.2",
            "status": status,
            "currency": currency,
            "date_created": gmt,
            "date_created_gmt": gmt,
            "date_modified_gmt": gmt,
            "discount_total": "0.00",
            "shipping_total": "29.90",
            "total": total,
            "total_tax": "0.00",
            "customer_id": (customer or {}).get("id", 0),
            "billing": self._address(first, last, email, phone),
            "shipping": self._address(first, last, "", ""),
            "payment_method": "iyzico",
            "payment_method_title": "Kredi kartı (iyzico)",
            "transaction_id": "",
            "date_paid": gmt if paid else None,
            "date_paid_gmt": gmt if paid else None,
            "date_completed_gmt": None,
            "line_items": [
                {
                    "id": order_id * 10 + n,
                    "name": name,
                    "product_id": 500 + n,
                    "variation_id": 0,
                    "quantity": quantity,
                    "subtotal": "50.00",
                    "total": "50.00",
                    "sku": f"SKU-{n}",
                    "price": 50,
                }
                for n, (name, quantity) in enumerate(items or [("Kırmızı kazak", 1)])
            ],
            "shipping_lines": [
                {"id": order_id * 10 + 9, "method_title": shipping, "method_id": "flat_rate"}
            ],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
        }
        self.orders.append(order)
        return order

    def calls(self, path: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path)]

    # --- the API -----------------------------------------------------------------------------
    def _answer(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path == "/customers":
            email = query.get("email", "").lower()
            found = [c for c in self.customers if not email or c["email"].lower() == email]
            return self._paged(found, query)
        if path == "/orders":
            orders = self.orders
            if "customer" in query:
                orders = [o for o in orders if str(o["customer_id"]) == query["customer"]]
            if query.get("search"):
                term = query["search"].lower()
                orders = [
                    o
                    for o in orders
                    if term
                    in " ".join(
                        [
                            o["billing"].get("email", ""),
                            o["billing"].get("phone", ""),
                            o["billing"]["first_name"],
                            o["billing"]["last_name"],
                        ]
                    ).lower()
                ]
            orders = sorted(orders, key=lambda o: o["date_created_gmt"], reverse=True)
            return self._paged(orders, query)
        if path == "/system_status":
            return 200, {"environment": {"version": "9.4.2"}}, {}
        return 404, {"code": "rest_no_route", "message": "No route was found.", "data": {}}, {}

    @staticmethod
    def _paged(items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        per_page = max(1, min(100, int(query.get("per_page", 10))))
        page = max(1, int(query.get("page", 1)))
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)}
        return 200, chunk, headers

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                expected = base64.b64encode(f"{fake.key}:{fake.secret}".encode()).decode()
                authorized = self.headers.get("Authorization", "") == f"Basic {expected}"
                path = parts.path
                with fake._lock:
                    fake.requests.append(Request(path=path, query=query, authorized=authorized))
                if fake.delay:
                    time.sleep(fake.delay)
                if not path.startswith(PREFIX):
                    return self._send(404, b"<html><body>Not Found</body></html>", "text/html")
                if not authorized:
                    body = {
                        "code": "woocommerce_rest_cannot_view",
                        "message": "Sorry, you cannot list resources.",
                        "data": {"status": 401},
                    }
                    return self._send(401, json.dumps(body).encode(), "application/json")
                status, body, headers = fake._answer(path[len(PREFIX) :].rstrip("/"), query)
                self._send(status, json.dumps(body).encode(), "application/json", headers)

            def _send(self, status, body, ctype, headers=None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", f"{ctype}; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
