"""The two bridges of the board: customers and customer equity from one month to the next.

When the previous month is closed (METRICS.md, "Closing a month"), the equity bridge starts
from its *published* equity and first steps through its restatement (data, then
assumptions) to its current equity; the Shapley effects then run from the current previous
month to the current month. Both months are computed with the same assumption version, so the
discount rate does not move between them: its factor is left out (a change of the discount
rate shows in the assumptions step of the restatement). It comes back only if the two months
differ in d.

Pure: takes numbers, returns dataclasses; no ORM.

The customer bridge is an identity of METRICS.md's counts:
    customers_end = customers_start + new + reactivated - churned.

The equity bridge splits the change of customer equity E = N x CLV(m, r, d) between the
previous month (0) and this month (1) into four effects: the number of customers N
(customers_end), the margin per customer m, the retention rate r and the monthly discount
rate d. E is not additive in its factors, so the split uses the Shapley value: the effect of
a factor is its change of E averaged over every order in which the four factors can be
switched from their month-0 value to their month-1 value (each of the 16 subsets of factors
weighted by |S|! (n - |S| - 1)! / n!). The four effects then add up exactly to
E(1) - E(0), and no factor is favoured by being switched first, as it would be in a
sequential (one-at-a-time) decomposition. E is recomputed from the stored inputs with the
same formula as the snapshots (metrics.calculations.clv); the stored equities are rounded to
cents, so the small difference between the recomputed and the stored change is shown as a
separate "rounding" step, which keeps the bridge summing exactly to the stored change.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from metrics.calculations import clv as clv_formula

FACTORS: tuple[str, ...] = ("customers", "margin", "retention", "discount_rate")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class CustomerBridge:
    start: int
    new: int
    reactivated: int
    churned: int
    end: int

    @property
    def balanced(self) -> bool:
        return self.start + self.new + self.reactivated - self.churned == self.end


@dataclass(frozen=True)
class EquityState:
    """The inputs of customer equity for one month."""

    customers: int
    margin: float
    retention: float
    discount_rate: float  # monthly

    def value(self, name: str) -> float:
        return float(getattr(self, name)) if name != "customers" else float(self.customers)


@dataclass(frozen=True)
class EquityBridge:
    start: Decimal
    end: Decimal
    effects: dict[str, Decimal]  # one per factor that moved, in FACTORS order
    rounding: Decimal
    # The previous month's restatement since it was published: ("restated_data", x),
    # ("restated_assumptions", y); start is then its published equity.
    restatement: tuple[tuple[str, Decimal], ...] = ()

    @property
    def change(self) -> Decimal:
        return self.end - self.start

    @property
    def from_published(self) -> bool:
        return bool(self.restatement)

    def steps(self) -> list[tuple[str, Decimal]]:
        """(name, amount) of the waterfall between start and end: the restatement first (if
        any), the effects, rounding last (if any)."""
        steps = [*self.restatement, *self.effects.items()]
        if self.rounding:
            steps.append(("rounding", self.rounding))
        return steps


def customer_bridge(
    *, customers_start: int, new_customers: int, reactivated_customers: int, churned_customers: int, customers_end: int
) -> CustomerBridge:
    return CustomerBridge(
        start=customers_start,
        new=new_customers,
        reactivated=reactivated_customers,
        churned=churned_customers,
        end=customers_end,
    )


def equity_of(state: EquityState) -> float:
    """E = N x m x r / (1 + d - r), through the one CLV formula of the project."""
    return state.customers * float(clv_formula(state.margin, state.retention, state.discount_rate))


def moving_factors(before: EquityState, after: EquityState) -> tuple[str, ...]:
    """The factors of the bridge: customers, margin and retention always; the discount rate only
    when it differs between the two months."""
    return tuple(f for f in FACTORS if f != "discount_rate" or before.discount_rate != after.discount_rate)


def shapley_effects(
    *, before: EquityState, after: EquityState, value: Callable[[EquityState], float] = equity_of,
    factors: tuple[str, ...] = FACTORS,
) -> dict[str, float]:
    """The Shapley value of each factor for the change value(after) - value(before); factors
    left out keep their month-0 value (they must not move, or the effects do not add up)."""
    n = len(factors)
    cache: dict[frozenset[str], float] = {}

    def value_with(switched: frozenset[str]) -> float:
        if switched not in cache:
            fields = {name: (after if name in switched else before).value(name) for name in FACTORS}
            state = EquityState(
                customers=int(fields["customers"]),
                margin=fields["margin"],
                retention=fields["retention"],
                discount_rate=fields["discount_rate"],
            )
            cache[switched] = value(state)
        return cache[switched]

    effects: dict[str, float] = {}
    for factor in factors:
        others = [f for f in factors if f != factor]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                switched = frozenset(subset)
                total += weight * (value_with(switched | {factor}) - value_with(switched))
        effects[factor] = total
    return effects


def equity_bridge(
    *, before: EquityState, after: EquityState, stored_start: Decimal, stored_end: Decimal,
    published_start: Decimal | None = None, restated_data: Decimal = Decimal(0),
    restated_assumptions: Decimal = Decimal(0),
) -> EquityBridge:
    """The equity bridge from the previous month to this one, summing exactly to the stored change.

    With `published_start` (the previous month is closed) the bridge starts there and steps
    through the restatement, whose two parts add up to stored_start - published_start.
    Effects are rounded to cents; whatever the recomputed change and the rounding leave
    against the stored change is the rounding step."""
    factors = moving_factors(before, after)
    raw = shapley_effects(before=before, after=after, factors=factors)
    effects = {name: Decimal(str(raw[name])).quantize(CENT) for name in factors}
    rounding = (stored_end - stored_start) - sum(effects.values(), Decimal(0))
    if published_start is None:
        return EquityBridge(start=stored_start, end=stored_end, effects=effects, rounding=rounding)
    restatement = (("restated_data", restated_data), ("restated_assumptions", restated_assumptions))
    return EquityBridge(start=published_start, end=stored_end, effects=effects, rounding=rounding,
                        restatement=restatement)
