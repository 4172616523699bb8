"""The formulas of METRICS.md, pure: numbers and DataFrames in, dataclasses out, no ORM.

Months are integer indexes (year * 12 + month - 1) so that "t - W + 1" is plain arithmetic.
Money is float64 here (currency units); it is rounded once, when the services store it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MEASURED = "measured"
ASSUMED = "assumed"
# A segment with no observable history takes the company's measured rate.
COMPANY_SOURCE = "company"
# Below this many customer-months per unit of k, a scope's r leans on its prior (the board says so).
LEANING_EXPOSURE_PER_K = 10

ERROR_RETENTION_NOT_BELOW_ONE_PLUS_D = (
    "Retention must be below 1 + the monthly discount rate, or CLV is infinite: with a measured retention "
    "of 100% set an annual discount rate above 0% in the assumptions."
)
ERROR_MONTHS_NOT_CONSECUTIVE = "The monthly series must hold consecutive months in order."


def month_index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def month_from_index(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Assumptions:
    """The assumption values a computation uses (one AssumptionSet, as plain numbers)."""

    annual_discount_rate: float
    activity_window: int
    retention_source: str
    assumed_monthly_retention: float
    smoothing_window: int
    default_gross_margin_rate: float
    credibility_weight: int = 100


@dataclass(frozen=True)
class Prior:
    """What a scope's measured retention leans on, per month: the company's r and its source."""

    rate: Mapping[int, float]
    source: Mapping[int, str]


@dataclass(frozen=True)
class MonthMetrics:
    """Every metric of METRICS.md for one scope and month, unrounded."""

    month: int
    customers_start: int
    customers_end: int
    new_customers: int
    retained_customers: int
    reactivated_customers: int
    churned_customers: int
    monthly_retention: float | None
    revenue: float
    gross_margin: float
    retention_rate: float
    retention_source: str
    retention_exposure: int
    margin_per_customer: float
    clv: float
    customer_equity: float
    acquisition_cost: float
    retention_cost: float
    acquisition_equity: float
    retention_equity: float
    cac: float | None
    clv_to_cac: float | None
    # METRICS.md, Referrals (metrics.referrals.maths.referral_figures; set by the recompute).
    referred_new_customers: int = 0
    referral_share: float | None = None
    referral_rate: float | None = None
    referral_equity: float = 0.0


def monthly_discount_rate(annual: float) -> float:
    """d = (1 + annual rate)^(1/12) - 1."""
    return float((1.0 + float(annual)) ** (1.0 / 12.0) - 1.0)


def clv(margin_per_customer: float, retention: float, monthly_discount: float) -> float:
    """CLV = m x r / (1 + d - r): constant margin and retention, margin at each month's end."""
    denominator = 1.0 + float(monthly_discount) - float(retention)
    if denominator <= 0:
        raise ValueError(ERROR_RETENTION_NOT_BELOW_ONE_PLUS_D)
    return float(margin_per_customer) * float(retention) / denominator


