"""Calibration/holdout validation of the models of repeat purchases, and the choice among them. Pure.

1. The split (`holdout_inputs_from_transactions`, or the SQL of validation/selectors.py, which
   computes exactly the same): the calibration summary is the RFM summary (maths/rfm.py) up to and
   including the calibration end; its customers' purchase days after it, up to and including the
   holdout end, are their holdout repeat purchases (every one is a repeat purchase: their first
   purchase lies in the calibration period), with the day's summed purchase revenue as its spend.
   Customers whose first purchase falls in the holdout are not part of the check.
2. Each model (BG/NBD, MBG/NBD, Pareto/NBD) is fitted on the calibration summary and predicts
   each customer's holdout repeat purchases, E[Y(t) | x, t_x, T] with t the holdout length. Per
   model: the total against the actual total (% error), the mean per customer by number of
   calibration repeat purchases 0..7+ (the conditional-expectation plot), MAE and RMSE per
   customer, and the tracking plot: cumulative repeat purchases of the calibration customers week
   by week from the first purchase in the data to the holdout end, actual against the sum of
   each customer's E[X(t)] from their own first purchase on (Fader, Hardie & Lee 2005, figure 3),
   with the week boundaries placed so that one falls on the calibration end.
3. Gamma-Gamma, fitted on the calibration repeat buyers, predicts the spend per holdout purchase
   of the customers who bought in the holdout (E[M | x, m]); it is set against their actual mean.
4. The model with the lowest RMSE per customer on the holdout repeat purchases is the best.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..maths.bgnbd import distinct_rows
from ..maths.errors import Message, ModelFitError, gettext_noop
from ..maths.gammagamma import GammaGammaParams, gamma_gamma_expected_spend, gamma_gamma_fit
from ..maths.purchase_models import (
    FittedModel,
    PurchaseModel,
    purchase_model_expected_if_alive,
    purchase_model_fit,
    purchase_model_p_alive,
    purchase_model_unconditional_expected,
)
from ..maths.rfm import DAYS_PER_UNIT, rfm_summary

FloatArray = NDArray[np.float64]
# Calibration repeat purchases 0, 1, ..., 6 and "7 or more" (the conditional-expectation plot).
MAX_FREQUENCY_GROUP = 7
MODELS = (PurchaseModel.BGNBD, PurchaseModel.MBGNBD, PurchaseModel.PARETO_NBD)
# The shortest holdout worth checking against, in days, and the fewest calibration customers.
MIN_HOLDOUT_DAYS = 7
MIN_CUSTOMERS = 2

ERROR_SPLIT_ORDER = gettext_noop("The holdout must end after the calibration period ({calibration_end}).")
ERROR_HOLDOUT_SHORT = gettext_noop(
    "The holdout from {calibration_end} to {holdout_end} is shorter than {days} days: too short to check the models against."
)
ERROR_TOO_FEW_CUSTOMERS = gettext_noop(
    "Only {count} customer(s) made a first purchase by {calibration_end}: too little history to check the models."
)
ERROR_NO_REPEAT_BUYERS = gettext_noop(
    "No customer bought again by {calibration_end}: the models cannot be fitted on the calibration period."
)
ERROR_NO_MODEL = gettext_noop("None of the models could be fitted on the calibration period.")


class HoldoutError(ValueError):
    """The data cannot support a holdout check (too little history); the message says why."""

    def __init__(self, template: str, **params: object) -> None:
        self.message = Message(template, dict(params))
        super().__init__(str(self.message))


@dataclass(frozen=True)
class HoldoutInputs:
    """The calibration summary and holdout actuals of the calibration customers, aligned by row."""

    calibration_end: dt.date
    holdout_end: dt.date
    origin: dt.date  # the first purchase day of any calibration customer
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary_value: FloatArray
    first_purchase_day: NDArray[np.int64]  # days from the origin
    holdout_purchases: FloatArray  # purchase days in (calibration_end, holdout_end]
    holdout_revenue: FloatArray  # their summed purchase revenue
    # Repeat purchase days of these customers up to the holdout end, counted per day from the origin.
    repeat_days: NDArray[np.int64]
    repeat_counts: FloatArray

    @property
    def n_customers(self) -> int:
        return int(self.frequency.size)

    @property
    def holdout_units(self) -> float:
        return (self.holdout_end - self.calibration_end).days / DAYS_PER_UNIT


def holdout_inputs(
    *, calibration: pd.DataFrame, holdout: pd.DataFrame, repeat_by_day: pd.Series, calibration_end: dt.date,
    holdout_end: dt.date,
) -> HoldoutInputs:
    """Align the parts: `calibration` the RFM summary (maths/rfm.py) to the calibration end;
    `holdout` indexed by customer id with `purchases` and `revenue` (customers without holdout
    purchases may be absent); `repeat_by_day` repeat purchase days per date."""
    if holdout_end <= calibration_end:
        raise HoldoutError(ERROR_SPLIT_ORDER, calibration_end=calibration_end.isoformat())
    if (holdout_end - calibration_end).days < MIN_HOLDOUT_DAYS:
        raise HoldoutError(ERROR_HOLDOUT_SHORT, calibration_end=calibration_end.isoformat(),
                              holdout_end=holdout_end.isoformat(), days=MIN_HOLDOUT_DAYS)
    if len(calibration) < MIN_CUSTOMERS:
        raise HoldoutError(ERROR_TOO_FEW_CUSTOMERS, count=len(calibration), calibration_end=calibration_end.isoformat())
    if int((calibration["frequency"] > 0).sum()) == 0:
        raise HoldoutError(ERROR_NO_REPEAT_BUYERS, calibration_end=calibration_end.isoformat())
    first = pd.to_datetime(calibration["first_purchase"])
    origin = first.min()
    held = holdout.reindex(calibration.index).fillna(0.0)
    days = pd.to_datetime(pd.Series(repeat_by_day.index))
    return HoldoutInputs(
        calibration_end=calibration_end, holdout_end=holdout_end, origin=origin.date(),
        frequency=calibration["frequency"].to_numpy(dtype=float),
        recency=calibration["recency"].to_numpy(dtype=float),
        age=calibration["T"].to_numpy(dtype=float),
        monetary_value=calibration["monetary_value"].to_numpy(dtype=float),
        first_purchase_day=(first - origin).dt.days.to_numpy(dtype=np.int64),
        holdout_purchases=held["purchases"].to_numpy(dtype=float),
        holdout_revenue=held["revenue"].to_numpy(dtype=float),
        repeat_days=(days - origin).dt.days.to_numpy(dtype=np.int64),
        repeat_counts=repeat_by_day.to_numpy(dtype=float),
    )


def holdout_inputs_from_transactions(
    transactions: pd.DataFrame, *, calibration_end: dt.date, holdout_end: dt.date, default_margin_rate: float = 0.3,
) -> HoldoutInputs:
    """The split from raw transactions (customer_id, order_date, revenue): the reference of the SQL."""
    calibration = rfm_summary(transactions, observation_end=calibration_end, default_margin_rate=default_margin_rate)
    frame = pd.DataFrame({
        "customer_id": transactions["customer_id"].to_numpy(),
        "day": pd.to_datetime(transactions["order_date"]).dt.date.to_numpy(),
        "revenue": pd.to_numeric(transactions["revenue"]).to_numpy(dtype=float),
    })
    frame = frame[(frame["day"] <= holdout_end) & frame["customer_id"].isin(calibration.index)]
    purchases = frame[frame["revenue"] >= 0]
    days = purchases.groupby(["customer_id", "day"], sort=False)["revenue"].sum().reset_index()
    in_holdout = days[days["day"] > calibration_end]
    holdout = in_holdout.groupby("customer_id").agg(purchases=("revenue", "size"), revenue=("revenue", "sum"))
    first = days["customer_id"].map(calibration["first_purchase"])
    repeat = days[days["day"] > first]
    repeat_by_day = repeat.groupby("day").size().sort_index()
    return holdout_inputs(calibration=calibration, holdout=holdout, repeat_by_day=repeat_by_day,
                          calibration_end=calibration_end, holdout_end=holdout_end)


@dataclass(frozen=True)
class FrequencyRow:
    """Customers with this many calibration repeat purchases (the last group: this many or more)."""

    frequency: int
    customers: int
    actual_mean: float
    predicted_mean: float


@dataclass(frozen=True)
class ModelCheck:
    model: PurchaseModel
    fitted: FittedModel | None
    error: Message | None = None
    total_predicted: float = float("nan")
    mae: float = float("nan")
    rmse: float = float("nan")
    pct_error: float | None = None  # (predicted - actual) / actual of the holdout total
    by_frequency: tuple[FrequencyRow, ...] = ()
    tracking_predicted: tuple[float, ...] = ()  # cumulative, at Tracking.boundaries
    holdout_predicted: tuple[float, ...] = ()  # cumulative in the holdout, at the holdout boundaries

    @property
    def ok(self) -> bool:
        return self.fitted is not None and self.error is None


@dataclass(frozen=True)
class SpendCheck:
    """Gamma-Gamma's spend per holdout purchase against the actual, for the customers who bought."""

    params: GammaGammaParams | None
    error: Message | None = None
    customers: int = 0
    actual_mean: float = float("nan")
    predicted_mean: float = float("nan")
    mae: float = float("nan")
    rmse: float = float("nan")
    total_actual: float = 0.0
    total_predicted: float = float("nan")
    pct_error: float | None = None


