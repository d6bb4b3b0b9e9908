"""``manage.py seed_demo``: demo users, configuration, channel accounts, customers and tickets."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from omnico.demo import demo_seed

DEMO_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = _("Create demo data (idempotent): users, configuration, channel accounts, tickets.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default=DEMO_URL, help=_("Address printed for the demo (where it is served).")
        )

    def handle(self, *args, **options):
        url = options["url"].rstrip("/") + "/"
        result = demo_seed()
        if result.tickets_created:
            self.stdout.write(_("Created %(n)d demo tickets.") % {"n": result.tickets_created})
        else:
            self.stdout.write(_("Demo tickets exist already; left as they are."))
        password_note = (
            _("from OMNICO_DEMO_PASSWORD") if result.password_from_env else _("generated")
        )
        secret_note = (
            _("from OMNICO_DEMO_SECRET") if result.secret_from_env else _("kept/generated")
        )
        lines = [
            "",
            "=" * 60,
            _("Omnico demo: %(url)s (open it once the server below says it is running)")
            % {"url": url},
            _("Admin: %(url)sadmin/") % {"url": url},
            _("Customer side: %(url)ssupport/ (open it in a second window)") % {"url": url},
            "",
            _("Logins (password %(note)s):") % {"note": password_note},
            *[f"  {username:<8} {result.password}" for username in result.usernames],
            "",
            _("Webhook secret / verify token of the demo channel accounts (%(note)s):")
            % {"note": secret_note},
            f"  {result.secret}",
            "=" * 60,
        ]
        self.stdout.write("\n".join(lines))
