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
