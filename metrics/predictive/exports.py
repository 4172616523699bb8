"""CSV export of the customers table, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from clv_dashboard.spreadsheets import spreadsheet_safe
from metrics.models import CustomerPrediction

BOM = "\ufeff"
COLUMNS = [
    "customer_id", "name", "region", "product_line", "business_unit", "acquisition_channel", "tier",
    "p_alive", "expected_purchases_12m", "expected_spend", "predicted_clv", "net_profit_to_date", "historic_margin", "data_date",
    "clv_low", "clv_high",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(predictions: QuerySet[CustomerPrediction]) -> Iterator[str]:
    """The CSV lines of the export, one prediction at a time (streamed). It starts with a UTF-8
    byte order mark, without which Excel reads the file as the local code page and garbles 华南."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(COLUMNS)
    rows: Iterable[CustomerPrediction] = predictions.select_related(
        "customer", "fit", "customer__profitability").iterator(chunk_size=2000)
    for p in rows:
        c = p.customer
        # Net profit after the allocated costs (metrics.profitability); blank before a recompute.
        profit = getattr(c, "profitability", None)
        yield writer.writerow([
            spreadsheet_safe(v) for v in (
                c.external_id, c.name, c.region, c.product_line, c.business_unit, c.acquisition_channel, p.tier,
                f"{p.p_alive:.6f}", f"{p.expected_purchases_12m:.6f}", p.expected_spend, p.predicted_clv,
                profit.net_profit_to_date if profit else "", p.historic_margin,
                p.fit.data_date.isoformat() if p.fit.data_date else "",
                "" if p.clv_low is None else p.clv_low, "" if p.clv_high is None else p.clv_high,
            )
        ])
