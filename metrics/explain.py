""""How was this computed?": the inputs, assumptions and formulas behind one stored snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from .calculations import month_index, monthly_discount_rate
from .models import COMPANY, MonthlySnapshot
from .selectors import snapshot_window, snapshots_first_month


def _num(value: Decimal | float | int | None) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value)


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.{digits}f}"


def snapshot_explain(*, snapshot: MonthlySnapshot) -> dict[str, Any]:
    """A JSON-serialisable explanation of one snapshot (labels in the active language)."""
    a = snapshot.assumption_set
    d = monthly_discount_rate(float(a.annual_discount_rate))
    window = snapshot_window(snapshot=snapshot, months=int(a.smoothing_window_months))
    retained_sum = sum(s.retained_customers for s in window)
    start_sum = sum(s.customers_start for s in window)
    margin_sum = float(sum((s.gross_margin for s in window), Decimal(0)))
    end_sum = sum(s.customers_end for s in window)
    first = snapshots_first_month()
    since_first = month_index(snapshot.month) - month_index(first) if first else 0
    clv = float(snapshot.clv)
    m = float(snapshot.margin_per_customer)
    r = float(snapshot.retention_rate)

    inputs = [
        {"name": "customers_start", "label": _("Customers at start"), "value": snapshot.customers_start},
        {"name": "customers_end", "label": _("Customers at end"), "value": snapshot.customers_end},
        {"name": "new_customers", "label": _("New customers"), "value": snapshot.new_customers},
        {"name": "retained_customers", "label": _("Retained customers"), "value": snapshot.retained_customers},
        {"name": "reactivated_customers", "label": _("Reactivated customers"), "value": snapshot.reactivated_customers},
        {"name": "revenue", "label": _("Revenue"), "value": _num(snapshot.revenue)},
        {"name": "gross_margin", "label": _("Gross margin"), "value": _num(snapshot.gross_margin)},
        {"name": "acquisition_cost", "label": _("Acquisition cost"), "value": _num(snapshot.acquisition_cost)},
        {"name": "retention_cost", "label": _("Retention cost"), "value": _num(snapshot.retention_cost)},
        {"name": "window_months", "label": _("Months in the smoothing window"), "value": len(window)},
        {"name": "window_retained_customers", "label": _("Retained customers over the window"), "value": retained_sum},
        {"name": "window_customers_start", "label": _("Customers at start over the window"), "value": start_sum},
        {"name": "window_gross_margin", "label": _("Gross margin over the window"), "value": margin_sum},
        {"name": "window_customers_end", "label": _("Customers at end over the window"), "value": end_sum},
    ]
    assumptions = [
        {"name": "annual_discount_rate", "label": _("Annual discount rate"), "value": float(a.annual_discount_rate)},
        {"name": "activity_window_months", "label": _("Activity window W (months)"), "value": a.activity_window_months},
        {"name": "retention_source", "label": _("Retention source"), "value": a.retention_source},
        {"name": "assumed_monthly_retention", "label": _("Assumed monthly retention"),
         "value": float(a.assumed_monthly_retention)},
        {"name": "smoothing_window_months", "label": _("Smoothing window L (months)"), "value": a.smoothing_window_months},
        {"name": "default_gross_margin_rate", "label": _("Default gross margin rate"),
         "value": float(a.default_gross_margin_rate)},
    ]
    if snapshot.retention_source == "measured":
        retention_step = {
            "metric": "retention_rate", "label": _("Retention rate r (measured)"),
            "formula": "r = Σ retained_customers / Σ customers_start (L months)",
            "substituted": f"{retained_sum} / {start_sum}", "value": r,
        }
    else:
        reason = (
            _("the retention source is 'assumed'") if a.retention_source == "assumed"
            else _("measured retention needs %(w)s months of data (this month is %(n)s after the first) and customers at start")
            % {"w": a.activity_window_months, "n": since_first}
        )
        retention_step = {
            "metric": "retention_rate", "label": _("Retention rate r (assumed)"),
            "formula": "r = assumed monthly retention",
            "substituted": f"{float(a.assumed_monthly_retention)} ({reason})", "value": r,
        }
    cac = _num(snapshot.cac)
    steps = [
        {"metric": "churned_customers", "label": _("Churned customers"),
         "formula": "customers_start - retained_customers",
         "substituted": f"{snapshot.customers_start} - {snapshot.retained_customers}",
         "value": snapshot.churned_customers},
        {"metric": "monthly_retention", "label": _("Monthly retention"),
         "formula": "retained_customers / customers_start",
         "substituted": f"{snapshot.retained_customers} / {snapshot.customers_start}",
         "value": snapshot.monthly_retention},
        {"metric": "monthly_discount_rate", "label": _("Monthly discount rate d"),
         "formula": "d = (1 + annual rate)^(1/12) - 1",
         "substituted": f"(1 + {float(a.annual_discount_rate)})^(1/12) - 1", "value": d},
        retention_step,
        {"metric": "margin_per_customer", "label": _("Margin per customer m"),
         "formula": "m = Σ gross_margin / Σ customers_end (L months)",
         "substituted": f"{_fmt(margin_sum)} / {end_sum}", "value": m},
        {"metric": "clv", "label": _("Customer lifetime value"),
         "formula": "CLV = m × r / (1 + d - r)",
         "substituted": f"{_fmt(m)} × {r:.6f} / (1 + {d:.6f} - {r:.6f})", "value": clv},
        {"metric": "customer_equity", "label": _("Customer equity"),
         "formula": "clv × customers_end",
         "substituted": f"{_fmt(clv)} × {snapshot.customers_end}", "value": float(snapshot.customer_equity)},
        {"metric": "acquisition_equity", "label": _("Acquisition equity"),
         "formula": "new_customers × clv - acquisition_cost",
         "substituted": f"{snapshot.new_customers} × {_fmt(clv)} - {_fmt(float(snapshot.acquisition_cost))}",
         "value": float(snapshot.acquisition_equity)},
        {"metric": "retention_equity", "label": _("Retention equity"),
         "formula": "retained_customers × clv - retention_cost",
         "substituted": f"{snapshot.retained_customers} × {_fmt(clv)} - {_fmt(float(snapshot.retention_cost))}",
         "value": float(snapshot.retention_equity)},
        {"metric": "cac", "label": _("Customer acquisition cost"),
         "formula": "acquisition_cost / new_customers",
         "substituted": f"{_fmt(float(snapshot.acquisition_cost))} / {snapshot.new_customers}", "value": cac},
        {"metric": "clv_to_cac", "label": _("CLV to CAC"),
         "formula": "clv / cac",
         "substituted": f"{_fmt(clv)} / {_fmt(cac)}", "value": snapshot.clv_to_cac},
    ]
    return {
        "month": f"{snapshot.month:%Y-%m}",
        "scope": {
            "dimension": snapshot.scope_dimension,
            "value": "" if snapshot.scope_dimension == COMPANY else snapshot.scope_value,
        },
        "assumption_version": a.version,
        "inputs": inputs,
        "assumptions": assumptions,
        "steps": steps,
    }
