"""The pure formulas, with inputs worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.calculations import (
    ERROR_MONTHS_NOT_CONSECUTIVE,
    ERROR_RETENTION_NOT_BELOW_ONE_PLUS_D,
    Assumptions,
    allocate_cents,
    clv,
    monthly_discount_rate,
    segment_costs,
    snapshot_metrics,
)

ASSUMPTIONS = Assumptions(
    annual_discount_rate=0.10, activity_window=2, retention_source="measured",
    assumed_monthly_retention=0.9, smoothing_window=3, default_gross_margin_rate=0.3, credibility_weight=0,
)


def _frame(**columns: list[float]) -> pd.DataFrame:
    n = len(columns["month"])
    base: dict[str, list[float]] = {k: [0] * n for k in [
        "customers_start", "customers_end", "new_customers", "reactivated_customers", "churned_customers",
        "revenue", "gross_margin", "acquisition_cost", "retention_cost"]}
    base.update(columns)
    return pd.DataFrame(base)


def test_monthly_discount_rate_compounds_to_the_annual_rate() -> None:
    assert monthly_discount_rate(0.10) == pytest.approx(0.007974140428903764, abs=1e-15)  # 1.1 ** (1/12) - 1
    assert monthly_discount_rate(0.0) == 0.0
    assert (1 + monthly_discount_rate(0.25)) ** 12 == pytest.approx(1.25, abs=1e-12)


def test_clv_is_margin_times_retention_over_one_plus_d_minus_r() -> None:
    assert clv(100.0, 0.9, 0.01) == pytest.approx(100 * 0.9 / 0.11, abs=1e-9)  # 818.1818...
    assert clv(10.0, 0.0, 0.01) == 0.0
    with pytest.raises(ValueError, match="below 1"):
        clv(10.0, 1.0, 0.0)


def test_largest_remainder_allocation_adds_up_to_the_cent() -> None:
    assert list(allocate_cents(1000, [1, 1, 1])) == [334, 333, 333]
    assert list(allocate_cents(1000, [2, 0, 1])) == [667, 0, 333]
    assert list(allocate_cents(-1000, [1, 1, 1])) == [-334, -333, -333]
    assert list(allocate_cents(500, [0, 0])) == [0, 0]


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 10**5), min_size=1, max_size=12))
def test_allocation_always_adds_up_when_someone_has_weight(total: int, weights: list[int]) -> None:
    parts = allocate_cents(total, weights)
    assert int(parts.sum()) == (total if sum(weights) else 0)
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


def test_segment_costs_add_tagged_costs_to_the_share_of_untagged_ones() -> None:
    weights = pd.DataFrame({"scope": ["N", "S", "N", "S"], "month": [1, 1, 2, 2],
                            "new_customers": [3, 1, 0, 0], "customers_start": [0, 0, 1, 3]})
    costs = segment_costs(
        weights=weights, tagged={("N", 1, "acquisition"): 500},
        untagged={(1, "acquisition"): 1000, (2, "acquisition"): 700, (2, "retention"): 400},
    )
    # Month 1: N 500 tagged + 1000 x 3/4; S 1000 x 1/4. Month 2: no new customers -> the 700 stays
    # with the company; retention 400 by start 1:3.
    assert costs.to_dict("records") == [
        {"scope": "N", "month": 1, "acquisition_cost": 1250, "retention_cost": 0},
        {"scope": "S", "month": 1, "acquisition_cost": 250, "retention_cost": 0},
        {"scope": "N", "month": 2, "acquisition_cost": 0, "retention_cost": 100},
        {"scope": "S", "month": 2, "acquisition_cost": 0, "retention_cost": 300},
    ]


def test_measured_retention_waits_for_the_activity_window_and_smooths_over_l_months() -> None:
    # Months 10..13, first data month 10, W = 2: months 10 and 11 are the warm-up, 12 the first
    # observable month. L = 3; k = 0, so r = R / E over the observable months of the window.
    frame = _frame(
        month=[10, 11, 12, 13], customers_start=[0, 4, 5, 5], customers_end=[4, 5, 5, 4],
        new_customers=[4, 1, 1, 0], churned_customers=[0, 0, 1, 1], gross_margin=[40.0, 50.0, 30.0, 20.0],
        acquisition_cost=[80.0, 0.0, 30.0, 10.0], retention_cost=[0.0, 5.0, 0.0, 0.0],
    )
    rows = snapshot_metrics(frame, assumptions=ASSUMPTIONS, first_data_month=10)
    assert [r.retention_source for r in rows] == ["assumed", "assumed", "measured", "measured"]
    # retained = start - churned: 0, 4, 4, 4
    assert [r.retained_customers for r in rows] == [0, 4, 4, 4]
    # Month 12: the window 10..12 straddles F + W; only 12 counts: R = 4, E = 5.
    assert rows[2].retention_rate == pytest.approx(4 / 5, abs=1e-12)
    # Month 13: window 11..13, observable 12 and 13: R = 4 + 4, E = 5 + 5.
    assert rows[3].retention_rate == pytest.approx(8 / 10, abs=1e-12)
    assert [r.retention_exposure for r in rows] == [0, 0, 5, 10]
    assert rows[0].margin_per_customer == pytest.approx(40 / 4)
    assert rows[2].margin_per_customer == pytest.approx((40 + 50 + 30) / (4 + 5 + 5))  # 120/14
    assert rows[3].margin_per_customer == pytest.approx((50 + 30 + 20) / (5 + 5 + 4))  # 100/14
    d = 0.007974140428903764
    assert rows[1].clv == pytest.approx((90 / 9) * 0.9 / (1 + d - 0.9), abs=1e-9)  # m = (40+50)/(4+5)
    # Warm-up months have no monthly retention, although month 11 had customers at its start.
    assert rows[0].monthly_retention is None and rows[1].monthly_retention is None
    assert rows[2].monthly_retention == pytest.approx(4 / 5)
    assert rows[0].cac == 20.0 and rows[1].cac == 0.0 and rows[1].clv_to_cac is None and rows[3].cac is None
    assert rows[2].acquisition_equity == pytest.approx(1 * rows[2].clv - 30.0)
    assert rows[1].retention_equity == pytest.approx(4 * rows[1].clv - 5.0)
    assert rows[3].customer_equity == pytest.approx(4 * rows[3].clv)


def test_assumed_source_ignores_the_measured_retention() -> None:
    frame = _frame(month=[0, 1, 2, 3], customers_start=[0, 2, 2, 2], customers_end=[2, 2, 2, 2],
                   new_customers=[2, 0, 0, 0], gross_margin=[10.0, 10.0, 10.0, 10.0])
    assumed = Assumptions(**{**ASSUMPTIONS.__dict__, "retention_source": "assumed"})
    rows = snapshot_metrics(frame, assumptions=assumed, first_data_month=0)
    assert {r.retention_rate for r in rows} == {0.9} and {r.retention_source for r in rows} == {"assumed"}


def test_a_window_without_customers_gives_zero_margin_and_assumed_retention() -> None:
    rows = snapshot_metrics(_frame(month=[5, 6, 7]), assumptions=ASSUMPTIONS, first_data_month=0)
    assert [(r.margin_per_customer, r.retention_rate, r.retention_source, r.clv) for r in rows] == [
        (0.0, 0.9, "assumed", 0.0)] * 3


def test_full_retention_with_a_zero_discount_rate_is_refused_with_a_clear_error() -> None:
    frame = _frame(month=[0, 1, 2], customers_start=[0, 1, 1], customers_end=[1, 1, 1], new_customers=[1, 0, 0])
    zero = Assumptions(**{**ASSUMPTIONS.__dict__, "annual_discount_rate": 0.0})
    with pytest.raises(ValueError, match="discount rate above 0"):
        snapshot_metrics(frame, assumptions=zero, first_data_month=0)
    assert "discount rate above 0" in ERROR_RETENTION_NOT_BELOW_ONE_PLUS_D


def test_months_must_be_consecutive() -> None:
    with pytest.raises(ValueError, match=ERROR_MONTHS_NOT_CONSECUTIVE):
        snapshot_metrics(_frame(month=[1, 3]), assumptions=ASSUMPTIONS, first_data_month=0)


@given(
    m=st.floats(0.01, 1e5), r1=st.floats(0.0, 0.98), r2=st.floats(0.0, 0.98), a1=st.floats(0.0, 1.0),
    a2=st.floats(0.0, 1.0),
)
def test_clv_rises_with_retention_and_falls_with_the_discount_rate(m: float, r1: float, r2: float, a1: float, a2: float) -> None:
    d = monthly_discount_rate(0.1)
    low, high = sorted([r1, r2])
    assert clv(m, low, d) <= clv(m, high, d)
    cheap, dear = sorted([a1, a2])
    assert clv(m, 0.8, monthly_discount_rate(dear)) <= clv(m, 0.8, monthly_discount_rate(cheap))


def test_amounts_become_cents_half_away_from_zero() -> None:
    from metrics.calculations import to_cents

    amounts = np.asarray([1.005, -1.005, 0.004, 2.675, -0.125, 1234567.89])
    assert list(to_cents(amounts)) == [101, -101, 0, 268, -13, 123456789]


def test_trailing_sums_cover_the_window_ending_at_each_month() -> None:
    from metrics.calculations import trailing_sum

    assert list(trailing_sum(np.asarray([1, 2, 3, 4, 5]), 3)) == [1, 3, 6, 9, 12]
    assert list(trailing_sum(np.asarray([4, 5]), 12)) == [4, 9]
