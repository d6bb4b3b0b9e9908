"""``manage.py serve``: Omnico over ASGI (HTTP and websockets) with uvicorn.

Collects static files first when they changed (WhiteNoise serves them), and when
``settings.OMNICO_SCHEDULER`` is on (embedded: no Redis) runs the periodic jobs of
``CELERY_BEAT_SCHEDULE`` in this process, so one command runs everything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import uvicorn
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from omnico.scheduler import Scheduler
from omnico.ws_protocol import SharedDeflateProtocol

ASGI_APP = "omnico.asgi:application"
STAMP_NAME = ".omnico-collected"


def static_fingerprint() -> str:
    """A digest of every static source file's path, size and mtime, and of the storage that
    collects them (files collected plainly are no use to the manifest storage: no manifest)."""
    digest = hashlib.sha256()
    digest.update(settings.STORAGES["staticfiles"]["BACKEND"].encode() + b"\n")
    rows = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = Path(storage.path(path)).stat()
            rows.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    for row in sorted(rows):
        digest.update(row.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


def collectstatic_if_needed() -> bool:
    """Run collectstatic when the sources changed since the last run; True if it ran."""
    stamp = Path(settings.STATIC_ROOT) / STAMP_NAME
    fingerprint = static_fingerprint()
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")
    return True


class Command(BaseCommand):
    help = gettext_lazy("Serve Omnico over ASGI (HTTP and websockets) with uvicorn.")  # type: ignore[assignment]

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help=gettext_lazy("Address to bind."))
        parser.add_argument("--port", type=int, default=8000, help=gettext_lazy("Port to bind."))
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help=gettext_lazy("Web worker processes (more than 1 needs REDIS_URL)."),
        )
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help=gettext_lazy("Do not collect static files before serving."),
        )
        parser.add_argument("--log-level", default="info", help=gettext_lazy("uvicorn log level."))

    def handle(self, *args, host, port, workers, no_collectstatic, log_level, **options):
        if workers < 1:
            raise CommandError(_("--workers must be at least 1."))
        if workers > 1 and not settings.REDIS_URL:
            raise CommandError(
                _(
                    "--workers above 1 needs REDIS_URL: without Redis the channel layer lives "
                    "inside one process, so websocket pushes would not reach the other workers."
                )
            )
        if not no_collectstatic and not settings.DEBUG and collectstatic_if_needed():
            self.stdout.write(
                _("Static files collected into %(path)s.") % {"path": settings.STATIC_ROOT}
            )

        scheduler = None
        if settings.OMNICO_SCHEDULER:
            scheduler = Scheduler.from_settings()
            scheduler.start()
            self.stdout.write(
                _("Embedded scheduler: %(count)d periodic job(s).")
                % {"count": len(scheduler.entries)}
            )
        self.stdout.write(_("Omnico on http://%(host)s:%(port)d/") % {"host": host, "port": port})
        try:
            uvicorn.run(
                ASGI_APP,
                host=host,
                port=port,
                workers=workers,
                lifespan="off",
                log_level=log_level,
                timeout_graceful_shutdown=5,
                # One compression of a frame for every socket (omnico/ws_protocol.py).
                ws=SharedDeflateProtocol,
                ws_per_message_deflate=settings.OMNICO_WS_COMPRESSION,
                # Forwarded headers only from the configured proxies (uvicorn's default trusts
                # every local client, which let anyone on the host pick their address).
                proxy_headers=bool(settings.OMNICO_TRUSTED_PROXIES),
                forwarded_allow_ips=list(settings.OMNICO_TRUSTED_PROXIES),
            )
        finally:
            if scheduler is not None:
                scheduler.stop()
