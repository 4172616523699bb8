"""Projections of the monthly new-customer series (METRICS.md, "Customer-based valuation").

- `flat`: the mean of the last L months, kept for every future month;
- `trend`: a log-linear fit over the last L months, log n(t) = a + b t, extended;
- `logistic`: Gupta, Lehmann & Stuart's model of cumulative customers,
  N(t) = alpha / (1 + exp(-beta - gamma t)), fitted by non-linear least squares on the whole
  series' cumulative counts; the projected new customers of a month are N(t) - N(t - 1).

Each comes with a band: the fitted values plus and minus BAND_Z standard deviations of the
fit's residuals (for `trend`, in logs, so the band is a factor), widening with the square root of
the months ahead relative to the fitted span for `trend` and `logistic` (a projection further out
is less sure); never below zero.

`growth_multiple` compares the projection's last year with the history's last year: the board
calls a projection out from 2 times (presenters), and the valuation refuses one beyond
RUNAWAY_MULTIPLE (a log-linear trend fitted to a few noisy months of a small segment can compound
to billions of new customers a month over a ten-year horizon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

FloatArray = NDArray[np.float64]

MODELS = ("flat", "trend", "logistic")
# About a 90% band under normal residuals.
BAND_Z = 1.645
ERROR_UNKNOWN_MODEL = "Unknown projection model {model!r}: use one of flat, trend, logistic."
ERROR_TOO_SHORT = "The {model} projection needs at least {minimum} months of new customers; the series has {count}."
# Months of history each model needs (trend: two points for a line; logistic: three parameters
# and a few more to tell them apart).
MIN_MONTHS = {"flat": 1, "trend": 3, "logistic": 6}
# growth_multiple looks at this many months at each end.
MULTIPLE_MONTHS = 12
# Beyond this multiple of today's new customers a month the projection is a runaway
# extrapolation, not a forecast: no value of future customers is given on it.
RUNAWAY_MULTIPLE = 100.0


@dataclass(frozen=True)
class Projection:
    model: str
    # The history the fit saw, its fitted values (same length, NaN outside the fitted span),
    # and the projected months 1..horizon with the band.
    history: FloatArray
    fitted: FloatArray
    projected: FloatArray
    lower: FloatArray
    upper: FloatArray
    # Model parameters by name (flat: mean; trend: a, b; logistic: alpha, beta, gamma).
    params: dict[str, float]
    residual_sd: float


def _band_growth(horizon: int, span: int) -> FloatArray:
    k = np.arange(1, horizon + 1, dtype=np.float64)
    return np.sqrt(1.0 + k / max(span, 1))


def project_flat(series: Sequence[float], *, window: int, horizon: int) -> Projection:
    history = np.asarray(series, dtype=np.float64)
    _need("flat", history)
    recent = history[-window:]
    mean = float(recent.mean())
    sd = float(recent.std(ddof=1)) if len(recent) > 1 else 0.0
    fitted = np.full(len(history), np.nan)
    fitted[-len(recent):] = mean
    projected = np.full(horizon, mean)
    return Projection("flat", history, fitted, projected, np.maximum(projected - BAND_Z * sd, 0.0),
                      projected + BAND_Z * sd, {"mean": mean}, sd)


def project_trend(series: Sequence[float], *, window: int, horizon: int) -> Projection:
    """log n = a + b t over the last `window` months (t = 0 at the first of them); months with no
    new customers cannot enter a log fit and are left out of it."""
    history = np.asarray(series, dtype=np.float64)
    _need("trend", history)
    recent = history[-window:]
    t = np.arange(len(recent), dtype=np.float64)
    positive = recent > 0
    if positive.sum() < 2:
        raise ValueError(ERROR_TOO_SHORT.format(model="trend", minimum=2, count=int(positive.sum())))
    b, a = np.polyfit(t[positive], np.log(recent[positive]), 1)
    residuals = np.log(recent[positive]) - (a + b * t[positive])
    dof = max(int(positive.sum()) - 2, 1)
    sd = float(np.sqrt(np.sum(residuals ** 2) / dof))
    fitted = np.full(len(history), np.nan)
    fitted[-len(recent):] = np.exp(a + b * t)
    future_t = len(recent) - 1 + np.arange(1, horizon + 1, dtype=np.float64)
    projected = np.exp(a + b * future_t)
    spread = BAND_Z * sd * _band_growth(horizon, len(recent))
    return Projection("trend", history, fitted, projected, projected * np.exp(-spread), projected * np.exp(spread),
                      {"a": float(a), "b": float(b)}, sd)


def logistic_cumulative(t: FloatArray, alpha: float, beta: float, gamma: float) -> FloatArray:
    """N(t) = alpha / (1 + exp(-beta - gamma t))."""
    return alpha / (1.0 + np.exp(-beta - gamma * t))


def project_logistic(series: Sequence[float], *, horizon: int) -> Projection:
    """N(t) fitted to the cumulative new customers of months t = 1..n (N(0) = 0 before the series);
    the ceiling alpha is at least the customers already won."""
    history = np.asarray(series, dtype=np.float64)
    _need("logistic", history)
    cumulative = np.cumsum(history)
    t = np.arange(1, len(history) + 1, dtype=np.float64)
    scale = max(float(cumulative[-1]), 1.0)

    def residuals(p: FloatArray) -> FloatArray:
        return (logistic_cumulative(t, p[0] * scale, p[1], p[2]) - cumulative) / scale

    best = None
    middle = len(history) / 2.0
    for ceiling in (1.5, 3.0, 10.0):
        for gamma in (0.05, 0.2, 0.5):
            start = np.array([ceiling, -gamma * middle, gamma])
            result = least_squares(residuals, start, bounds=([1.0, -np.inf, 1e-6], [1e6, np.inf, 10.0]),
                                   xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=20000)
            if best is None or result.cost < best.cost:
                best = result
    assert best is not None
    alpha, beta, gamma = float(best.x[0] * scale), float(best.x[1]), float(best.x[2])
    cumulative_fit = logistic_cumulative(np.concatenate([[0.0], t]), alpha, beta, gamma)
    fitted = np.diff(cumulative_fit)
    # The first fitted month gains N(0) too: the customers the curve puts before the series.
    fitted[0] = cumulative_fit[1]
    monthly_residuals = history - fitted
    sd = float(np.sqrt(np.sum(monthly_residuals ** 2) / max(len(history) - 3, 1)))
    future_t = len(history) + np.arange(0, horizon + 1, dtype=np.float64)
    projected = np.diff(logistic_cumulative(future_t, alpha, beta, gamma))
    spread = BAND_Z * sd * _band_growth(horizon, len(history))
    return Projection("logistic", history, fitted, projected, np.maximum(projected - spread, 0.0), projected + spread,
                      {"alpha": alpha, "beta": beta, "gamma": gamma}, sd)


def growth_multiple(projection: Projection, *, months: int = MULTIPLE_MONTHS) -> tuple[float, float, float] | None:
    """(multiple, now, end): the mean projected new customers a month over the horizon's last
    `months` months against the history's last `months` months; None when the history's are 0
    (no level to compare with) or there is nothing projected."""
    if len(projection.history) == 0 or len(projection.projected) == 0:
        return None
    now = float(np.mean(projection.history[-months:]))
    end = float(np.mean(projection.projected[-months:]))
    if now <= 0:
        return None
    return (end / now if np.isfinite(end) else float("inf")), now, end


def project(series: Sequence[float], *, model: str, window: int, horizon: int) -> Projection:
    if model == "flat":
        return project_flat(series, window=window, horizon=horizon)
    if model == "trend":
        return project_trend(series, window=window, horizon=horizon)
    if model == "logistic":
        return project_logistic(series, horizon=horizon)
    raise ValueError(ERROR_UNKNOWN_MODEL.format(model=model))


def _need(model: str, history: FloatArray) -> None:
    if len(history) < MIN_MONTHS[model]:
        raise ValueError(ERROR_TOO_SHORT.format(model=model, minimum=MIN_MONTHS[model], count=len(history)))
