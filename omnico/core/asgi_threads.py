"""Django's ASGI handler with its requests' sync code on reused threads.

Django runs each request's sync code (the middleware, the view) in a
``ThreadSensitiveContext`` of its own: a new one-thread executor per request, so a thread is
started from the event loop (``Thread.start`` waits there until the new thread runs, which on
a busy machine means until it gets the GIL) and another joins it when the request ends. With
1,000 support-page sockets on one process that stalled the loop on every request
(bench/README.md, issue 9). Here a request takes an idle one-thread executor and gives it back
when it ends: still one thread per request at a time, as Django expects (its database
connection is the thread's), as a threaded WSGI server reuses its threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class ReusedThreadsASGIHandler(ASGIHandler):
    #: idle threads kept for the next requests (more run while more requests are in flight)
    max_idle = 32

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = (
            self._idle.pop()
            if self._idle
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="omnico-request")
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # A request cancelled while its view still runs gives back a busy thread: the next
            # request on it waits for the view to end, as on a threaded WSGI server.
            if len(self._idle) < self.max_idle:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)
