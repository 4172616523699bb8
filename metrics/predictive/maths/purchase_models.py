"""The three models of repeat purchases behind one interface: BG/NBD, MBG/NBD and Pareto/NBD.

Each model gives, per customer (x, t_x, T): P(alive), the expected purchases over the next t
units if alive (a function of x and T only) and so E[Y(t) | x, t_x, T] = that x P(alive). The
scoring (clv.py), the holdout validation (metrics/predictive/validation) and the model choice
use the models only through this module, so a model is chosen by its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .betamix import beta_mixture_expected_purchases
from .bgnbd import PARAM_NAMES as BGNBD_PARAM_NAMES
from .bgnbd import BgNbdParams, _as_inputs, bgnbd_expected_purchases_if_alive, bgnbd_fit, bgnbd_p_alive
from .errors import Message
from .mbgnbd import PARAM_NAMES as MBGNBD_PARAM_NAMES
from .mbgnbd import MbgNbdParams, mbgnbd_fit, mbgnbd_p_alive
from .paretonbd import PARAM_NAMES as PARETO_PARAM_NAMES
from .paretonbd import ParetoNbdParams, paretonbd_fit, paretonbd_p_alive

FloatArray = NDArray[np.float64]
Params = BgNbdParams | MbgNbdParams | ParetoNbdParams


class PurchaseModel(StrEnum):
    BGNBD = "bgnbd"
    MBGNBD = "mbgnbd"
    PARETO_NBD = "pareto_nbd"


# The names the pages and commands show (model names are not translated).
MODEL_LABELS = {PurchaseModel.BGNBD: "BG/NBD", PurchaseModel.MBGNBD: "MBG/NBD", PurchaseModel.PARETO_NBD: "Pareto/NBD"}
PARAM_NAMES: dict[PurchaseModel, tuple[str, ...]] = {
    PurchaseModel.BGNBD: BGNBD_PARAM_NAMES, PurchaseModel.MBGNBD: MBGNBD_PARAM_NAMES,
    PurchaseModel.PARETO_NBD: PARETO_PARAM_NAMES,
}
_PARAM_CLASSES: dict[PurchaseModel, type[BgNbdParams] | type[MbgNbdParams] | type[ParetoNbdParams]] = {
    PurchaseModel.BGNBD: BgNbdParams, PurchaseModel.MBGNBD: MbgNbdParams, PurchaseModel.PARETO_NBD: ParetoNbdParams,
}


@dataclass(frozen=True)
class FittedModel:
    """A model of repeat purchases with its parameters (and, from a fit, its log-likelihood)."""

    model: PurchaseModel
    params: Params
    log_likelihood: float = float("nan")
    n_customers: int = 0
    n_repeat_customers: int = 0
    note: Message | None = None
    # From the Hessian of the log-likelihood at the estimate (None when it is singular), and what
    # the page says beside the numbers (poorly determined parameters).
    standard_errors: tuple[float, ...] | None = None
    log_covariance: FloatArray | None = field(default=None, compare=False)  # an array: no ==
    warnings: tuple[Message, ...] = ()

    @property
    def label(self) -> str:
        return MODEL_LABELS[self.model]

    def params_dict(self) -> dict[str, float]:
        return dict(zip(PARAM_NAMES[self.model], (float(v) for v in self.params.as_tuple()), strict=True))


def model_params(model: PurchaseModel | str, values: dict[str, float]) -> FittedModel:
    """A model from stored parameter values (name -> value)."""
    name = PurchaseModel(model)
    params = _PARAM_CLASSES[name](*(float(values[p]) for p in PARAM_NAMES[name]))
    return FittedModel(model=name, params=params)


def purchase_model_fit(model: PurchaseModel | str, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FittedModel:
    """Maximum-likelihood fit of the named model; raises ModelFitError as the model's fit does."""
    name = PurchaseModel(model)
    if name is PurchaseModel.BGNBD:
        bg = bgnbd_fit(frequency, recency, age)
        return FittedModel(name, bg.params, bg.log_likelihood, bg.n_customers, bg.n_repeat_customers, bg.note,
                           bg.standard_errors, bg.log_covariance, bg.warnings)
    if name is PurchaseModel.MBGNBD:
        mbg = mbgnbd_fit(frequency, recency, age)
        return FittedModel(name, mbg.params, mbg.log_likelihood, mbg.n_customers, mbg.n_repeat_customers, None,
                           mbg.standard_errors, mbg.log_covariance, mbg.warnings)
    pareto = paretonbd_fit(frequency, recency, age)
    return FittedModel(name, pareto.params, pareto.log_likelihood, pareto.n_customers, pareto.n_repeat_customers,
                       None, pareto.standard_errors, pareto.log_covariance, pareto.warnings)


