"""METRICS.md v2 retention, worked by hand: observable months, the exposure E, the credibility
weight k, and the three retention sources.

Every expected number below is written out as arithmetic on the inputs, not computed by the
code under test. Months are indexes; F (the first data month) is 0, W = 2, so months 0 and 1 are
the warm-up and month 2 is the first observable month. L = 3. Assumed retention (the company's
prior) 0.9.
"""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.calculations import (
    Assumptions,
    Prior,
    credible_rate,
    leans_on_prior,
    snapshot_metrics,
    warm_up_end,
)

D = 0.007974140428903764  # 1.1 ** (1/12) - 1


def _assumptions(k: int, source: str = "measured") -> Assumptions:
    return Assumptions(annual_discount_rate=0.10, activity_window=2, retention_source=source,
                       assumed_monthly_retention=0.9, smoothing_window=3, default_gross_margin_rate=0.3,
                       credibility_weight=k)


def _frame(start: list[int], churned: list[int], end: list[int], margin: list[float]) -> pd.DataFrame:
    n = len(start)
    new = [e - s + c for s, c, e in zip(start, churned, end, strict=True)]  # no reactivations here
    return pd.DataFrame({
        "month": list(range(n)), "customers_start": start, "customers_end": end, "new_customers": new,
        "reactivated_customers": [0] * n, "churned_customers": churned, "revenue": margin, "gross_margin": margin,
        "acquisition_cost": [0.0] * n, "retention_cost": [0.0] * n,
    })


# A company of 400 customers: retained 400-10, 395-5, ... per month.
COMPANY = _frame(start=[0, 400, 400, 400, 400], churned=[0, 0, 10, 20, 30], end=[400, 400, 400, 400, 400],
                 margin=[4000.0] * 5)


def test_warm_up_ends_at_f_plus_w() -> None:
    assert warm_up_end(first_data_month=0, activity_window=2) == 2
    assert warm_up_end(first_data_month=24290, activity_window=12) == 24302


def test_first_observable_month_measures_on_itself_only_with_k_zero() -> None:
    rows = snapshot_metrics(COMPANY, assumptions=_assumptions(0), first_data_month=0)
    # Warm-up: months 0 and 1, prior (0.9), no monthly retention although month 1 had 400 at its start.
    assert [(r.retention_rate, r.retention_source, r.retention_exposure) for r in rows[:2]] == [
        (0.9, "assumed", 0), (0.9, "assumed", 0)]
    assert rows[1].monthly_retention is None
    # Month 2: the window 0..2 straddles F + W; R = 390, E = 400.
    assert rows[2].retention_rate == pytest.approx(390 / 400, abs=1e-15)
    assert rows[2].retention_source == "measured" and rows[2].retention_exposure == 400
    # Month 3: window 1..3, observable 2 and 3: R = 390 + 380, E = 800.
    assert rows[3].retention_rate == pytest.approx(770 / 800, abs=1e-15)
    # Month 4: window 2..4, all observable: R = 390 + 380 + 370, E = 1200.
    assert rows[4].retention_rate == pytest.approx(1140 / 1200, abs=1e-15)
    assert rows[4].retention_exposure == 1200


def test_k_100_pulls_the_company_towards_the_assumed_retention() -> None:
    rows = snapshot_metrics(COMPANY, assumptions=_assumptions(100), first_data_month=0)
    # r = (R + k x 0.9) / (E + k)
    assert rows[2].retention_rate == pytest.approx((390 + 100 * 0.9) / (400 + 100), abs=1e-15)  # 0.96
    assert rows[3].retention_rate == pytest.approx((770 + 90) / (800 + 100), abs=1e-15)
    assert rows[4].retention_rate == pytest.approx((1140 + 90) / (1200 + 100), abs=1e-15)
    # CLV follows r: m = 4000 x 3 / 1200 = 10 in month 4 (L = 3 months of margin over customers_end).
    r = 1230 / 1300
    assert rows[4].clv == pytest.approx(10 * r / (1 + D - r), abs=1e-9)
    # Warm-up months are unchanged by k: nothing is measured there.
    assert rows[1].retention_rate == 0.9