def to_cents(amounts: np.ndarray) -> np.ndarray:
    """Currency amounts to integer cents, half away from zero (as Decimal's ROUND_HALF_UP)."""
    scaled = np.round(np.asarray(amounts, dtype=np.float64) * 100.0, 6)
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def trailing_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum over the `window` values ending at each position (fewer at the start), in int64."""
    cumulative = np.cumsum(np.asarray(values, dtype=np.int64))
    shifted = np.concatenate([np.zeros(window, dtype=np.int64), cumulative])[: len(cumulative)]
    return cumulative - shifted


def allocate_cents(total_cents: int, weights: Sequence[int] | np.ndarray) -> np.ndarray:
    """Split an amount in cents in proportion to weights so that the parts add up exactly.

    Largest remainder: every part gets the floor of its exact share, and the cents left over
    go to the largest fractional parts (the earlier part on a tie). A negative total (a credit)
    is split like its absolute value. All weights zero: nothing is allocated."""
    w = np.asarray(weights, dtype=np.int64)
    parts = np.zeros(len(w), dtype=np.int64)
    weight_sum = int(w.sum())
    if weight_sum <= 0 or total_cents == 0:
        return parts
    sign = -1 if total_cents < 0 else 1
    amount = abs(int(total_cents))
    exact_num = w * amount  # the exact share is exact_num / weight_sum
    parts = exact_num // weight_sum
    remainders = exact_num % weight_sum
    left = amount - int(parts.sum())
    if left:
        order = np.lexsort((np.arange(len(w)), -remainders))
        parts[order[:left]] += 1
    return sign * parts


def segment_costs(
    *,
    weights: pd.DataFrame,
    tagged: Mapping[tuple[str, int, str], int],
    untagged: Mapping[tuple[int, str], int],
) -> pd.DataFrame:
    """Costs of the segments of one dimension, in cents (METRICS.md, Segments).

    `weights`: one row per scope and month with columns scope, month, new_customers,
    customers_start. `tagged`: cents keyed by (scope, month, kind) for entries tagged with this
    dimension. `untagged`: cents keyed by (month, kind). Returns scope, month,
    acquisition_cost, retention_cost (cents). Untagged acquisition cost is shared by new
    customers, untagged retention cost by customers_start; where the dimension has none, it
    stays with the company only."""
    frame = weights[["scope", "month", "new_customers", "customers_start"]].copy()
    frame["acquisition_cost"] = np.zeros(len(frame), dtype=np.int64)
    frame["retention_cost"] = np.zeros(len(frame), dtype=np.int64)
    key_index = {(s, int(m)): i for i, (s, m) in enumerate(zip(frame["scope"], frame["month"], strict=True))}
    acquisition = frame["acquisition_cost"].to_numpy().copy()
    retention = frame["retention_cost"].to_numpy().copy()
    for (scope, month, kind), cents in tagged.items():
        i = key_index.get((scope, int(month)))
        if i is None:
            continue
        if kind == "acquisition":
            acquisition[i] += int(cents)
        else:
            retention[i] += int(cents)
    months = frame["month"].to_numpy()
    for (month, kind), cents in untagged.items():
        rows = np.flatnonzero(months == month)
        if not len(rows):
            continue
        column = "new_customers" if kind == "acquisition" else "customers_start"
        shares = allocate_cents(int(cents), frame[column].to_numpy()[rows].astype(np.int64))
        target = acquisition if kind == "acquisition" else retention
        target[rows] += shares
    frame["acquisition_cost"] = acquisition
    frame["retention_cost"] = retention
    return frame[["scope", "month", "acquisition_cost", "retention_cost"]]


def is_observable(months: np.ndarray, *, first_data_month: int, activity_window: int) -> np.ndarray:
    """Months s >= F + W: a customer can have lapsed by then, so retention can be measured."""
    return np.asarray(months, dtype=np.int64) - int(first_data_month) >= int(activity_window)


def warm_up_end(*, first_data_month: int, activity_window: int) -> int:
    """The first observable month F + W (the warm-up is F .. F + W - 1)."""
    return int(first_data_month) + int(activity_window)


def credible_rate(retained: float, exposure: float, *, prior: float, weight: float) -> float:
    """r = (R + k x prior) / (E + k): the measured rate R / E pulled towards the prior by k
    customer-months; the prior itself when there is nothing to measure (E + k = 0)."""
    if exposure + weight <= 0:
        return float(prior)
    return float((retained + weight * prior) / (exposure + weight))


def snapshot_metrics(
    frame: pd.DataFrame, *, assumptions: Assumptions, first_data_month: int, prior: Prior | None = None
) -> list[MonthMetrics]:
    """All metrics of one scope for a run of consecutive months.

    `frame` columns: month, customers_start, customers_end, new_customers,
    reactivated_customers, churned_customers, revenue, gross_margin, acquisition_cost,
    retention_cost (money in currency units). The first row may be a later month than
    `first_data_month` (an incremental recompute) provided the frame holds the L-1 months
    before the first month that is kept. `prior`: the company's r per month, for a segment;
    None for the company itself (its prior is the assumed monthly retention).

    1. retained = start - churned; monthly retention = retained / start on observable months.
    2. Trailing L-month sums (fewer at the start of the data) of margin and customers_end; of
       retained (R) and customers_start (E) over the observable months only.
    3. r = (R + k x prior) / (E + k) with source measured (E > 0); with E = 0 the prior, with
       source assumed or company; the assumed retention throughout when the source is assumed.
    4. m = margin sum / end sum (0 when no customer was active in the window); CLV and the
       equities follow."""
    if frame.empty:
        return []
    months = frame["month"].to_numpy(dtype=np.int64)
    if len(months) > 1 and not np.all(np.diff(months) == 1):
        raise ValueError(ERROR_MONTHS_NOT_CONSECUTIVE)
    a = assumptions
    d = monthly_discount_rate(a.annual_discount_rate)
    start = frame["customers_start"].to_numpy(dtype=np.int64)
    end = frame["customers_end"].to_numpy(dtype=np.int64)
    new = frame["new_customers"].to_numpy(dtype=np.int64)
    reactivated = frame["reactivated_customers"].to_numpy(dtype=np.int64)
    churned = frame["churned_customers"].to_numpy(dtype=np.int64)
    retained = start - churned
    # Monthly revenue and margin are amounts in cents (as stored); window sums are exact
    # integer sums, so a recompute from a month gives the same numbers as a full one.
    revenue_cents = to_cents(frame["revenue"].to_numpy(dtype=np.float64))
    margin_cents = to_cents(frame["gross_margin"].to_numpy(dtype=np.float64))
    revenue = revenue_cents / 100.0
    margin = margin_cents / 100.0
    acquisition_cost = frame["acquisition_cost"].to_numpy(dtype=np.float64)
    retention_cost = frame["retention_cost"].to_numpy(dtype=np.float64)

    window = int(a.smoothing_window)
    observable = is_observable(months, first_data_month=first_data_month, activity_window=a.activity_window)
    measuring = a.retention_source == MEASURED
    retained_sum = trailing_sum(np.where(observable, retained, 0), window)
    exposure = trailing_sum(np.where(observable, start, 0), window) if measuring else np.zeros(len(months), np.int64)
    margin_sum = trailing_sum(margin_cents, window) / 100.0
    end_sum = trailing_sum(end, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(end_sum > 0, margin_sum / np.where(end_sum > 0, end_sum, 1), 0.0)

    k = float(max(int(a.credibility_weight), 0))
    assumed = float(a.assumed_monthly_retention)
    r = np.empty(len(months), dtype=np.float64)
    sources: list[str] = []
    for i, month in enumerate(months.tolist()):
        if not measuring:
            r[i], source = assumed, ASSUMED
        else:
            if prior is None:
                base, base_source = assumed, ASSUMED
            else:
                base = float(prior.rate.get(month, assumed))
                base_source = COMPANY_SOURCE if prior.source.get(month, ASSUMED) == MEASURED else ASSUMED
            r[i] = credible_rate(float(retained_sum[i]), float(exposure[i]), prior=base, weight=k)
            source = MEASURED if exposure[i] > 0 else base_source
        sources.append(source)
    denominator = 1.0 + d - r
    if np.any(denominator <= 0):
        raise ValueError(ERROR_RETENTION_NOT_BELOW_ONE_PLUS_D)
    clv_values = m * r / denominator

    out: list[MonthMetrics] = []
    for i in range(len(months)):
        value = float(clv_values[i])
        cac = float(acquisition_cost[i] / new[i]) if new[i] > 0 else None
        out.append(
            MonthMetrics(
                month=int(months[i]),
                customers_start=int(start[i]),
                customers_end=int(end[i]),
                new_customers=int(new[i]),
                retained_customers=int(retained[i]),
                reactivated_customers=int(reactivated[i]),
                churned_customers=int(churned[i]),
                monthly_retention=float(retained[i] / start[i]) if start[i] > 0 and observable[i] else None,
                revenue=float(revenue[i]),
                gross_margin=float(margin[i]),
                retention_rate=float(r[i]),
                retention_source=sources[i],
                retention_exposure=int(exposure[i]),
                margin_per_customer=float(m[i]),
                clv=value,
                customer_equity=value * int(end[i]),
                acquisition_cost=float(acquisition_cost[i]),
                retention_cost=float(retention_cost[i]),
                acquisition_equity=int(new[i]) * value - float(acquisition_cost[i]),
                retention_equity=int(retained[i]) * value - float(retention_cost[i]),
                cac=cac,
                clv_to_cac=(value / cac) if cac else None,
            )
        )
    return out


def prior_from(metrics: Sequence[MonthMetrics]) -> Prior:
    """The company's r and source per month, as a segment's prior."""
    return Prior(rate={x.month: x.retention_rate for x in metrics}, source={x.month: x.retention_source for x in metrics})


def leans_on_prior(*, exposure: int, credibility_weight: int) -> bool:
    """Whether a scope's r leans on its prior rather than on its own data: E < 10 k."""
    return int(credibility_weight) > 0 and int(exposure) < LEANING_EXPOSURE_PER_K * int(credibility_weight)
