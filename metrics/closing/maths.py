"""Restatements, pure: published, basis and current figures in, the split out.

For a closed month, the restatement of a figure is current - published, in two parts that add
up exactly (METRICS.md):
- data = basis - published, where basis is the figure recomputed from the current data with
  the published assumption version (late transactions, undone imports, new costs);
- assumptions = current - basis (assumption changes since the close).
Money is Decimal (exact cents) throughout, so the parts add up to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# The figures a restatement is given for: every money metric and every customer count, the
# referrals' included (a month closed before they were published has none: no split).
COUNT_FIGURES: tuple[str, ...] = (
    "customers_start", "customers_end", "new_customers", "retained_customers", "reactivated_customers",
    "churned_customers", "referred_new_customers",
)
MONEY_FIGURES: tuple[str, ...] = (
    "revenue", "gross_margin", "margin_per_customer", "clv", "customer_equity", "acquisition_cost",
    "retention_cost", "acquisition_equity", "retention_equity", "cac", "referral_equity",
)
RESTATED_FIGURES: tuple[str, ...] = COUNT_FIGURES + MONEY_FIGURES
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Split:
    """The restatement of one figure: current - published = data + assumptions."""

    published: Decimal | None
    current: Decimal | None
    data: Decimal | None
    assumptions: Decimal | None

    @property
    def total(self) -> Decimal | None:
        if self.current is None or self.published is None:
            return None
        return self.current - self.published

    @property
    def restated(self) -> bool:
        return bool(self.total)


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def restatement_split(*, published: Mapping[str, Any], basis: Mapping[str, Any],
                      current: Mapping[str, Any]) -> dict[str, Split]:
    """The split of every restated figure. A figure missing on one side (a cac without new
    customers) has no split on that side: its parts are None."""
    out: dict[str, Split] = {}
    for name in RESTATED_FIGURES:
        p, b, c = _number(published.get(name)), _number(basis.get(name)), _number(current.get(name))
        data = b - p if b is not None and p is not None else None
        assumptions = c - b if c is not None and b is not None else None
        out[name] = Split(published=p, current=c, data=data, assumptions=assumptions)
    return out


def restatement_parts(splits: Mapping[str, Split]) -> dict[str, dict[str, int | str | None]]:
    """The export shape: {figure: {"data": x, "assumptions": y}}: counts as integers, money as
    decimal strings (exact cents), as the snapshot rows are exported."""
    def value(name: str, amount: Decimal | None) -> int | str | None:
        if amount is None:
            return None
        return int(amount) if name in COUNT_FIGURES else str(amount.quantize(CENT))

    return {name: {"data": value(name, s.data), "assumptions": value(name, s.assumptions)}
            for name, s in splits.items()}
