"""Customer-based value (METRICS.md, "Customer-based valuation"; Gupta, Lehmann & Stuart 2004).

    value of current customers = customer equity of month t = clv x customers_end,
        clv = m x r / (1 + d - r)  (m x sum over k >= 1 of r^k / (1 + d)^k)
    v_new = m x sum over k = 1..CURVE_MONTHS of S(k) / (1 + d)^k
    value of future customers = sum over k = 1..H_v of n_k x (v_new - cac) / (1 + d)^k

S is the cohort curve by months since the first purchase: 1 for the months 0..W-1 (with the
activity window W nobody lapses before month W), then the sBG survival of period k - W + 1.
With d > 0 the months beyond CURVE_MONTHS (100 years) weigh less than 1e-4 of a month's
margin; with d = 0 the sum stops there (an sBG lifetime with alpha <= 1 has no finite mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from .sbg import SbgParams, sbg_retention

FloatArray = NDArray[np.float64]

CURVE_MONTHS = 1200
# "kept below 1": a retention raised by 1% is capped here.
RETENTION_CAP = 0.9999
# The four changes of the elasticities table, in METRICS.md's order.
ELASTICITY_KEYS = ("retention", "margin", "acquisition_cost", "discount_rate")


def monthly_rate(annual_rate: float) -> float:
    return float((1.0 + annual_rate) ** (1.0 / 12.0) - 1.0)


def curve_retention(params: SbgParams, *, window: int, months: int = CURVE_MONTHS, lift: float = 1.0) -> FloatArray:
    """The month-on-month retention of the curve for months since purchase k = 1..months: 1 for
    k < W, the sBG r(k - W + 1) from month W on; `lift` multiplies the sBG periods (capped)."""
    sbg_periods = months - window + 1
    r = np.ones(months)
    if sbg_periods > 0:
        r[window - 1:] = np.minimum(sbg_retention(params, sbg_periods) * lift, RETENTION_CAP if lift != 1.0 else 1.0)
    return r


def curve_survival(params: SbgParams, *, window: int, months: int = CURVE_MONTHS, lift: float = 1.0) -> FloatArray:
    """S(0) = 1, S(1), ..., S(months) of the cohort curve."""
    return np.concatenate([[1.0], np.cumprod(curve_retention(params, window=window, months=months, lift=lift))])


def value_of_new_customer(*, margin: float, survival: FloatArray, monthly_discount: float) -> float:
    """v_new = m x sum over k >= 1 of S(k) / (1 + d)^k (survival[0] is S(0))."""
    k = np.arange(1, len(survival), dtype=np.float64)
    return float(margin * np.sum(survival[1:] / (1.0 + monthly_discount) ** k))


def clv_by_retention(*, margin: float, retention: float, monthly_discount: float) -> float:
    """m x r / (1 + d - r), the board's CLV."""
    return margin * retention / (1.0 + monthly_discount - retention)


def value_of_future_customers(*, new_customers: Sequence[float], v_new: float, cac: float,
                              monthly_discount: float) -> float:
    """sum over k = 1..H_v of n_k x (v_new - cac) / (1 + d)^k, with H_v = len(new_customers)."""
    n = np.asarray(new_customers, dtype=np.float64)
    k = np.arange(1, len(n) + 1, dtype=np.float64)
    return float(np.sum(n * (v_new - cac) / (1.0 + monthly_discount) ** k))


@dataclass(frozen=True)
class ValuationInputs:
    current_value: float          # customer equity of month t
    margin: float                 # m, margin per customer of month t
    retention: float              # r of month t
    annual_discount_rate: float
    activity_window: int          # W
    curve: SbgParams              # the fitted sBG of the cohorts
    new_customers: tuple[float, ...]  # n_1..n_Hv
    cac: float                    # trailing L-month CAC (0 without acquisition cost)
    new_customers_lower: tuple[float, ...] | None = None
    new_customers_upper: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Valuation:
    current_value: float
    future_value: float
    total: float
    v_new: float
    clv_by_r: float
    monthly_discount: float
    # The value of future customers with the projection's band instead (None without a band).
    future_value_lower: float | None
    future_value_upper: float | None

    @property
    def heterogeneity_gap(self) -> float:
        """v_new - CLV by r: what r, measured on the survivors, misstates for a customer just won."""
        return self.v_new - self.clv_by_r


def valuation(inputs: ValuationInputs, *, lift: float = 1.0) -> Valuation:
    d = monthly_rate(inputs.annual_discount_rate)
    survival = curve_survival(inputs.curve, window=inputs.activity_window, lift=lift)
    v_new = value_of_new_customer(margin=inputs.margin, survival=survival, monthly_discount=d)
    clv_base = clv_by_retention(margin=inputs.margin, retention=inputs.retention,
                                monthly_discount=monthly_rate(inputs.annual_discount_rate))
    future = value_of_future_customers(new_customers=inputs.new_customers, v_new=v_new, cac=inputs.cac,
                                       monthly_discount=d)
    bands = [
        None if band is None else value_of_future_customers(new_customers=band, v_new=v_new, cac=inputs.cac,
                                                            monthly_discount=d)
        for band in (inputs.new_customers_lower, inputs.new_customers_upper)
    ]
    lower, upper = (sorted(bands) if None not in bands else (None, None))  # type: ignore[type-var]
    return Valuation(current_value=inputs.current_value, future_value=future, total=inputs.current_value + future,
                     v_new=v_new, clv_by_r=clv_base, monthly_discount=d, future_value_lower=lower,
                     future_value_upper=upper)


@dataclass(frozen=True)
class Elasticity:
    key: str
    total: float       # the customer-based value after the change
    change: float      # total - base total
    percent: float | None  # % change of the customer-based value (None when the base is 0)


def _current_after(inputs: ValuationInputs, *, margin: float, retention: float, annual_rate: float) -> float:
    """The current customers' value with a changed m, r or d: customer equity scaled by the CLV's
    change (customer equity is clv x customers_end)."""
    d0 = monthly_rate(inputs.annual_discount_rate)
    base = clv_by_retention(margin=inputs.margin, retention=inputs.retention, monthly_discount=d0)
    after = clv_by_retention(margin=margin, retention=retention, monthly_discount=monthly_rate(annual_rate))
    if base == 0:
        return inputs.current_value
    return inputs.current_value * after / base


def elasticities(inputs: ValuationInputs) -> list[Elasticity]:
    """The % change of the customer-based value for +1% retention (r and each period of the curve
    x 1.01, kept below 1), +1% margin, -1% acquisition cost, -1 point of annual discount rate."""
    base = valuation(inputs).total
    out = []
    for key in ELASTICITY_KEYS:
        if key == "retention":
            r = min(inputs.retention * 1.01, RETENTION_CAP)
            current = _current_after(inputs, margin=inputs.margin, retention=r, annual_rate=inputs.annual_discount_rate)
            changed = valuation(replace(inputs, current_value=current, retention=r), lift=1.01)
        elif key == "margin":
            changed = valuation(replace(inputs, current_value=inputs.current_value * 1.01, margin=inputs.margin * 1.01))
        elif key == "acquisition_cost":
            changed = valuation(replace(inputs, cac=inputs.cac * 0.99))
        else:
            rate = max(inputs.annual_discount_rate - 0.01, 0.0)
            current = _current_after(inputs, margin=inputs.margin, retention=inputs.retention, annual_rate=rate)
            changed = valuation(replace(inputs, current_value=current, annual_discount_rate=rate))
        total = changed.total
        out.append(Elasticity(key=key, total=total, change=total - base,
                              percent=None if base == 0 else 100.0 * (total - base) / abs(base)))
    return out