@dataclass(frozen=True)
class ValidationReport:
    calibration_end: dt.date
    holdout_end: dt.date
    holdout_weeks: float
    customers: int
    repeat_customers: int
    total_actual: float
    by_frequency_actual: tuple[tuple[int, int, float], ...]  # (frequency group, customers, mean actual)
    # The tracking plot: dates of the week boundaries (the end of each week, inclusive), the
    # actual cumulative repeat purchases at each, and the index of the first holdout week.
    week_ends: tuple[dt.date, ...]
    tracking_actual: tuple[float, ...]
    first_holdout_week: int
    models: tuple[ModelCheck, ...]
    spend: SpendCheck | None
    best: PurchaseModel | None = None
    # Relative RMSE of the runner-up over the best ((rmse_2 - rmse_1) / rmse_1): how clearly it won.
    margin: float | None = None
    notes: tuple[Message, ...] = field(default_factory=tuple)

    def check(self, model: PurchaseModel | str) -> ModelCheck | None:
        return next((m for m in self.models if m.model == PurchaseModel(model)), None)


def _pct(predicted: float, actual: float) -> float | None:
    return (predicted - actual) / actual if actual > 0 else None


def _week_boundaries(inputs: HoldoutInputs) -> tuple[NDArray[np.int64], int]:
    """Day boundaries b (a week ends with day b - 1 from the origin), one on the calibration end,
    the last on the holdout end; and the index of the first boundary after the calibration end."""
    c = (inputs.calibration_end - inputs.origin).days + 1
    d = (inputs.holdout_end - inputs.origin).days + 1
    before = np.arange(c, 0, -7, dtype=np.int64)[::-1]
    after = np.arange(c + 7, d + 1, 7, dtype=np.int64)
    if after.size == 0 or after[-1] != d:
        after = np.append(after, np.int64(d))
    return np.concatenate([before, after]), int(before.size)


