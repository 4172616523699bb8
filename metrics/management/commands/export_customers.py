from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clv_dashboard.spreadsheets import spreadsheet_safe
from customers.models import SegmentDimension
from metrics.calculations import month_index
from metrics.profitability.selectors import (
    CUSTOMER_EXPORT_FIELDS,
    ERROR_SEGMENT,
    RESULT_COLUMNS,
    customer_export_rows,
    stored_profitability,
)
from metrics.profitability.services import profitability_rows
from metrics.referrals.selectors import REFERRAL_COLUMNS
from metrics.selectors import transactions_month_range
from metrics.services import assumptions_ensure

ERROR_MONTH = "--month must be YYYY-MM, for example 2024-06, not {value!r}."
ERROR_NO_DATA = "There are no transactions yet: nothing to export."


class Command(BaseCommand):
    help = ("Print one row per customer with their margin to date, the acquisition and retention cost "
            "allocated to them and their net profit (METRICS.md, Customer profitability), with their latest "
            "prediction, as CSV or JSON. Without --month: the figures the last recompute stored (the latest "
            "month); with --month: computed now, to the close of that month, with the assumptions in force.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM: figures to the close of that month (default: the latest)")
        parser.add_argument("--segment", help="DIMENSION=VALUE, e.g. region=North (default: every customer)")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        dimension: str | None = None
        value: str | None = None
        if options.get("segment"):
            dimension, sep, value = options["segment"].partition("=")
            if not sep or dimension not in SegmentDimension.values or not value:
                raise CommandError(ERROR_SEGMENT.format(choices=", ".join(SegmentDimension.values)))
        month: int | None = None
        if options.get("month"):
            try:
                if len(options["month"]) != 7:
                    raise ValueError(options["month"])
                month = month_index(dt.date.fromisoformat(options["month"] + "-01"))
            except ValueError:
                raise CommandError(ERROR_MONTH.format(value=options["month"])) from None
        data_range = transactions_month_range()
        if data_range is None:
            raise CommandError(ERROR_NO_DATA)
        stored_month, figures = stored_profitability()
        if month is None and stored_month is not None:
            month = stored_month
        else:
            month = data_range.last_month if month is None else month
            frame, _totals = profitability_rows(month=month, assumption_set=assumptions_ensure())
            figures = {int(r[0]): (Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), int(r[5]), Decimal(r[6]))
                       for r in frame[[*RESULT_COLUMNS, *REFERRAL_COLUMNS]].itertuples(index=False, name=None)}
        rows = customer_export_rows(figures=figures, month=month, dimension=dimension, value=value)
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=CUSTOMER_EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            # Money is a decimal string (a negative one starts with "-"); the customer id is free text.
            writer.writerow({k: "" if v is None else spreadsheet_safe(v) if k == "customer_id" else v
                             for k, v in row.items()})
