"""``manage.py stats_backfill --from 2026-03-01 --to 2026-03-31``: recompute those days' hours."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.services import stats_backfill


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Recompute the hourly statistics of whole days (local midnight to local midnight in "
        "TIME_ZONE; both days included). Safe to re-run: each hour's rows are replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        first, last = _day(options["first"]), _day(options["last"])
        if last < first:
            raise CommandError("--to is before --from")
        total = 0
        for day, hours in stats_backfill(first=first, last=last):
            total += hours
            self.stdout.write(f"{day.isoformat()}: {hours} hours")
        self.stdout.write(self.style.SUCCESS(f"{total} hours computed"))
