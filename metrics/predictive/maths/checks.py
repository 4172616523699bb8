"""Input checks of the pure model functions: every one raises ModelInputError with the reason
before any arithmetic, so that no NaN, broadcast or absurd value leaves the maths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import (
    INPUT_DISCOUNT,
    INPUT_GG_Q,
    INPUT_HORIZON,
    INPUT_LENGTHS,
    INPUT_NEGATIVE,
    INPUT_NOT_ARRAY,
    INPUT_NOT_FINITE,
    INPUT_NOT_WHOLE,
    INPUT_PARAMETER,
    INPUT_RECENCY_RANGE,
    INPUT_RECENCY_WITHOUT_REPEAT,
    INPUT_SHARE,
    ModelInputError,
)

FloatArray = NDArray[np.float64]
# Recency may exceed T by rounding only (both are day counts divided by 7).
RECENCY_SLACK = 1e-9
# q - 1 below this makes the Gamma-Gamma mean spend p gamma / (q - 1) explode (q = 1.0000001: ~1e9).
GG_Q_MARGIN = 0.01
MAX_HORIZON_MONTHS = 1200


def _first(bad: NDArray[np.bool_]) -> tuple[int, int]:
    return int(bad.sum()), int(np.flatnonzero(bad)[0])


def column(name: str, values: ArrayLike, *, non_negative: bool = False) -> FloatArray:
    """A 1-d float array of finite numbers (>= 0 if asked)."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ModelInputError(INPUT_NOT_ARRAY, name=name, shape="?") from None
    if array.ndim != 1:
        raise ModelInputError(INPUT_NOT_ARRAY, name=name, shape=str(array.shape))
    bad = ~np.isfinite(array)
    if bad.any():
        count, index = _first(bad)
        raise ModelInputError(INPUT_NOT_FINITE, name=name, count=count, index=index)
    if non_negative and (array < 0).any():
        count, index = _first(array < 0)
        raise ModelInputError(INPUT_NEGATIVE, name=name, count=count, index=index)
    return array


def same_length(**arrays: FloatArray) -> None:
    lengths = {name: int(a.size) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ModelInputError(INPUT_LENGTHS, names=", ".join(lengths),
                              lengths=", ".join(f"{k} {v}" for k, v in lengths.items()))


def customers(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(x, t_x, T) of the purchase models: whole x >= 0, 0 <= t_x <= T, t_x > 0 exactly when x > 0."""
    x = column("frequency", frequency, non_negative=True)
    t_x = column("recency", recency, non_negative=True)
    big_t = column("T", age, non_negative=True)
    same_length(frequency=x, recency=t_x, T=big_t)
    if (np.floor(x) != x).any():
        raise ModelInputError(INPUT_NOT_WHOLE, **dict(zip(("count", "index"), _first(np.floor(x) != x), strict=True)))
    beyond = t_x > big_t + RECENCY_SLACK
    if beyond.any():
        count, index = _first(beyond)
        raise ModelInputError(INPUT_RECENCY_RANGE, count=count, index=index)
    mismatch = (x > 0) != (t_x > 0)
    if mismatch.any():
        count, index = _first(mismatch)
        raise ModelInputError(INPUT_RECENCY_WITHOUT_REPEAT, count=count, index=index)
    return x, t_x, big_t


def times(values: float | ArrayLike) -> FloatArray:
    """Prediction times t: finite and >= 0, of any shape."""
    array = np.asarray(values, dtype=float)
    flat = array.reshape(-1)
    bad = ~np.isfinite(flat)
    if bad.any():
        count, index = _first(bad)
        raise ModelInputError(INPUT_NOT_FINITE, name="t", count=count, index=index)
    if (flat < 0).any():
        count, index = _first(flat < 0)
        raise ModelInputError(INPUT_NEGATIVE, name="t", count=count, index=index)
    return array


def parameters(model: str, names: Sequence[str], values: Sequence[float]) -> None:
    """Every parameter a finite number > 0."""
    for name, value in zip(names, values, strict=True):
        if not (np.isfinite(value) and value > 0):
            raise ModelInputError(INPUT_PARAMETER, model=model, name=name, value=float(value))


def gamma_gamma_q(q: float) -> None:
    if not (np.isfinite(q) and q > 1.0 + GG_Q_MARGIN):
        raise ModelInputError(INPUT_GG_Q, margin=GG_Q_MARGIN, value=float(q))


def discount(rate: float) -> None:
    if not (np.isfinite(rate) and rate > -1.0):
        raise ModelInputError(INPUT_DISCOUNT, value=float(rate))


def horizon(months: int) -> None:
    if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or not 1 <= months <= MAX_HORIZON_MONTHS:
        raise ModelInputError(INPUT_HORIZON, maximum=MAX_HORIZON_MONTHS, value=months)


def share(name: str, value: float) -> None:
    if not (np.isfinite(value) and 0.0 <= value <= 1.0):
        raise ModelInputError(INPUT_SHARE, name=name, value=float(value))
