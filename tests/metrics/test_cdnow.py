"""The CDNOW purchase log (no costs, no segments): snapshots for every month and the counts hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from customers.models import Customer, Transaction
from metrics.models import CohortCell, MonthlySnapshot
from metrics.services import snapshots_recompute

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_master.txt"


def _load_cdnow() -> tuple[set[str], int]:
    """Bulk-load the log: whitespace separated, a header line, CRLF line ends."""
    lines = CDNOW.read_text().splitlines()
    assert lines[0].split() == ["customer_id", "date", "number_of_cds", "dollar_value"]
    rows = [line.split() for line in lines[1:] if line.strip()]
    ids = sorted({r[0] for r in rows})
    Customer.objects.bulk_create([Customer(external_id=i) for i in ids], batch_size=5000)
    pk = dict(Customer.objects.values_list("external_id", "pk"))
    Transaction.objects.bulk_create(
        [Transaction(customer_id=pk[c], order_date=dt.datetime.strptime(d, "%Y%m%d").date(), revenue=Decimal(v))
         for c, d, _n, v in rows],
        batch_size=5000,
    )
    first_quarter = {c for c, d, _n, v in rows if "19970101" <= d <= "19970331" and Decimal(v) >= 0}
    return first_quarter, len(rows)


def test_cdnow_has_a_snapshot_for_every_month_and_q1_buyers_are_the_march_customers(db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    first_quarter, count = _load_cdnow()
    assert count == 69659
    run = snapshots_recompute(trigger="test")
    assert run.status == "succeeded"
    company = {f"{s.month:%Y-%m}": s for s in MonthlySnapshot.objects.filter(scope_dimension="company")}
    expected_months = [f"{y}-{m:02d}" for y in (1997, 1998) for m in range(1, 13) if (y, m) <= (1998, 6)]
    assert sorted(company) == expected_months
    # W = 12: at the close of March 1997 everyone who bought in January..March is active.
    assert company["1997-03"].customers_end == len(first_quarter) == 23570
    # Every CDNOW customer joined in 1997-Q1, so from April on nobody is new.
    assert all(company[m].new_customers == 0 for m in expected_months[3:])
    for s in company.values():
        assert s.customers_end == s.retained_customers + s.new_customers + s.reactivated_customers
    # No costs: no cost, no CAC; margin is 30% of revenue.
    assert company["1997-05"].acquisition_cost == 0 and company["1997-05"].cac is None
    assert company["1997-05"].gross_margin == (company["1997-05"].revenue * Decimal("0.3")).quantize(Decimal("0.01"))
    # Measured retention from January 1998 on (12 months after the first month).
    assert company["1997-12"].retention_source == "assumed" and company["1998-01"].retention_source == "measured"
    sizes = dict(CohortCell.objects.filter(scope_dimension="company", months_since=0).values_list("cohort_month", "cohort_size"))
    assert sum(sizes.values()) == 23570 and set(sizes) == {dt.date(1997, 1, 1), dt.date(1997, 2, 1), dt.date(1997, 3, 1)}
    # Segments: everyone is unassigned in every dimension, so each dimension equals the company.
    assert MonthlySnapshot.objects.get(scope_dimension="region", month="1997-03-01").customers_end == 23570
