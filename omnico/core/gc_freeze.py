"""Keep the garbage collector's full collections short in long-lived processes.

CPython's full (generation 2) collection walks every container object the process holds. A web
or worker process of Omnico holds about 130,000 of them from its imports alone (Django, the
apps, their libraries), which never become garbage, so each full collection paused the process
for 50-190 ms (measured with ``gc.callbacks`` under ``bench/run realtime``; 90 ms for a bare
``gc.collect()`` after start-up): a web process's agent sockets got nothing for that long, and
a worker's ingest stopped. Freezing what exists once the process is set up (``gc.freeze``)
moves those objects out of the collector's reach; collections then walk only what the process
made since.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then exempt every object alive now from later collections. Call it when a
    process has finished setting up (the ASGI application built; a worker's child forked)."""
    gc.collect()
    gc.freeze()
