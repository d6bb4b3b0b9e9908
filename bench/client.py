"""The benchmarks' webhook client: a minimal keep-alive HTTP/1.1 connection.

httpx costs ~2 ms of CPU per request: on a 2-core machine the client, not the server, was the
limit. This one costs a few tens of microseconds, so the figures are the server's.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import urlsplit


def fast_event_loop() -> None:
    """asyncio on uvloop (installed with uvicorn[standard]) in this process: the clients share
    the 2 cores with the server they measure, and uvloop reads and writes sockets for less CPU
    than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()


class Connection:
    """POSTs signed webhooks to one URL over one connection, reopened when needed.

    A request on a kept-alive connection that the server closed while idle is sent again on a
    new one. ``retry_fresh``: also send again when a new connection fails (the ingest bench);
    the fault bench counts that failure instead.
    """

    def __init__(self, url: str, *, retry_fresh: bool = True) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.retry_fresh = retry_fresh
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, secret: str) -> tuple[int, str | None]:
        """``(status, Retry-After or None)``."""
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Omnico-Signature: sha256={signature}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):
            fresh = self.writer is None
            if fresh:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.writer is not None
            try:
                self.writer.write(head + body)
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                self.close()
                if attempt == 2 or (fresh and not self.retry_fresh):
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, str | None]:
        assert self.reader is not None
        line = await self.reader.readline()
        if not line:  # the server closed an idle keep-alive connection: reconnect, send again
            raise ConnectionError("connection closed")
        status = int(line.split()[1])
        length, close, retry_after = 0, False, None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"retry-after":
                retry_after = value.strip().decode()
        await self.reader.readexactly(length)
        if close:
            self.close()
        return status, retry_after

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
