"""The websocket protocol compresses a frame once for all of a process's sockets."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from websockets.sync.client import connect

from omnico import ws_protocol

ROW = "".join(
    f'<tr data-live="row" data-ticket="{n}"><td>Customer {n}</td><td>Siparişim? {n}</td></tr>'
    for n in range(40)
)


async def _app(scope, receive, send) -> None:
    """Sends every text it receives back, and ``ROW`` on "row"."""
    assert scope["type"] == "websocket"
    await receive()  # connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text") or ""
        await send({"type": "websocket.send", "text": ROW if text == "row" else text})


def _serve(**options) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _app, lifespan="off", log_level="warning", ws=ws_protocol.SharedDeflateProtocol, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _headers(ws):
    assert ws.response is not None
    return ws.response.headers


@pytest.fixture
def server() -> Iterator[str]:
    yield from _serve()


@pytest.fixture
def plain_server() -> Iterator[str]:
    yield from _serve(ws_per_message_deflate=False)


def test_a_frame_sent_to_many_sockets_is_compressed_once_and_each_reads_it_whole(server):
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(server)) for _ in range(5)]
        for ws in sockets:  # negotiated: compressed, each message on its own
            extensions = _headers(ws)["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in extensions
            assert "server_no_context_takeover" in extensions
        before = ws_protocol.shared.compressions
        for ws in sockets:
            ws.send("row")
        assert [ws.recv(timeout=10) for ws in sockets] == [ROW] * 5
        assert ws_protocol.shared.compressions - before == 1


def test_different_frames_in_turn_reach_each_socket_unchanged(server):
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(server)) for _ in range(3)]
        texts = [f"{ROW}{n}" for n in range(ws_protocol._Shared.size + 5)] + ["é" * 3000, ROW]
        for text in texts:
            for ws in sockets:
                ws.send(text)
            assert [ws.recv(timeout=10) for ws in sockets] == [text] * 3


def test_compression_can_be_turned_off(plain_server):
    with connect(plain_server) as ws:
        assert "Sec-WebSocket-Extensions" not in _headers(ws)
        ws.send("row")
        assert ws.recv(timeout=10) == ROW


def test_a_client_that_does_not_offer_compression_gets_plain_frames(server):
    with connect(server, compression=None) as ws:
        assert "Sec-WebSocket-Extensions" not in _headers(ws)
        ws.send("row")
        assert ws.recv(timeout=10) == ROW
