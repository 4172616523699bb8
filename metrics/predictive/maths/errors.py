"""Errors of the model fits, with messages that say what to do (tests reuse the constants).

A message is kept as its English template and its values (`Message`), so that it is shown in
the reader's language (PredictiveFit.message_shown) while logs and the API keep the English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def gettext_noop(text: str) -> str:
    """Marks a template for the translation catalogue (makemessages looks for this name) and
    returns it unchanged: it is translated where it is shown, not here."""
    return text


BGNBD_NO_REPEAT_BUYERS = gettext_noop(
    "The BG/NBD model cannot be identified from these data: no customer has made a repeat purchase "
    "(every customer has a single purchase day), so nothing tells how often customers buy or drop out. "
    "Fit again once some customers have bought on at least two different days."
)
BGNBD_TOO_FEW_CUSTOMERS = gettext_noop(
    "The BG/NBD model needs at least {minimum} customers with a purchase to be estimated; the data have {count}. "
    "Import more transactions and fit again."
)
BGNBD_NOT_CONVERGED = gettext_noop(
    "The BG/NBD fit did not converge ({reason}). The data may be too few or too irregular for the model; "
    "check the transactions (dates, duplicates) and fit again."
)
BGNBD_HOMOGENEOUS_DROPOUT = gettext_noop(
    "The data show no difference between customers in their chance to drop out after a purchase: every "
    "customer is taken to drop out with probability {p:.3f} (a and b are large and only their ratio is estimated)."
)
BGNBD_AT_BOUND = gettext_noop(
    "The BG/NBD parameter {name} ran to the edge of its allowed range ({value:.3g}), so the data do not "
    "identify it. This happens when repeat purchases are too few or all alike; fit again with more history."
)
GG_NO_SPENDERS = gettext_noop(
    "The Gamma-Gamma spend model needs customers with a repeat purchase of positive value; the data have {count} "
    "(at least {minimum} needed). Expected spend per purchase cannot be estimated yet."
)
GG_NOT_CONVERGED = gettext_noop(
    "The Gamma-Gamma spend fit did not converge ({reason}). Check the spend values (currency, refunds) and fit again."
)
GG_NO_FINITE_MEAN = gettext_noop(
    "The Gamma-Gamma fit gives q = {q:.3f} <= 1, for which the expected spend per purchase is infinite: "
    "the spend data are too heavy-tailed (a few very large orders). Check for outliers or wrong amounts."
)
GG_AT_BOUND = gettext_noop(
    "The Gamma-Gamma parameter {name} ran to the edge of its allowed range ({value:.3g}), so the spend data do not "
    "identify it (for example every repeat buyer spends exactly the same). Fit again with more history."
)
INVALID_INPUT = gettext_noop("Invalid model input: {detail}.")
BGNBD_TOO_FEW_REPEAT_BUYERS = gettext_noop(
    "The BG/NBD model needs at least {minimum} customers with a repeat purchase for a stable fit; the data have "
    "{count} among {total} customers. With so few, the drop-out parameters run off (for example a = 2e4) and "
    "every prediction would rest on one or two customers. Fit again once more customers have bought twice."
)
FIT_POORLY_IDENTIFIED = gettext_noop(
    "The {model} parameter {name} = {value:.4g} is poorly determined by the data (standard error {se:.3g}): "
    "predictions are less certain than their digits suggest; the CLV interval shows how much."
)
FIT_NO_STANDARD_ERRORS = gettext_noop(
    "The {model} fit has no standard errors: its likelihood is flat in some direction at the estimate "
    "(the information matrix is singular), so the data do not pin down every parameter."
)
GG_Q_TOO_CLOSE_TO_ONE = gettext_noop(
    "The Gamma-Gamma fit gives q = {q:.6g}, within {margin} of 1: the expected spend per purchase p gamma / (q - 1) "
    "is then unstable (q = 1.0000001 gives about a billion). The spend data are too heavy-tailed; check for outliers."
)

# Input checks of the pure scoring functions (ModelInputError).
INPUT_NOT_ARRAY = gettext_noop("Invalid model input: {name} must be a 1-d array of numbers (got shape {shape}).")
INPUT_LENGTHS = gettext_noop("Invalid model input: {names} must have one length per customer (got {lengths}).")
INPUT_NOT_FINITE = gettext_noop(
    "Invalid model input: {name} must be finite numbers; {count} value(s) are not (the first at position {index})."
)
INPUT_NEGATIVE = gettext_noop(
    "Invalid model input: {name} must not be negative; {count} value(s) are (the first at position {index})."
)
INPUT_NOT_WHOLE = gettext_noop(
    "Invalid model input: frequency must be a whole number of repeat purchases; {count} value(s) are not "
    "(the first at position {index})."
)
INPUT_RECENCY_RANGE = gettext_noop(
    "Invalid model input: recency must lie between 0 and T (0 <= t_x <= T); {count} customer(s) do not "
    "(the first at position {index})."
)
INPUT_RECENCY_WITHOUT_REPEAT = gettext_noop(
    "Invalid model input: a customer with repeat purchases must have recency t_x > 0 and one without must have "
    "t_x = 0; {count} customer(s) do not (the first at position {index})."
)
INPUT_PARAMETER = gettext_noop("Invalid model input: the {model} parameter {name} must be a finite number above 0 (got {value}).")
INPUT_GG_Q = gettext_noop(
    "Invalid model input: the Gamma-Gamma q must exceed 1 by at least {margin} for a finite, stable expected spend "
    "(got {value})."
)
INPUT_DISCOUNT = gettext_noop(
    "Invalid model input: the monthly discount rate must be a finite number above -1 (got {value})."
)
INPUT_HORIZON = gettext_noop(
    "Invalid model input: the horizon must be a whole number of months from 1 to {maximum} (got {value})."
)
INPUT_SHARE = gettext_noop("Invalid model input: {name} must be a share from 0 to 1 (got {value}).")


@dataclass(frozen=True)
class Message:
    """A message template and its values; str() gives the English text."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params)

    def as_dict(self) -> dict[str, Any]:
        """For a JSON field: numpy numbers become Python numbers."""
        return {"template": self.template,
                "params": {k: v.item() if hasattr(v, "item") else v for k, v in self.params.items()}}


class ModelFitError(ValueError):
    """A fit that cannot give trustworthy parameters; the message says why and what to do."""

    def __init__(self, template: str, **params: Any) -> None:
        self.message = Message(template, params)
        super().__init__(str(self.message))


class ModelInputError(ModelFitError):
    """Inputs a pure model function refuses (not finite, negative, of mismatched lengths, out of
    range): raised before any arithmetic, so that no NaN or absurd value is ever returned."""
