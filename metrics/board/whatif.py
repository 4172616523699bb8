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

ERROR_RETENTION = _("Retention must be a share between 0 and 0.999 (for example 0.85 for 85%).")
ERROR_DISCOUNT = _("The annual discount rate must be between 0 and 1 (for example 0.10 for 10%).")
ERROR_MARGIN = _("The margin per customer must be a number between -1,000,000,000 and 1,000,000,000.")
ERROR_NOT_A_NUMBER = _("Enter plain numbers: retention, margin and discount rate.")

MAX_RETENTION = 0.999
MAX_ABS_MARGIN = 1e9
# The steps of the sensitivity (tornado) chart.
RETENTION_STEP = 0.01  # one percentage point of monthly retention
MARGIN_STEP = 0.10  # ten per cent of the margin per customer
DISCOUNT_STEP = 0.01  # one percentage point of the annual discount rate


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


def whatif_validate(*, retention: object, margin_per_customer: object, annual_discount_rate: object) -> WhatIfInputs:
    """Parse and check the three inputs; raises WhatIfError with a message saying how to fix it."""
    try:
        r = float(str(retention))
        m = float(str(margin_per_customer))
        a = float(str(annual_discount_rate))
    except (TypeError, ValueError) as exc:
        raise WhatIfError(str(ERROR_NOT_A_NUMBER)) from exc
    if not (0.0 <= r <= MAX_RETENTION):
        raise WhatIfError(str(ERROR_RETENTION))
    if not (0.0 <= a <= 1.0):
        raise WhatIfError(str(ERROR_DISCOUNT))
    if not (abs(m) <= MAX_ABS_MARGIN):  # also rejects nan
        raise WhatIfError(str(ERROR_MARGIN))
    return WhatIfInputs(retention=r, margin_per_customer=m, annual_discount_rate=a)


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
