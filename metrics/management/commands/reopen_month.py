from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.closing.services import month_reopen

from .close_month import parse_month


class Command(BaseCommand):
    help = "Reopen a closed month (its publication stays in the record); a note is required."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--note", required=True, help="why the month is reopened")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            close = month_reopen(month=parse_month(options["month"]), note=options["note"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{close.month:%Y-%m} reopened; the figures published on {close.closed_at:%Y-%m-%d} "
                          "stay in the record.")
