"""Errors of the model fits, with messages that say what to do (tests reuse the constants)."""

from __future__ import annotations

BGNBD_NO_REPEAT_BUYERS = (
    "The BG/NBD model cannot be identified from these data: no customer has made a repeat purchase "
    "(every customer has a single purchase day), so nothing tells how often customers buy or drop out. "
    "Fit again once some customers have bought on at least two different days."
)
BGNBD_TOO_FEW_CUSTOMERS = (
    "The BG/NBD model needs at least {minimum} customers with a purchase to be estimated; the data have {count}. "
    "Import more transactions and fit again."
)
BGNBD_NOT_CONVERGED = (
    "The BG/NBD fit did not converge ({reason}). The data may be too few or too irregular for the model; "
    "check the transactions (dates, duplicates) and fit again."
)
BGNBD_HOMOGENEOUS_DROPOUT = (
    "The data show no difference between customers in their chance to drop out after a purchase: every "
    "customer is taken to drop out with probability {p:.3f} (a and b are large and only their ratio is estimated)."
)
BGNBD_AT_BOUND = (
    "The BG/NBD parameter {name} ran to the edge of its allowed range ({value:.3g}), so the data do not "
    "identify it. This happens when repeat purchases are too few or all alike; fit again with more history."
)
GG_NO_SPENDERS = (
    "The Gamma-Gamma spend model needs customers with a repeat purchase of positive value; the data have {count} "
    "(at least {minimum} needed). Expected spend per purchase cannot be estimated yet."
)
GG_NOT_CONVERGED = (
    "The Gamma-Gamma spend fit did not converge ({reason}). Check the spend values (currency, refunds) and fit again."
)
GG_NO_FINITE_MEAN = (
    "The Gamma-Gamma fit gives q = {q:.3f} <= 1, for which the expected spend per purchase is infinite: "
    "the spend data are too heavy-tailed (a few very large orders). Check for outliers or wrong amounts."
)
GG_AT_BOUND = (
    "The Gamma-Gamma parameter {name} ran to the edge of its allowed range ({value:.3g}), so the spend data do not "
    "identify it (for example every repeat buyer spends exactly the same). Fit again with more history."
)
INVALID_INPUT = "Invalid model input: {detail}."


class ModelFitError(ValueError):
    """A fit that cannot give trustworthy parameters; the message says why and what to do."""