def _by_frequency(x: FloatArray, actual: FloatArray, predicted: FloatArray | None) -> list[tuple[int, int, float, float]]:
    group = np.minimum(x, MAX_FREQUENCY_GROUP).astype(np.int64)
    counts = np.bincount(group, minlength=MAX_FREQUENCY_GROUP + 1)
    actual_sum = np.bincount(group, weights=actual, minlength=MAX_FREQUENCY_GROUP + 1)
    predicted_sum = (np.bincount(group, weights=predicted, minlength=MAX_FREQUENCY_GROUP + 1)
                     if predicted is not None else np.zeros(MAX_FREQUENCY_GROUP + 1))
    return [(k, int(counts[k]), float(actual_sum[k] / counts[k]), float(predicted_sum[k] / counts[k]))
            for k in range(MAX_FREQUENCY_GROUP + 1) if counts[k] > 0]


def _check_model(model: PurchaseModel, inputs: HoldoutInputs, boundaries: NDArray[np.int64], first_holdout: int,
                 *, tracking: bool) -> ModelCheck:
    x, t_x, big_t = inputs.frequency, inputs.recency, inputs.age
    try:
        fitted = purchase_model_fit(model, x, t_x, big_t)
    except ModelFitError as error:
        return ModelCheck(model=model, fitted=None, error=error.message)
    # E[Y(t)] = if_alive(x, T, t) x P(alive): the first factor once per distinct (x, T).
    p_alive = purchase_model_p_alive(fitted, x, t_x, big_t)
    (xu, tu), inverse, _ = distinct_rows(x, big_t)
    predicted = purchase_model_expected_if_alive(fitted, inputs.holdout_units, xu, tu)[inverse] * p_alive
    if not np.isfinite(predicted).all():
        return ModelCheck(model=model, fitted=fitted, error=Message(ERROR_NOT_FINITE))
    actual = inputs.holdout_purchases
    errors = predicted - actual
    total = float(predicted.sum())
    rows = tuple(FrequencyRow(k, n, a, p) for k, n, a, p in _by_frequency(x, actual, predicted))
    tracking_predicted: tuple[float, ...] = ()
    holdout_predicted: tuple[float, ...] = ()
    if tracking:
        # Customers grouped by their first purchase day: E[X(t)] once per (day, week).
        first_days, first_counts = np.unique(inputs.first_purchase_day, return_counts=True)
        horizon = np.maximum(boundaries[:, None] - 1 - first_days[None, :], 0) / DAYS_PER_UNIT
        curve = purchase_model_unconditional_expected(fitted, horizon.ravel()).reshape(horizon.shape)
        tracking_predicted = tuple(float(v) for v in curve @ first_counts.astype(float))
        alive_sum = np.bincount(inverse, weights=p_alive, minlength=xu.size)
        c = boundaries[first_holdout - 1]
        holdout_predicted = tuple(
            float(purchase_model_expected_if_alive(fitted, (b - c) / DAYS_PER_UNIT, xu, tu) @ alive_sum)
            for b in boundaries[first_holdout:]
        )
    return ModelCheck(
        model=model, fitted=fitted, total_predicted=total, mae=float(np.abs(errors).mean()),
        rmse=float(np.sqrt((errors ** 2).mean())), pct_error=_pct(total, float(actual.sum())), by_frequency=rows,
        tracking_predicted=tracking_predicted, holdout_predicted=holdout_predicted,
    )


