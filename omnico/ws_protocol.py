"""The websocket server protocol: uvicorn's, with a frame compressed once for every socket.

Why: a list row goes to every agent socket of a web process (``omnico.core.realtime_hub``),
and with permessage-deflate each socket compressed the same text again in its own zlib
context, ~20 µs of CPU per socket and frame, a third of a web process's cost per socket
(``bench/README.md``, "t-web"). Turning compression off would cost a desk behind one
uplink ~5× the bandwidth.

What it does: the server asks for ``server_no_context_takeover`` in the permessage-deflate
negotiation (RFC 7692 §7.1.1.1: a server may always do so, and every browser accepts it), so
each message is compressed on its own, from an empty context; the same text then compresses
to the same bytes on every socket, and ``SharedPerMessageDeflate.encode`` reuses the bytes of
the last frames it compressed (``_Shared``, a small cache per process keyed by the text).
Everything else (window sizes, what the client may ask for, the decoding of what it sends) is
websockets' own. The cost: a message no longer refers back to earlier ones, so it compresses
somewhat less (a row ~2.5× instead of ~4×).

How it is used: ``manage.py serve`` passes ``SharedDeflateProtocol`` as uvicorn's ``ws``
protocol (bench/stack.sh runs that command too). ``OMNICO_WS_COMPRESSION=0`` turns
permessage-deflate off altogether (a LAN desk that would rather spend bandwidth than CPU).
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import CTRL_OPCODES, Frame, Opcode
from websockets.server import ServerProtocol

#: uvicorn's own settings for the deflate extension (websockets_sansio_impl), less the context.
WINDOW_BITS = 12
COMPRESS_SETTINGS = {"memLevel": 5}


class _Shared:
    """The compressed bytes of the last ``size`` payloads, per compression settings."""

    size = 32

    def __init__(self) -> None:
        self.frames: collections.OrderedDict[tuple[Any, ...], bytes] = collections.OrderedDict()
        self.compressions = 0  # how many payloads were compressed (tests, the benchmark)

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        return self.frames.get(key)

    def put(self, key: tuple[Any, ...], data: bytes) -> None:
        self.compressions += 1
        self.frames[key] = data
        if len(self.frames) > self.size:
            self.frames.popitem(last=False)


shared = _Shared()


class SharedPerMessageDeflate(PerMessageDeflate):
    """permessage-deflate whose whole messages, compressed without context takeover, are
    shared between the connections of the process (the same text, the same bytes)."""

    def encode(self, frame: Frame) -> Frame:
        if (
            not self.local_no_context_takeover
            or frame.opcode in CTRL_OPCODES
            or frame.opcode is Opcode.CONT
            or not frame.fin
        ):
            return super().encode(frame)
        key = (
            frame.opcode,
            bytes(frame.data),
            self.local_max_window_bits,
            tuple(sorted(self.compress_settings.items())),
        )
        data = shared.get(key)
        if data is None:
            encoded = super().encode(frame)
            shared.put(key, bytes(encoded.data))
            return encoded
        return Frame(frame.opcode, data, True, True, frame.rsv2, frame.rsv3)


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates permessage-deflate as uvicorn does, with ``server_no_context_takeover``, and
    hands out ``SharedPerMessageDeflate``."""

    def __init__(self) -> None:
        super().__init__(
            server_no_context_takeover=True,
            server_max_window_bits=WINDOW_BITS,
            client_max_window_bits=WINDOW_BITS,
            compress_settings=dict(COMPRESS_SETTINGS),
        )

    def process_request_params(self, params: Any, accepted_extensions: Any) -> Any:
        response, extension = super().process_request_params(params, accepted_extensions)
        extension.__class__ = SharedPerMessageDeflate
        return response, extension


class SharedDeflateProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol with ``SharedDeflateFactory``."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        if config.ws_per_message_deflate:
            self.conn = ServerProtocol(
                extensions=[SharedDeflateFactory()],
                max_size=config.ws_max_size,
                logger=logging.getLogger("uvicorn.error"),
            )