def purchase_model_p_alive(fitted: FittedModel, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    p = fitted.params
    if isinstance(p, BgNbdParams):
        return bgnbd_p_alive(p, frequency, recency, age)
    if isinstance(p, MbgNbdParams):
        return mbgnbd_p_alive(p, frequency, recency, age)
    return paretonbd_p_alive(p, frequency, recency, age)


def purchase_model_expected_if_alive(fitted: FittedModel, t: float | ArrayLike, frequency: ArrayLike,
                                     age: ArrayLike) -> FloatArray:
    """Expected repeat purchases over the next t units of a customer still alive at T: it depends
    on x and T only (not t_x), so scoring evaluates it once per distinct (x, T)."""
    p = fitted.params
    x = np.asarray(frequency, dtype=float)
    big_t = np.asarray(age, dtype=float)
    t_arr = np.asarray(t, dtype=float)
    if isinstance(p, BgNbdParams):
        return bgnbd_expected_purchases_if_alive(p, t_arr, x, big_t)
    if isinstance(p, MbgNbdParams):
        # As BG/NBD's, over the posterior drop-out chance p ~ Beta(a, b + 1 + x) (maths/betamix.py).
        r, alpha, a, b = p.as_tuple()
        x_b, big_t_b, t_b = np.broadcast_arrays(x, big_t, t_arr)
        return np.asarray(beta_mixture_expected_purchases(shape=r + x_b, tau=t_b / (alpha + big_t_b), a=a,
                                                          b=b + 1.0 + x_b), dtype=float)
    r, alpha, s, beta = p.as_tuple()
    log_ratio = np.log1p(t_arr / (beta + big_t))
    k = s - 1.0
    horizon = log_ratio if abs(k) < 1e-12 else -np.expm1(-k * log_ratio) / k
    return np.asarray((r + x) / (alpha + big_t) * (beta + big_t) * horizon, dtype=float)


def purchase_model_conditional_expected(fitted: FittedModel, t: float | ArrayLike, frequency: ArrayLike,
                                        recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases over the next t units."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    return np.asarray(purchase_model_expected_if_alive(fitted, t, x, big_t)
                      * purchase_model_p_alive(fitted, x, t_x, big_t), dtype=float)


def purchase_model_unconditional_expected(fitted: FittedModel, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat purchases in the first t units after a customer's first purchase,
    which is E[Y(t) | x = 0, t_x = 0, T = 0] (nothing is known of the customer but that purchase)."""
    t_arr = np.atleast_1d(np.asarray(t, dtype=float))
    zeros = np.zeros(t_arr.shape)
    return np.asarray(purchase_model_expected_if_alive(fitted, t_arr, zeros, zeros)
                      * purchase_model_p_alive(fitted, zeros[:1], zeros[:1], zeros[:1])[0], dtype=float)


def purchase_model_p_alive_path(fitted: FittedModel, purchase_times: ArrayLike, evaluation_times: ArrayLike) -> FloatArray:
    """P(alive) of one customer at each evaluation time, from their purchases up to then (as
    bgnbd.bgnbd_p_alive_path, for any of the models); NaN before the first purchase."""
    times = np.sort(np.asarray(purchase_times, dtype=float))
    at = np.asarray(evaluation_times, dtype=float)
    if times.size == 0:
        return np.full(at.shape, np.nan)
    seen = np.searchsorted(times, at, side="right")
    valid = seen > 0
    x = np.where(valid, seen - 1, 0).astype(float)
    t_x = np.where(valid, times[np.maximum(seen - 1, 0)] - times[0], 0.0)
    big_t = np.where(valid, at - times[0], 0.0)
    return np.where(valid, purchase_model_p_alive(fitted, x, t_x, big_t), np.nan)