def test_the_company_with_a_handful_of_customers_leans_on_the_prior() -> None:
    tiny = _frame(start=[0, 3, 3, 3], churned=[0, 0, 0, 0], end=[3, 3, 3, 3], margin=[30.0] * 4)
    with_k = snapshot_metrics(tiny, assumptions=_assumptions(100), first_data_month=0)
    without_k = snapshot_metrics(tiny, assumptions=_assumptions(0), first_data_month=0)
    # Nobody lapsed: k = 0 measures 100% (and an absurd CLV); k = 100 gives (6 + 90) / (6 + 100).
    assert without_k[3].retention_rate == 1.0
    assert with_k[3].retention_rate == pytest.approx((3 + 3 + 100 * 0.9) / (3 + 3 + 100), abs=1e-15)
    assert with_k[3].retention_exposure == 6
    assert leans_on_prior(exposure=6, credibility_weight=100)
    assert not leans_on_prior(exposure=1000, credibility_weight=100)
    assert not leans_on_prior(exposure=6, credibility_weight=0)


def test_a_segment_leans_on_the_companys_rate_of_the_same_month() -> None:
    prior = Prior(rate={0: 0.9, 1: 0.9, 2: 0.95, 3: 0.96}, source={0: "assumed", 1: "assumed", 2: "measured", 3: "measured"})
    segment = _frame(start=[0, 2, 2, 2], churned=[0, 0, 1, 0], end=[2, 2, 2, 2], margin=[20.0] * 4)
    rows = snapshot_metrics(segment, assumptions=_assumptions(100), first_data_month=0, prior=prior)
    # Warm-up: the company's r is assumed there, so the segment's source is assumed too.
    assert [(r.retention_rate, r.retention_source) for r in rows[:2]] == [(0.9, "assumed"), (0.9, "assumed")]
    # Month 2: R = 1, E = 2, prior 0.95: (1 + 95) / (2 + 100).
    assert rows[2].retention_rate == pytest.approx((1 + 100 * 0.95) / (2 + 100), abs=1e-15)
    assert rows[2].retention_source == "measured"
    # Month 3: R = 1 + 2, E = 4, prior 0.96.
    assert rows[3].retention_rate == pytest.approx((3 + 96) / (4 + 100), abs=1e-15)


def test_a_segment_with_no_exposure_takes_the_companys_rate_with_source_company() -> None:
    prior = Prior(rate={0: 0.9, 1: 0.9, 2: 0.95}, source={0: "assumed", 1: "assumed", 2: "measured"})
    # Customers only from month 2 on: nobody at the start of an observable month yet.
    segment = _frame(start=[0, 0, 0], churned=[0, 0, 0], end=[0, 0, 5], margin=[0.0, 0.0, 50.0])
    for k in (0, 100):
        rows = snapshot_metrics(segment, assumptions=_assumptions(k), first_data_month=0, prior=prior)
        assert rows[2].retention_exposure == 0
        assert (rows[2].retention_rate, rows[2].retention_source) == (0.95, "company")
        assert rows[1].retention_source == "assumed"


def test_the_assumed_source_has_no_exposure_and_ignores_k() -> None:
    rows = snapshot_metrics(COMPANY, assumptions=_assumptions(100, source="assumed"), first_data_month=0)
    assert {(r.retention_rate, r.retention_source, r.retention_exposure) for r in rows} == {(0.9, "assumed", 0)}


def test_credible_rate_without_exposure_or_weight_is_the_prior() -> None:
    assert credible_rate(0, 0, prior=0.8, weight=0) == 0.8
    assert credible_rate(5, 10, prior=0.8, weight=0) == 0.5
    assert credible_rate(5, 10, prior=0.8, weight=10) == pytest.approx((5 + 8) / 20)
