from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.closing.services import month_close

ERROR_MONTH = "The month must be YYYY-MM (for example 2024-03), not {value!r}."


def parse_month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise CommandError(ERROR_MONTH.format(value=value)) from None


class Command(BaseCommand):
    help = "Close a month: publish its current figures of every scope (METRICS.md, 'Closing a month')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--note", default="", help="recorded with the close")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            close = month_close(month=parse_month(options["month"]), note=options["note"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{close.month:%Y-%m} closed: {close.snapshots.count()} scopes published with "
                          f"assumptions v{close.assumption_set.version}.")
