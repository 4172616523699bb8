from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.services import snapshots_recompute

ERROR_FROM = "--from must be a month as YYYY-MM (for example 2024-03), not {value!r}."


class Command(BaseCommand):
    help = "Recompute the monthly snapshots and cohort cells now (synchronously), all months or from a month on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="from_month", help="first month to recompute, YYYY-MM (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        from_month = None
        if options.get("from_month"):
            try:
                from_month = dt.datetime.strptime(options["from_month"], "%Y-%m").date()  # noqa: DTZ007
            except ValueError:
                raise CommandError(ERROR_FROM.format(value=options["from_month"])) from None
        run = snapshots_recompute(from_month=from_month, trigger="command")
        self.stdout.write(
            f"Recompute #{run.pk} {run.status} in {run.duration_seconds or 0:.2f} s "
            f"({run.scopes_done} scope groups, assumptions v{run.assumption_set.version if run.assumption_set else '-'})."
        )
