"""What-if: the month's CLV and equities with other retention, margin or discount rate.

Pure (no ORM); nothing is stored. Uses metrics.calculations' formulas so that the what-if at
the stored inputs gives back the stored CLV.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from metrics.calculations import clv as clv_formula
from metrics.calculations import monthly_discount_rate

# The inputs are in the unit the page shows: retention and the discount rate in percent.
ERROR_RETENTION = _("Monthly retention is a percentage from 0 to 99.9 (for example 85 for 85%).")
ERROR_DISCOUNT = _("The annual discount rate is a percentage from 0 to 100 (for example 10 for 10%).")
ERROR_MARGIN = _("The margin per customer must be a number between -1,000,000,000 and 1,000,000,000.")
ERROR_NOT_A_NUMBER = _(
    "Enter plain numbers: monthly retention and the annual discount rate in percent, the margin as an amount."
)

MAX_RETENTION = 0.999
MAX_RETENTION_PERCENT = 99.9
MAX_DISCOUNT_PERCENT = 100.0
MAX_ABS_MARGIN = 1e9
# The steps of the sensitivity (tornado) chart.
RETENTION_STEP = 0.01  # one percentage point of monthly retention
MARGIN_STEP = 0.10  # ten per cent of the margin per customer
DISCOUNT_STEP = 0.01  # one percentage point of the annual discount rate
# The tiles a what-if recomputes; retention only when the what-if moves it.
WHATIF_METRICS = ("customer_equity", "clv", "retention_rate", "acquisition_equity", "retention_equity", "clv_to_cac")


class WhatIfError(ValueError):
    pass


@dataclass(frozen=True)
class WhatIfInputs:
    retention: float  # monthly
    margin_per_customer: float
    annual_discount_rate: float


@dataclass(frozen=True)
class MonthCounts:
    """The stored counts and costs of the month that the what-if keeps fixed."""

    customers_end: int
    new_customers: int
    retained_customers: int
    acquisition_cost: float
    retention_cost: float
    cac: float | None


@dataclass(frozen=True)
class WhatIfResult:
    clv: float
    customer_equity: float
    acquisition_equity: float
    retention_equity: float
    clv_to_cac: float | None
    monthly_discount_rate: float


@dataclass(frozen=True)
class SensitivityRow:
    name: str  # retention, margin, discount_rate
    low_input: float
    high_input: float
    low_equity: float
    high_equity: float
    base_equity: float

    @property
    def low_change(self) -> float:
        return self.low_equity - self.base_equity

    @property
    def high_change(self) -> float:
        return self.high_equity - self.base_equity

    @property
    def spread(self) -> float:
        return abs(self.high_equity - self.low_equity)


def whatif_validate(*, retention_percent: object, margin_per_customer: object,
                    annual_discount_rate_percent: object) -> WhatIfInputs:
    """Parse and check the three inputs as the page shows them (retention and discount rate in
    percent); raises WhatIfError with a message, in the same unit, saying how to fix it."""
    try:
        r = float(str(retention_percent).strip())
        m = float(str(margin_per_customer).strip())
        a = float(str(annual_discount_rate_percent).strip())
    except (TypeError, ValueError) as exc:
        raise WhatIfError(str(ERROR_NOT_A_NUMBER)) from exc
    if not (0.0 <= r <= MAX_RETENTION_PERCENT):  # also rejects nan
        raise WhatIfError(str(ERROR_RETENTION))
    if not (0.0 <= a <= MAX_DISCOUNT_PERCENT):
        raise WhatIfError(str(ERROR_DISCOUNT))
    if not (abs(m) <= MAX_ABS_MARGIN):
        raise WhatIfError(str(ERROR_MARGIN))
    return WhatIfInputs(retention=r / 100.0, margin_per_customer=m, annual_discount_rate=a / 100.0)


def whatif_compute(*, inputs: WhatIfInputs, counts: MonthCounts) -> WhatIfResult:
    d = float(monthly_discount_rate(inputs.annual_discount_rate))
    value = float(clv_formula(inputs.margin_per_customer, inputs.retention, d))
    cac = counts.cac
    return WhatIfResult(
        clv=value,
        customer_equity=value * counts.customers_end,
        acquisition_equity=counts.new_customers * value - counts.acquisition_cost,
        retention_equity=counts.retained_customers * value - counts.retention_cost,
        clv_to_cac=(value / cac) if cac else None,
        monthly_discount_rate=d,
    )


@dataclass(frozen=True)
class WhatIfFigure:
    """One tile under the what-if: its new value against the stored figure."""

    metric: str
    value: float | None
    stored: float | None

    @property
    def difference(self) -> float | None:
        if self.value is None or self.stored is None:
            return None
        return self.value - self.stored


def whatif_figures(*, inputs: WhatIfInputs, result: WhatIfResult, stored: dict[str, object],
                   retention_moved: bool) -> list[WhatIfFigure]:
    """The tiles the what-if changes, each with its stored figure (`stored`: the snapshot's
    values by metric name). Retention is one of them only when the what-if moved it."""
    values: dict[str, float | None] = {
        "customer_equity": result.customer_equity, "clv": result.clv, "retention_rate": inputs.retention,
        "acquisition_equity": result.acquisition_equity, "retention_equity": result.retention_equity,
        "clv_to_cac": result.clv_to_cac,
    }
    figures = []
    for metric in WHATIF_METRICS:
        if metric == "retention_rate" and not retention_moved:
            continue
        before = stored.get(metric)
        figures.append(WhatIfFigure(metric=metric, value=values[metric],
                                    stored=None if before is None else float(str(before))))
    return figures


def _equity(inputs: WhatIfInputs, customers: int) -> float:
    d = float(monthly_discount_rate(inputs.annual_discount_rate))
    return float(clv_formula(inputs.margin_per_customer, inputs.retention, d)) * customers


def equity_sensitivity(*, inputs: WhatIfInputs, customers_end: int) -> list[SensitivityRow]:
    """Customer equity at +-1 point of retention, +-10% of margin and +-1 point of discount rate.

    Each input moves alone, the others stay at `inputs`; the bounds are kept (retention within
    0..0.999, the discount rate not below 0). Rows come widest first, as a tornado is drawn."""
    base = _equity(inputs, customers_end)
    r, m, a = inputs.retention, inputs.margin_per_customer, inputs.annual_discount_rate
    variants = {
        "retention": (max(0.0, r - RETENTION_STEP), min(MAX_RETENTION, r + RETENTION_STEP)),
        "margin": (m * (1 - MARGIN_STEP), m * (1 + MARGIN_STEP)),
        "discount_rate": (max(0.0, a - DISCOUNT_STEP), a + DISCOUNT_STEP),
    }
    rows: list[SensitivityRow] = []
    for name, (low, high) in variants.items():
        equities = []
        for value in (low, high):
            changed = WhatIfInputs(
                retention=value if name == "retention" else r,
                margin_per_customer=value if name == "margin" else m,
                annual_discount_rate=value if name == "discount_rate" else a,
            )
            equities.append(_equity(changed, customers_end))
        rows.append(
            SensitivityRow(
                name=name, low_input=low, high_input=high, low_equity=equities[0], high_equity=equities[1],
                base_equity=base,
            )
        )
    rows.sort(key=lambda row: row.spread, reverse=True)
    return rows


def as_money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))
