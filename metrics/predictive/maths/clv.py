"""Predicted CLV per customer and the customer tiers.

predicted CLV = sum over k = 1..H of E[purchases in month k] x E[spend per purchase] x margin rate
                / (1 + d)^k,
with d the monthly discount rate (metrics.calculations.monthly_discount_rate, METRICS.md) and E[purchases in month k] =
E[Y(k months)] - E[Y(k - 1 months)] from the conditional expectation of the model of repeat
purchases (BG/NBD, MBG/NBD or Pareto/NBD, purchase_models.py); spend is Gamma-Gamma's for all three. Margin is booked at
the end of each month, as in the board's formula. A month is 365.25 / 12 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .betamix import PRECISE, Precision, beta_mixture_horizon_sums, beta_mixture_horizon_sums_by_count
from .bgnbd import BgNbdParams, distinct_rows
from .gammagamma import GammaGammaParams, gamma_gamma_expected_spend
from .mbgnbd import MbgNbdParams, mbgnbd_horizon_sums
from .purchase_models import (
    FittedModel,
    PurchaseModel,
    purchase_model_expected_if_alive,
    purchase_model_p_alive,
)
from .rfm import DAYS_PER_UNIT

FloatArray = NDArray[np.float64]
UNITS_PER_MONTH = 365.25 / 12.0 / DAYS_PER_UNIT


@dataclass(frozen=True)
class ClvScores:
    p_alive: FloatArray
    expected_purchases_12m: FloatArray
    expected_spend: FloatArray
    # Sum over the horizon of the discounted expected purchases; CLV = this x spend x margin rate.
    discounted_purchases: FloatArray
    predicted_clv: FloatArray


def clv_score(
    *,
    bgnbd: BgNbdParams | None = None,
    purchase_model: FittedModel | None = None,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    monetary_value: ArrayLike,
    margin_rate: ArrayLike,
    horizon_months: int,
    monthly_discount: float,
) -> ClvScores:
    """Score every customer at once. E[Y(t) | x, t_x, T] = E[Y(t) | alive, x, T] x P(alive | x, t_x, T);
    the first factor (the costly hypergeometric function, once per month of the horizon) depends
    on x and T only, so it is computed once per distinct (x, T) and spread back to the customers.
    With ages in whole days that is at most (distinct purchase counts x days of history) values.

    The purchase model is `purchase_model` (any of the three), or BG/NBD with the `bgnbd` parameters."""
    if (bgnbd is None) == (purchase_model is None):
        raise ValueError("Give either the BG/NBD parameters or a purchase model, not both or neither.")
    model = purchase_model if purchase_model is not None else FittedModel(PurchaseModel.BGNBD, bgnbd)  # type: ignore[arg-type]
    checks.horizon(horizon_months)
    checks.discount(monthly_discount)
    x, t_x, big_t = checks.customers(frequency, recency, age)
    spend_in = checks.column("spend", monetary_value)
    margin = checks.column("margin rate", margin_rate)
    checks.same_length(frequency=x, spend=spend_in, margin_rate=margin)
    checks.gamma_gamma_q(gamma_gamma.q)
    p_alive = purchase_model_p_alive(model, x, t_x, big_t)
    (xu, tu), inverse, _ = distinct_rows(x, big_t)
    if isinstance(model.params, BgNbdParams):
        # BG/NBD: the horizon's sums at once, per purchase count (bgnbd_horizon_sums).
        sums = bgnbd_horizon_sums(model.params, xu, tu, horizon_months=horizon_months,
                                  monthly_discount=monthly_discount)
        discounted_u, expected_12m_u = sums[:, 0], sums[:, 1]
    elif isinstance(model.params, MbgNbdParams):
        # MBG/NBD: the same, over its own posterior drop-out chance (mbgnbd.mbgnbd_horizon_sums).
        times, weights = horizon_coefficients(horizon_months=horizon_months, monthly_discount=monthly_discount)
        sums = mbgnbd_horizon_sums(model.params, xu, tu, times=times, coefficients=weights)
        discounted_u, expected_12m_u = sums[:, 0], sums[:, 1]
    else:
        # Pareto/NBD: E[Y(k months) | alive] month by month (closed form).
        expected_12m_u = purchase_model_expected_if_alive(model, 12 * UNITS_PER_MONTH, xu, tu)
        discounted_u = np.zeros_like(xu)
        previous = np.zeros_like(xu)
        for k in range(1, horizon_months + 1):
            cumulative = purchase_model_expected_if_alive(model, k * UNITS_PER_MONTH, xu, tu)
            discounted_u += (cumulative - previous) / (1.0 + monthly_discount) ** k
            previous = cumulative

    spend = gamma_gamma_expected_spend(gamma_gamma, x, spend_in)
    discounted = discounted_u[inverse] * p_alive
    clv = discounted * spend * margin
    return ClvScores(
        p_alive=p_alive,
        expected_purchases_12m=expected_12m_u[inverse] * p_alive,
        expected_spend=spend,
        discounted_purchases=discounted,
        predicted_clv=clv,
    )


def horizon_coefficients(*, horizon_months: int, monthly_discount: float) -> tuple[FloatArray, FloatArray]:
    """The month ends t_k (k = 1..max(H, 12), in the model's unit) and the weights that turn the
    cumulative E[Y(t_k)] into (column 0) the discounted sum of the monthly increments over H
    months, sum_k (E_k - E_(k-1)) / (1 + d)^k = sum_k E_k (v^k - v^(k+1) [k < H]), v = 1 / (1 + d),
    and (column 1) the 12-month total E_12."""
    months = max(horizon_months, 12)
    k = np.arange(1, months + 1, dtype=float)
    v = 1.0 / (1.0 + monthly_discount)
    weights = np.zeros((months, 2))
    weights[:horizon_months, 0] = v ** k[:horizon_months]
    weights[: horizon_months - 1, 0] -= v ** k[1:horizon_months]
    weights[11, 1] = 1.0
    return k * UNITS_PER_MONTH, weights


def bgnbd_horizon_sums(
    params: BgNbdParams, frequency: FloatArray, age: FloatArray, *, horizon_months: int, monthly_discount: float,
    precision: Precision = PRECISE,
) -> FloatArray:
    """For each (x, T): the discounted expected purchases over the horizon and the expected purchases
    in 12 months of a customer alive at T (columns of `horizon_coefficients`), per purchase count."""
    r, alpha, a, b = params.as_tuple()
    times, weights = horizon_coefficients(horizon_months=horizon_months, monthly_discount=monthly_discount)
    out = np.empty((frequency.size, 2))
    levels, index = np.unique(frequency, return_inverse=True)
    index = index.ravel()
    for k, level in enumerate(levels):
        rows = np.flatnonzero(index == k)
        out[rows] = beta_mixture_horizon_sums(
            shape=r + float(level), a=a, b=b + float(level), scale=alpha + age[rows], times=times,
            coefficients=weights, precision=precision,
        )
    return out


def bgnbd_horizon_sums_draws(
    draws: FloatArray, frequency: FloatArray, age: FloatArray, *, times: ArrayLike, coefficients: ArrayLike,
    precision: Precision = PRECISE,
) -> FloatArray:
    """`bgnbd_horizon_sums` for many parameter draws at once: `draws` is (draws x 4) of (r, alpha, a, b),
    and S[i, d, j] = sum over k of coefficients[k, j] x E[Y(times[k]) | alive, x_i, T_i] under draw d
    (with the columns of `horizon_coefficients`: what bgnbd_horizon_sums gives for that draw). Per
    purchase count, one betamix.beta_mixture_horizon_sums_draws over all its ages and every draw."""
    return beta_mixture_horizon_sums_by_count(draws, frequency, age, times=times, coefficients=coefficients,
                                              b_offset=0.0, precision=precision)


class Tier(StrEnum):
    NEW = "new"
    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    AT_RISK = "at_risk"
    UNPROFITABLE = "unprofitable"


@dataclass(frozen=True)
class TierRules:
    """How tiers resolve (the first rule that applies wins):
    1. unprofitable: net profit to date (margin less the allocated acquisition and retention
       cost, METRICS.md) < 0 where it is given (once cost entries exist), else historic margin
       (refunds included) < 0;
    2. new: the first purchase less than `new_customer_days` days before the data date (0 turns
       the rule off): too little history to say what the customer is worth;
    3. at_risk: a valuable history (historic margin > 0 and among the top `history_share` of the
       ranked customers by historic margin) and P(alive) < `at_risk_p_alive`;
    4. gold: among the top `gold_share` of the ranked customers by predicted CLV;
    5. silver: among the next `silver_share` by predicted CLV (ranks gold_share .. gold_share + silver_share);
    6. bronze: everyone else.
    The ranked customers are all scored customers but the new ones, ranked before the rules apply:
    a top-20% customer who is unprofitable or at risk shows under that tier, gold holds at most 20%
    of the established customers, and a burst of new customers does not push anyone out of gold.
    Ties in value keep the order the customers were given in (by customer id in the service)."""

    gold_share: float = 0.20
    silver_share: float = 0.30
    history_share: float = 0.20
    at_risk_p_alive: float = 0.5
    new_customer_days: int = 90

    def __post_init__(self) -> None:
        for name in ("gold_share", "silver_share", "history_share", "at_risk_p_alive"):
            checks.share(name, getattr(self, name))
        checks.share("gold_share + silver_share", self.gold_share + self.silver_share)
        if self.new_customer_days < 0:
            checks.column("new_customer_days", [self.new_customer_days], non_negative=True)


def _top_share(values: FloatArray, share: float, eligible: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """True for the first ceil(share x n) eligible customers by descending value (stable on ties),
    n the number of eligible customers."""
    candidates = np.flatnonzero(eligible)
    count = int(np.ceil(share * candidates.size - 1e-9))
    order = candidates[np.argsort(-values[candidates], kind="stable")]
    mask = np.zeros(values.size, dtype=bool)
    mask[order[:count]] = True
    return mask


def tiers_assign(
    *, predicted_clv: ArrayLike, historic_margin: ArrayLike, p_alive: ArrayLike, rules: TierRules | None = None,
    net_profit: ArrayLike | None = None, age_days: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Tiers by `rules` (TierRules); `net_profit` NaN for a customer without one (their margin decides);
    `age_days`: days from each customer's first purchase to the data date (the `new` rule needs it)."""
    rules = rules or TierRules()
    clv = checks.column("predicted CLV", predicted_clv)
    margin = checks.column("historic margin", historic_margin)
    alive = checks.column("P(alive)", p_alive, non_negative=True)
    columns = {"predicted_clv": clv, "historic_margin": margin, "p_alive": alive}
    if age_days is not None:
        columns["age_days"] = checks.column("age in days", age_days, non_negative=True)
    net = None
    if net_profit is not None:
        net = np.asarray(net_profit, dtype=float)
        # NaN stands for "no net profit yet"; infinities are errors.
        checks.column("net profit", np.where(np.isnan(net), 0.0, net))
        columns["net_profit"] = net
    checks.same_length(**columns)
    new = np.zeros(clv.size, dtype=bool)
    if rules.new_customer_days > 0 and age_days is not None:
        new = columns["age_days"] < rules.new_customer_days
    ranked = ~new
    gold = _top_share(clv, rules.gold_share, ranked)
    top_half = _top_share(clv, rules.gold_share + rules.silver_share, ranked)
    valuable = _top_share(margin, rules.history_share, ranked) & (margin > 0)
    tiers = np.full(clv.size, Tier.BRONZE.value, dtype=object)
    tiers[top_half] = Tier.SILVER.value
    tiers[gold] = Tier.GOLD.value
    tiers[valuable & (alive < rules.at_risk_p_alive)] = Tier.AT_RISK.value
    tiers[new] = Tier.NEW.value
    loss = margin < 0
    if net is not None:
        loss = np.where(np.isfinite(net), net < 0, loss)
    tiers[loss] = Tier.UNPROFITABLE.value
    return tiers.astype(str)
