"""Pure maths of the per-customer predictive CLV: no ORM, numpy/pandas/SciPy only.

- `rfm`: the per-customer summary (frequency, recency, age, net mean repeat spend) from transactions.
- `bgnbd`: the BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005): likelihood, fit,
  P(alive), conditional expected purchases.
- `paretonbd`: the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), its likelihood
  integrated numerically in log space (no 2F1 to cancel or overflow), fit, P(alive), E[Y(t)].
- `mbgnbd`: the MBG/NBD model (Batislam, Denizel & Filiztekin 2007): BG/NBD with a drop-out
  chance after the first purchase too.
- `gammagamma`: the Gamma-Gamma model of spend per purchase: likelihood, fit, expected spend.
- `clv`: predicted CLV over a horizon of months, discounted monthly, and the customer tiers.
"""

from __future__ import annotations

from .bgnbd import (
    BgNbdFit,
    BgNbdParams,
    bgnbd_conditional_expected_purchases,
    bgnbd_fit,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    bgnbd_p_alive_path,
)
from .clv import ClvScores, Tier, TierRules, clv_score, tiers_assign
from .errors import Message, ModelFitError
from .gammagamma import GammaGammaFit, GammaGammaParams, gamma_gamma_expected_spend, gamma_gamma_fit
from .rfm import DAYS_PER_UNIT, RFM_COLUMNS, rfm_summary

__all__ = [
    "DAYS_PER_UNIT",
    "RFM_COLUMNS",
    "BgNbdFit",
    "BgNbdParams",
    "ClvScores",
    "GammaGammaFit",
    "GammaGammaParams",
    "Message",
    "ModelFitError",
    "Tier",
    "TierRules",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "bgnbd_p_alive_path",
    "clv_score",
    "gamma_gamma_expected_spend",
    "gamma_gamma_fit",
    "rfm_summary",
    "tiers_assign",
]
