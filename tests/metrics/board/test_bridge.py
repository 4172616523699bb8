from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.board.bridge import EquityState, customer_bridge, equity_bridge, equity_of, shapley_effects
from metrics.calculations import clv, monthly_discount_rate

D = monthly_discount_rate(0.10)


def test_the_customer_bridge_is_balanced_when_the_counts_follow_metrics_md() -> None:
    bridge = customer_bridge(customers_start=100, new_customers=20, reactivated_customers=5, churned_customers=12,
                             customers_end=113)
    assert bridge.balanced
    assert not customer_bridge(customers_start=100, new_customers=20, reactivated_customers=5, churned_customers=12,
                               customers_end=120).balanced


def test_equity_is_customers_times_the_project_clv() -> None:
    state = EquityState(customers=250, margin=40.0, retention=0.9, discount_rate=D)
    assert equity_of(state) == pytest.approx(250 * clv(40.0, 0.9, D))


def test_a_change_of_one_factor_is_all_attributed_to_it() -> None:
    before = EquityState(customers=1000, margin=40.0, retention=0.9, discount_rate=D)
    after = EquityState(customers=1000, margin=44.0, retention=0.9, discount_rate=D)
    effects = shapley_effects(before=before, after=after)
    assert effects["margin"] == pytest.approx(equity_of(after) - equity_of(before))
    assert effects["customers"] == effects["retention"] == effects["discount_rate"] == 0


def test_the_shapley_split_of_two_factors_shares_the_interaction_equally() -> None:
    # E = N x m x k with k fixed: the interaction term dN x dm is split half and half.
    before = EquityState(customers=100, margin=10.0, retention=0.5, discount_rate=0.0)
    after = EquityState(customers=200, margin=20.0, retention=0.5, discount_rate=0.0)
    k = 0.5 / (1 + 0.0 - 0.5)
    effects = shapley_effects(before=before, after=after)
    assert effects["customers"] == pytest.approx((100 * 10 + 0.5 * 100 * 10) * k)
    assert effects["margin"] == pytest.approx((100 * 10 + 0.5 * 100 * 10) * k)


def test_the_discount_rate_effect_is_negative_when_the_rate_rises() -> None:
    before = EquityState(customers=500, margin=30.0, retention=0.92, discount_rate=monthly_discount_rate(0.08))
    after = EquityState(customers=500, margin=30.0, retention=0.92, discount_rate=monthly_discount_rate(0.12))
    assert shapley_effects(before=before, after=after)["discount_rate"] < 0


@given(
    n0=st.integers(0, 100_000), n1=st.integers(0, 100_000),
    m0=st.floats(-50, 500), m1=st.floats(-50, 500),
    r0=st.floats(0, 0.99), r1=st.floats(0, 0.99),
    a0=st.floats(0, 0.5), a1=st.floats(0, 0.5),
)
def test_the_four_effects_add_up_exactly_to_the_change_in_equity(
    n0: int, n1: int, m0: float, m1: float, r0: float, r1: float, a0: float, a1: float
) -> None:
    before = EquityState(customers=n0, margin=m0, retention=r0, discount_rate=monthly_discount_rate(a0))
    after = EquityState(customers=n1, margin=m1, retention=r1, discount_rate=monthly_discount_rate(a1))
    effects = shapley_effects(before=before, after=after)
    change = equity_of(after) - equity_of(before)
    assert sum(effects.values()) == pytest.approx(change, rel=1e-9, abs=1e-6)

    stored_start = Decimal(str(round(equity_of(before), 2)))
    stored_end = Decimal(str(round(equity_of(after), 2)))
    bridge = equity_bridge(before=before, after=after, stored_start=stored_start, stored_end=stored_end)
    # With cents and the rounding step, the waterfall lands exactly on the stored equity.
    assert bridge.start + sum(amount for _name, amount in bridge.steps()) == stored_end
    assert abs(bridge.rounding) <= Decimal("0.05")


def test_the_rounding_step_absorbs_what_stored_rounding_leaves() -> None:
    before = EquityState(customers=1000, margin=40.004, retention=0.9, discount_rate=D)
    after = EquityState(customers=1010, margin=40.0, retention=0.91, discount_rate=D)
    # Stored values rounded to whole cents of the rounded CLV, as a recompute might store them.
    start = Decimal(str(round(clv(40.004, 0.9, D), 2))) * 1000
    end = Decimal(str(round(clv(40.0, 0.91, D), 2))) * 1010
    bridge = equity_bridge(before=before, after=after, stored_start=start, stored_end=end)
    # Same discount rate in both months: its factor is left out (it is always zero there).
    assert [name for name, _a in bridge.steps()][:3] == ["customers", "margin", "retention"]
    assert "discount_rate" not in dict(bridge.steps())
    assert bridge.start + sum(a for _n, a in bridge.steps()) == end
    assert bridge.change == end - start


def test_the_bridge_of_a_closed_previous_month_starts_from_its_published_equity() -> None:
    before = EquityState(customers=1000, margin=40.0, retention=0.9, discount_rate=D)
    after = EquityState(customers=1010, margin=41.0, retention=0.9, discount_rate=D)
    current_start = Decimal(str(round(equity_of(before), 2)))
    end = Decimal(str(round(equity_of(after), 2)))
    published = Decimal("350000.00")
    data, assumptions = Decimal("2500.25"), current_start - published - Decimal("2500.25")
    bridge = equity_bridge(before=before, after=after, stored_start=current_start, stored_end=end,
                           published_start=published, restated_data=data, restated_assumptions=assumptions)
    steps = bridge.steps()
    assert bridge.from_published and bridge.start == published
    assert steps[:2] == [("restated_data", data), ("restated_assumptions", assumptions)]
    assert [n for n, _a in steps[2:5]] == ["customers", "margin", "retention"]
    assert published + sum(a for _n, a in steps) == end


def test_a_discount_rate_that_differs_between_the_months_keeps_its_factor() -> None:
    before = EquityState(customers=500, margin=30.0, retention=0.92, discount_rate=monthly_discount_rate(0.08))
    after = EquityState(customers=500, margin=30.0, retention=0.92, discount_rate=monthly_discount_rate(0.12))
    start, end = Decimal(str(round(equity_of(before), 2))), Decimal(str(round(equity_of(after), 2)))
    bridge = equity_bridge(before=before, after=after, stored_start=start, stored_end=end)
    assert dict(bridge.steps())["discount_rate"] < 0
