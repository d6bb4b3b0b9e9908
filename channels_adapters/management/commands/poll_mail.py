"""``manage.py poll_mail [--loop] [--interval N]``: read the enabled mail accounts now.

It takes each account's poll lock like beat's task does, so the two never read one account at
once; the lock goes with this process's database connection, so killing it (even with SIGKILL)
leaves nothing that blocks the next poll."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from channels_adapters.email.poller import mail_accounts_poll


class Command(BaseCommand):
    help = "Fetch new mail from every enabled mail account (once, or forever with --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep polling until stopped.")
        parser.add_argument(
            "--interval",
            type=int,
            default=settings.MAIL_POLL_INTERVAL,
            help="Seconds between polls with --loop (default: OMNICO_MAIL_POLL_SECONDS).",
        )

    def handle(self, *args, loop: bool, interval: int, **options):
        while True:
            for result in mail_accounts_poll():
                if result.error:
                    self.stderr.write(f"{result.account}: {result.error}")
                elif result.busy:
                    self.stdout.write(f"{result.account}: another poll is running; skipped")
                else:
                    self.stdout.write(
                        f"{result.account}: {result.fetched} fetched, {result.stored} new"
                    )
            if not loop:
                return
            time.sleep(max(1, interval))
