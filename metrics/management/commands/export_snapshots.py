from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clv_dashboard.spreadsheets import spreadsheet_safe
from customers.models import SegmentDimension
from metrics.closing.selectors import export_rows
from metrics.selectors import CLOSED_MONTH_FIELDS, EXPORT_FIELDS, snapshots_list

ERROR_SEGMENT = "--segment must be DIMENSION=VALUE with DIMENSION one of {choices} (for example region=North)."


class Command(BaseCommand):
    help = ("Print the monthly snapshots of the company or one segment, one row per month, as CSV or JSON; "
            "a closed month adds its published figures and the restatement since.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--segment", help="DIMENSION=VALUE, e.g. region=North (default: the whole company)")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        dimension: str | None = None
        value: str | None = None
        if options.get("segment"):
            dimension, sep, value = options["segment"].partition("=")
            if not sep or dimension not in SegmentDimension.values or not value:
                raise CommandError(ERROR_SEGMENT.format(choices=", ".join(SegmentDimension.values)))
        rows = export_rows(snapshots_list(dimension=dimension, value=value))
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=[*EXPORT_FIELDS, *CLOSED_MONTH_FIELDS], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            # Money is a decimal string (a negative one starts with "-"); only the segment value is
            # free text. A closed month's published figures and restatement are JSON in their cells.
            writer.writerow({k: "" if v is None else spreadsheet_safe(v) if k == "scope_value"
                             else json.dumps(v, sort_keys=True) if k in CLOSED_MONTH_FIELDS else v
                             for k, v in row.items()})
