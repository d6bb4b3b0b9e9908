"""A loopback stand-in for the providers' HTTP APIs (Telegram Bot API, Meta Graph, API callback).

It answers the documented endpoints with documented shapes, records every request, and can be
told to fail the next N calls::

    with FakeProvider() as fake:
        fake.fail_next(1, status=500)
        ...  # point ChannelAccount.base_url / callback_url at fake.url
        assert fake.calls("sendMessage")[0].data["text"] == "Hello"
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    data: dict[str, Any] = field(default_factory=dict)  # JSON or form fields
    query: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class FakeProvider:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.telegram_files: dict[str, bytes] = {}  # file_id → content
        self.whatsapp_media: dict[str, bytes] = {}  # media id → content
        self._failures: list[int] = []
        #: WABA id → its message templates, listed by ``GET /{waba}/message_templates`` in pages
        #: of ``template_page_size`` (``paging.next`` to the following page).
        self.whatsapp_templates: dict[str, list[dict[str, Any]]] = {}
        self.template_page_size = 2
        self._graph_errors: list[tuple[int, dict[str, Any]]] = []
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- control ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def stop_failing(self) -> None:
        """The provider is back: the failures still queued by ``fail_next`` are dropped."""
        with self._lock:
            self._failures.clear()

    def graph_error_next(self, error: dict[str, Any], *, status: int = 400) -> None:
        """The next Graph API call answers ``{"error": error}`` with ``status``."""
        with self._lock:
            self._graph_errors.append((status, error))

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- answers ----------------------------------------------------------------------------
    def _next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _answer(self, req: Recorded) -> tuple[int, str, bytes]:
        status = self._next_failure()
        parts = [p for p in req.path.split("/") if p]
        telegram = (bool(parts) and parts[0].startswith("bot")) or parts[:1] == ["file"]
        if status is not None:
            if telegram:
                error = {"ok": False, "error_code": status, "description": f"Fake error {status}"}
            else:
                error = {"error": {"message": f"Fake error {status}", "code": status}}
            return status, "application/json", json.dumps(error).encode()
        meta = self._meta_window(req, parts)
        if meta is not None:
            return meta
        if parts[:1] == ["file"] and len(parts) >= 3:
            file_id = parts[-1].rsplit(".", 1)[0]
            if file_id in self.telegram_files:
                return 200, "application/octet-stream", self.telegram_files[file_id]
            return 404, "text/plain", b"not found"
        if parts and parts[0].startswith("bot") and len(parts) == 2:
            return self._telegram(parts[1], req.data)
        if parts[:1] == ["media-files"] and len(parts) == 2 and parts[1] in self.whatsapp_media:
            return 200, "application/octet-stream", self.whatsapp_media[parts[1]]
        if req.method == "GET" and len(parts) == 1 and parts[0] in self.whatsapp_media:
            media = {"url": f"{self.url}/media-files/{parts[0]}", "id": parts[0]}
            return 200, "application/json", json.dumps(media).encode()
        if req.method == "POST" and parts == ["me", "messages"]:
            answer = {"recipient_id": req.data.get("recipient", {}).get("id"), "message_id": ""}
            answer["message_id"] = f"m_{next(self._ids)}"
            return 200, "application/json", json.dumps(answer).encode()
        if req.method == "POST" and len(parts) == 2 and parts[1] == "messages":
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": req.data.get("to"), "wa_id": req.data.get("to")}],
                "messages": [{"id": f"wamid.fake{next(self._ids)}"}],
            }
            return 200, "application/json", json.dumps(answer).encode()
        if req.method == "POST" and parts == ["callback"]:
            return 200, "application/json", json.dumps({"id": f"cb-{next(self._ids)}"}).encode()
        return 404, "application/json", b'{"error": {"message": "unknown endpoint"}}'

    def _meta_window(self, req: Recorded, parts: list[str]) -> tuple[int, str, bytes] | None:
        """WhatsApp templates: the paged template list and a queued Graph error."""
        graph = not (parts and (parts[0].startswith("bot") or parts[0] in ("file", "callback")))
        if graph and self._graph_errors:
            with self._lock:
                status, error = self._graph_errors.pop(0)
            return status, "application/json", json.dumps({"error": error}).encode()
        if req.method == "GET" and len(parts) == 2 and parts[1] == "message_templates":
            templates = self.whatsapp_templates.get(parts[0], [])
            start = int(req.query.get("after") or 0)
            end = start + self.template_page_size
            page: dict[str, Any] = {"data": templates[start:end], "paging": {}}
            if end < len(templates):
                page["paging"]["next"] = f"{self.url}{req.path}?limit=2&after={end}"
            return 200, "application/json", json.dumps(page).encode()
        return None

    def _telegram(self, method: str, data: dict[str, Any]) -> tuple[int, str, bytes]:
        def ok(result: Any) -> tuple[int, str, bytes]:
            return 200, "application/json", json.dumps({"ok": True, "result": result}).encode()

        if method == "getMe":
            return ok({"id": 1, "is_bot": True, "first_name": "Omnico", "username": "omnico_bot"})
        if method in ("setWebhook", "answerCallbackQuery"):
            return ok(True)
        if method == "sendMessage":
            chat_id = int(data["chat_id"])
            return ok(
                {
                    "message_id": next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": data.get("text", ""),
                }
            )
        if method == "getFile":
            file_id = str(data.get("file_id", ""))
            if file_id not in self.telegram_files:
                error = {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: wrong file_id",
                }
                return 400, "application/json", json.dumps(error).encode()
            return ok(
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "file_size": len(self.telegram_files[file_id]),
                    "file_path": f"documents/{file_id}.bin",
                }
            )
        error = {"ok": False, "error_code": 404, "description": "Not Found"}
        return 404, "application/json", json.dumps(error).encode()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Recorded(
                    method=self.command,
                    path=urlsplit(self.path).path,
                    headers=dict(self.headers.items()),
                    body=body,
                    data=_decode(self.headers.get("Content-Type", ""), body),
                    query={k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()},
                )
                with provider._lock:
                    provider.requests.append(req)
                status, content_type, answer = provider._answer(req)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        return Handler


def _decode(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    if "x-www-form-urlencoded" in content_type:
        return {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    if "multipart/form-data" in content_type:
        return _multipart(content_type, body)
    return {}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    boundary = content_type.split("boundary=", 1)[-1].strip('"').encode()
    fields: dict[str, Any] = {}
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        marker = b'name="'
        if marker not in head:
            continue
        name = head.split(marker, 1)[1].split(b'"', 1)[0].decode()
        fields[name] = value.rstrip(b"\r\n").decode(errors="replace")
    return fields
