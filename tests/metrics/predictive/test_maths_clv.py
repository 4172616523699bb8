from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metrics.calculations import monthly_discount_rate
from metrics.predictive.maths import (
    BgNbdParams,
    ClvScores,
    GammaGammaParams,
    Tier,
    TierRules,
    bgnbd_conditional_expected_purchases,
    clv_score,
    tiers_assign,
)
from metrics.predictive.maths.clv import UNITS_PER_MONTH

from .cdnow import PUBLISHED_BGNBD, PUBLISHED_GG

BG = BgNbdParams(**PUBLISHED_BGNBD)
GG = GammaGammaParams(**PUBLISHED_GG)


def _score(horizon: int = 36, annual: float = 0.10, **overrides: np.ndarray) -> ClvScores:
    data: dict[str, Any] = {
        "frequency": np.array([0.0, 2, 2, 10]),
        "recency": np.array([0.0, 30.43, 5.0, 38.0]),
        "age": np.array([20.0, 38.86, 38.86, 38.86]),
        "monetary_value": np.array([0.0, 40.0, 40.0, 25.0]),
        "margin_rate": np.array([0.3, 0.3, 0.3, 0.5]),
    }
    data.update(overrides)
    return clv_score(bgnbd=BG, gamma_gamma=GG, horizon_months=horizon,
                     monthly_discount=monthly_discount_rate(annual), **data)


def test_predicted_clv_is_the_discounted_sum_of_monthly_expected_margin() -> None:
    scores = _score(horizon=24, annual=0.10)
    d = monthly_discount_rate(0.10)
    x, t_x, big_t = np.array([2.0]), np.array([30.43]), np.array([38.86])
    expected = 0.0
    for k in range(1, 25):
        month_k = (bgnbd_conditional_expected_purchases(BG, k * UNITS_PER_MONTH, x, t_x, big_t)
                   - bgnbd_conditional_expected_purchases(BG, (k - 1) * UNITS_PER_MONTH, x, t_x, big_t))[0]
        spend = GG.p * (GG.gamma + 2 * 40.0) / (GG.p * 2 + GG.q - 1)
        expected += month_k * spend * 0.3 / (1 + d) ** k
    assert scores.predicted_clv[1] == pytest.approx(expected, rel=1e-12)


def test_undiscounted_clv_over_the_horizon_is_expected_purchases_times_spend_times_margin() -> None:
    scores = _score(horizon=12, annual=0.0)
    np.testing.assert_allclose(
        scores.predicted_clv, scores.expected_purchases_12m * scores.expected_spend * np.array([0.3, 0.3, 0.3, 0.5]),
        rtol=1e-10,
    )


def test_a_higher_discount_rate_or_shorter_horizon_lowers_clv() -> None:
    base = _score().predicted_clv
    assert (_score(annual=0.30).predicted_clv < base).all()
    assert (_score(horizon=12).predicted_clv < base).all()


def test_a_one_purchase_customer_gets_finite_positive_scores() -> None:
    scores = _score()
    assert scores.p_alive[0] == 1.0
    assert scores.expected_spend[0] == pytest.approx(GG.p * GG.gamma / (GG.q - 1))
    assert np.isfinite(scores.predicted_clv).all() and scores.predicted_clv[0] > 0


def test_a_recent_buyer_is_worth_more_than_one_who_went_quiet() -> None:
    scores = _score()
    assert scores.p_alive[1] > scores.p_alive[2]
    assert scores.predicted_clv[1] > scores.predicted_clv[2]


def test_tier_precedence_unprofitable_then_at_risk_then_gold_silver_bronze() -> None:
    clv = np.array([100.0, 90, 80, 70, 60, 50, 40, 30, 20, 10])
    margin = np.array([-5.0, 500, 1, 1, 1, 1, 1, 1, 1, 400])
    alive = np.array([0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2])
    tiers = tiers_assign(predicted_clv=clv, historic_margin=margin, p_alive=alive)
    assert list(tiers) == [
        Tier.UNPROFITABLE, Tier.AT_RISK,  # top-20% by CLV, but these rules come first
        Tier.SILVER, Tier.SILVER, Tier.SILVER,
        Tier.BRONZE, Tier.BRONZE, Tier.BRONZE, Tier.BRONZE,
        Tier.AT_RISK,  # valuable history (top 20% by margin), P(alive) < 0.5
    ]


def test_gold_is_the_top_fifth_by_predicted_clv() -> None:
    rng = np.random.default_rng(3)
    clv = rng.gamma(2.0, 50.0, 1000)
    tiers = tiers_assign(predicted_clv=clv, historic_margin=np.ones(1000), p_alive=np.ones(1000))
    assert (tiers == Tier.GOLD).sum() == 200
    assert (tiers == Tier.SILVER).sum() == 300
    assert clv[tiers == Tier.GOLD].min() > clv[tiers == Tier.SILVER].max()


def test_a_valuable_customer_with_p_alive_above_one_half_is_not_at_risk() -> None:
    tiers = tiers_assign(predicted_clv=[1.0, 2.0, 3.0, 4.0, 5.0], historic_margin=[900.0, 1, 1, 1, 1],
                         p_alive=[0.5, 1, 1, 1, 1], rules=TierRules())
    assert tiers[0] == Tier.BRONZE
