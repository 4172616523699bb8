"""Monthly snapshots and cohort cells with consistent numbers, written straight to the tables.

Used by the board's tests and bench/board.py so that the board can be tested without the
recompute: the counts satisfy the bridge identity, the costs of a dimension's segments add up
to the company's, and CLV, equity, acquisition and retention equity follow METRICS.md.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from metrics.calculations import clv as clv_formula
from metrics.calculations import monthly_discount_rate
from metrics.models import COMPANY, AssumptionSet, CohortCell, MonthlySnapshot, RecomputeRun

CENT = Decimal("0.01")


def money(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class SegmentPlan:
    new_base: int
    survival: float
    margin: float
    cac: float


def default_assumptions() -> AssumptionSet:
    found = AssumptionSet.objects.filter(version=1).first()
    return found or AssumptionSet.objects.create(version=1, note="defaults")


def _series(plan: SegmentPlan, months: int, seed: int) -> list[dict[str, float]]:
    rows = []
    end = 0
    for i in range(months):
        start = end
        new = int(plan.new_base * (1 + 0.03 * i) + (seed * 7 + i * 3) % 5)
        churned = round(start * (1 - plan.survival - 0.01 * math.sin(i + seed)))
        reactivated = round(start * 0.01)
        retained = start - churned
        end = start + new + reactivated - churned
        margin_per = plan.margin * (1 + 0.05 * math.sin(i / 3 + seed))
        rows.append({
            "customers_start": start, "customers_end": end, "new_customers": new, "retained_customers": retained,
            "reactivated_customers": reactivated, "churned_customers": churned,
            "gross_margin": float(money(margin_per * end)), "acquisition_cost": float(money(new * plan.cac)),
            "retention_cost": float(money(start * 6.5)),
        })
    return rows


def _snapshot(*, month: dt.date, dimension: str, value: str, rows: list[dict[str, float]], i: int,
              assumptions: AssumptionSet, now: dt.datetime) -> MonthlySnapshot:
    row = rows[i]
    window = assumptions.activity_window_months
    smoothing = assumptions.smoothing_window_months
    d = monthly_discount_rate(float(assumptions.annual_discount_rate))
    recent = rows[max(0, i - smoothing + 1): i + 1]
    # Observable months only (METRICS.md v2), without the pull of k: these are board fixtures.
    observable = rows[max(window, i - smoothing + 1): i + 1]
    exposure = int(sum(r["customers_start"] for r in observable))
    if i >= window:
        r = sum(r["retained_customers"] for r in observable) / exposure
        source = "measured"
    else:
        r, source = float(assumptions.assumed_monthly_retention), "assumed"
    ends = sum(r_["customers_end"] for r_ in recent)
    m = money(sum(r_["gross_margin"] for r_ in recent) / ends) if ends else Decimal("0.00")
    clv = money(clv_formula(float(m), r, d))
    start = int(row["customers_start"])
    new = int(row["new_customers"])
    acq, ret = money(row["acquisition_cost"]), money(row["retention_cost"])
    cac = money(float(acq) / new) if new else None
    return MonthlySnapshot(
        month=month, scope_dimension=dimension, scope_value=value,
        customers_start=start, customers_end=int(row["customers_end"]), new_customers=new,
        retained_customers=int(row["retained_customers"]), reactivated_customers=int(row["reactivated_customers"]),
        churned_customers=int(row["churned_customers"]),
        monthly_retention=(row["retained_customers"] / start) if start else None,
        revenue=money(row["gross_margin"] / 0.35), gross_margin=money(row["gross_margin"]),
        retention_rate=r, retention_source=source, retention_exposure=exposure if source == "measured" else 0,
        margin_per_customer=m, clv=clv,
        customer_equity=clv * int(row["customers_end"]), acquisition_cost=acq, retention_cost=ret,
        acquisition_equity=clv * new - acq, retention_equity=clv * int(row["retained_customers"]) - ret,
        cac=cac, clv_to_cac=(float(clv) / float(cac)) if cac else None,
        assumption_set=assumptions, computed_at=now,
    )


DEFAULT_SEGMENTS: dict[str, dict[str, SegmentPlan]] = {
    "region": {
        "North": SegmentPlan(new_base=40, survival=0.95, margin=42.0, cac=210.0),
        "South": SegmentPlan(new_base=30, survival=0.92, margin=35.0, cac=180.0),
        "unassigned": SegmentPlan(new_base=5, survival=0.90, margin=30.0, cac=150.0),
    },
    "acquisition_channel": {
        "Search": SegmentPlan(new_base=45, survival=0.93, margin=40.0, cac=230.0),
        "Referral": SegmentPlan(new_base=30, survival=0.96, margin=38.0, cac=120.0),
    },
}


def snapshots_create(
    *, months: int = 36, first_month: dt.date = dt.date(2023, 1, 1),
    segments: dict[str, dict[str, SegmentPlan]] | None = None, cohorts: bool = True,
) -> dict[str, int]:
    """Create company and segment snapshots (and cohort cells) for `months` months.

    The company is the sum of the first dimension's segments; the other dimensions' segments
    are scaled copies (their counts need not add up in the board's tests)."""
    segments = segments or DEFAULT_SEGMENTS
    assumptions = default_assumptions()
    now = timezone.now()
    scope_rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    first_dimension = next(iter(segments))
    for seed, (dimension, plans) in enumerate(segments.items()):
        for k, (value, plan) in enumerate(plans.items()):
            scope_rows[(dimension, value)] = _series(plan, months, seed * 10 + k)
    company: list[dict[str, float]] = []
    for i in range(months):
        total: dict[str, float] = {}
        for (dimension, _value), rows in scope_rows.items():
            if dimension != first_dimension:
                continue
            for key, number in rows[i].items():
                total[key] = total.get(key, 0) + number
        company.append(total)
    scope_rows[(COMPANY, "")] = company
    snapshots = [
        _snapshot(month=month_add(first_month, i), dimension=dimension, value=value, rows=rows, i=i,
                  assumptions=assumptions, now=now)
        for (dimension, value), rows in scope_rows.items()
        for i in range(months)
    ]
    MonthlySnapshot.objects.bulk_create(snapshots, batch_size=2000)
    cells = []
    if cohorts:
        for (dimension, value), rows in scope_rows.items():
            for c in range(months):
                size = int(rows[c]["new_customers"])
                for k in range(months - c):
                    active = round(size * (0.93 ** k) * (1 + 0.02 * math.sin(c + k)))
                    cells.append(CohortCell(
                        scope_dimension=dimension, scope_value=value, cohort_month=month_add(first_month, c),
                        months_since=k, cohort_size=size, active_customers=min(size, active),
                        purchasing_customers=int(min(size, active) * 0.4),
                    ))
        CohortCell.objects.bulk_create(cells, batch_size=5000)
    RecomputeRun.objects.create(trigger="test", status=RecomputeRun.Status.SUCCEEDED, assumption_set=assumptions,
                                scopes_total=len(scope_rows), scopes_done=len(scope_rows), finished_at=now)
    return {"snapshots": len(snapshots), "cohort_cells": len(cells), "scopes": len(scope_rows)}
