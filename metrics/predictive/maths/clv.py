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

from .bgnbd import BgNbdParams, distinct_rows
from .gammagamma import GammaGammaParams, gamma_gamma_expected_spend
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
    if horizon_months < 1:
        raise ValueError("The prediction horizon must be at least one month.")
    if (bgnbd is None) == (purchase_model is None):
        raise ValueError("Give either the BG/NBD parameters or a purchase model, not both or neither.")
    model = purchase_model if purchase_model is not None else FittedModel(PurchaseModel.BGNBD, bgnbd)  # type: ignore[arg-type]
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    big_t = np.asarray(age, dtype=float)
    p_alive = purchase_model_p_alive(model, x, t_x, big_t)
    (xu, tu), inverse, _ = distinct_rows(x, big_t)

    expected_12m_u = purchase_model_expected_if_alive(model, 12 * UNITS_PER_MONTH, xu, tu)
    discounted_u = np.zeros_like(xu)
    previous = np.zeros_like(xu)
    for k in range(1, horizon_months + 1):
        cumulative = purchase_model_expected_if_alive(model, k * UNITS_PER_MONTH, xu, tu)
        discounted_u += (cumulative - previous) / (1.0 + monthly_discount) ** k
        previous = cumulative

    spend = gamma_gamma_expected_spend(gamma_gamma, x, monetary_value)
    discounted = discounted_u[inverse] * p_alive
    clv = discounted * spend * np.asarray(margin_rate, dtype=float)
    return ClvScores(
        p_alive=p_alive,
        expected_purchases_12m=expected_12m_u[inverse] * p_alive,
        expected_spend=spend,
        discounted_purchases=discounted,
        predicted_clv=clv,
    )


class Tier(StrEnum):
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
    2. at_risk: a valuable history (historic margin > 0 and among the top `history_share` of all
       scored customers by historic margin) and P(alive) < `at_risk_p_alive`;
    3. gold: among the top `gold_share` of all scored customers by predicted CLV;
    4. silver: among the next `silver_share` by predicted CLV (ranks gold_share .. gold_share + silver_share);
    5. bronze: everyone else.
    Ranks are taken over all scored customers before the rules apply, so a top-20% customer who is
    unprofitable or at risk shows under that tier and gold holds at most 20% of customers.
    Ties in value keep the order the customers were given in (by customer id in the service)."""

    gold_share: float = 0.20
    silver_share: float = 0.30
    history_share: float = 0.20
    at_risk_p_alive: float = 0.5


def _top_share(values: FloatArray, share: float) -> NDArray[np.bool_]:
    """True for the first ceil(share x n) customers by descending value (stable on ties)."""
    n = values.size
    count = int(np.ceil(share * n - 1e-9))
    order = np.argsort(-values, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:count]] = True
    return mask


def tiers_assign(
    *, predicted_clv: ArrayLike, historic_margin: ArrayLike, p_alive: ArrayLike, rules: TierRules | None = None,
    net_profit: ArrayLike | None = None,
) -> NDArray[np.str_]:
    """Tiers by `rules` (TierRules); `net_profit` NaN for a customer without one (their margin decides)."""
    rules = rules or TierRules()
    clv = np.asarray(predicted_clv, dtype=float)
    margin = np.asarray(historic_margin, dtype=float)
    alive = np.asarray(p_alive, dtype=float)
    gold = _top_share(clv, rules.gold_share)
    top_half = _top_share(clv, rules.gold_share + rules.silver_share)
    valuable = _top_share(margin, rules.history_share) & (margin > 0)
    tiers = np.full(clv.size, Tier.BRONZE.value, dtype=object)
    tiers[top_half] = Tier.SILVER.value
    tiers[gold] = Tier.GOLD.value
    tiers[valuable & (alive < rules.at_risk_p_alive)] = Tier.AT_RISK.value
    loss = margin < 0
    if net_profit is not None:
        net = np.asarray(net_profit, dtype=float)
        loss = np.where(np.isfinite(net), net < 0, loss)
    tiers[loss] = Tier.UNPROFITABLE.value
    return tiers.astype(str)