ERROR_NOT_FINITE = gettext_noop("The model's predictions of the holdout are not all numbers.")


def _check_spend(inputs: HoldoutInputs) -> SpendCheck:
    try:
        fit = gamma_gamma_fit(inputs.frequency, inputs.monetary_value)
    except ModelFitError as error:
        return SpendCheck(params=None, error=error.message)
    bought = inputs.holdout_purchases > 0
    n = int(bought.sum())
    if n == 0:
        return SpendCheck(params=fit.params)
    predicted = gamma_gamma_expected_spend(fit.params, inputs.frequency[bought], inputs.monetary_value[bought])
    actual = inputs.holdout_revenue[bought] / inputs.holdout_purchases[bought]
    errors = predicted - actual
    total_actual = float(inputs.holdout_revenue[bought].sum())
    total_predicted = float(predicted @ inputs.holdout_purchases[bought])
    return SpendCheck(
        params=fit.params, customers=n, actual_mean=float(actual.mean()), predicted_mean=float(predicted.mean()),
        mae=float(np.abs(errors).mean()), rmse=float(np.sqrt((errors ** 2).mean())), total_actual=total_actual,
        total_predicted=total_predicted, pct_error=_pct(total_predicted, total_actual),
    )


def holdout_validate(
    inputs: HoldoutInputs, *, models: tuple[PurchaseModel, ...] = MODELS, tracking: bool = True, spend: bool = True,
) -> ValidationReport:
    """Fit each model on the calibration period and check it on the holdout (module docstring)."""
    boundaries, first_holdout = _week_boundaries(inputs)
    checks = tuple(_check_model(PurchaseModel(m), inputs, boundaries, first_holdout, tracking=tracking) for m in models)
    ranked = sorted((m for m in checks if m.ok and math.isfinite(m.rmse)), key=lambda m: m.rmse)
    margin = None
    if len(ranked) > 1 and ranked[0].rmse > 0:
        margin = (ranked[1].rmse - ranked[0].rmse) / ranked[0].rmse
    actual = inputs.holdout_purchases
    cumulative = np.cumsum(np.bincount(np.searchsorted(boundaries, inputs.repeat_days, side="right"),
                                       weights=inputs.repeat_counts, minlength=boundaries.size + 1))[:boundaries.size]
    return ValidationReport(
        calibration_end=inputs.calibration_end, holdout_end=inputs.holdout_end, holdout_weeks=inputs.holdout_units,
        customers=inputs.n_customers, repeat_customers=int((inputs.frequency > 0).sum()),
        total_actual=float(actual.sum()),
        by_frequency_actual=tuple((k, n, a) for k, n, a, _p in _by_frequency(inputs.frequency, actual, None)),
        week_ends=tuple(inputs.origin + dt.timedelta(days=int(b) - 1) for b in boundaries),
        tracking_actual=tuple(float(v) for v in cumulative),
        first_holdout_week=first_holdout,
        models=checks, spend=_check_spend(inputs) if spend else None,
        best=ranked[0].model if ranked else None, margin=margin,
    )


def calibration_end_for(*, first_day: dt.date, last_day: dt.date, holdout_share: float) -> dt.date:
    """The calibration end that holds out the last `holdout_share` of the history (by days)."""
    span = (last_day - first_day).days
    return first_day + dt.timedelta(days=round(span * (1.0 - holdout_share)))
