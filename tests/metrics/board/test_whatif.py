from __future__ import annotations

import pytest

from metrics.board.whatif import (
    ERROR_DISCOUNT,
    ERROR_MARGIN,
    ERROR_NOT_A_NUMBER,
    ERROR_RETENTION,
    WHATIF_METRICS,
    MonthCounts,
    WhatIfError,
    WhatIfInputs,
    equity_sensitivity,
    whatif_compute,
    whatif_figures,
    whatif_validate,
)
from metrics.calculations import clv, monthly_discount_rate

COUNTS = MonthCounts(customers_end=1200, new_customers=150, retained_customers=1000, acquisition_cost=30_000.0,
                     retention_cost=8_000.0, cac=200.0)


def test_the_whatif_at_the_stored_inputs_gives_the_formula_of_metrics_md() -> None:
    inputs = WhatIfInputs(retention=0.9, margin_per_customer=40.0, annual_discount_rate=0.10)
    result = whatif_compute(inputs=inputs, counts=COUNTS)
    d = monthly_discount_rate(0.10)
    expected = 40.0 * 0.9 / (1 + d - 0.9)
    assert result.clv == pytest.approx(expected)
    assert result.clv == clv(40.0, 0.9, d)
    assert result.customer_equity == pytest.approx(expected * 1200)
    assert result.acquisition_equity == pytest.approx(150 * expected - 30_000)
    assert result.retention_equity == pytest.approx(1000 * expected - 8_000)
    assert result.clv_to_cac == pytest.approx(expected / 200)


def test_without_new_customers_there_is_no_clv_to_cac() -> None:
    counts = MonthCounts(customers_end=10, new_customers=0, retained_customers=10, acquisition_cost=0.0,
                         retention_cost=0.0, cac=None)
    inputs = WhatIfInputs(retention=0.9, margin_per_customer=40.0, annual_discount_rate=0.10)
    assert whatif_compute(inputs=inputs, counts=counts).clv_to_cac is None


@pytest.mark.parametrize(
    ("retention", "margin", "discount", "error"),
    [
        ("100", "40", "10", ERROR_RETENTION),
        ("-0.1", "40", "10", ERROR_RETENTION),
        ("nan", "40", "10", ERROR_RETENTION),
        ("90", "40", "150", ERROR_DISCOUNT),
        ("90", "1e12", "10", ERROR_MARGIN),
        ("90", "nan", "10", ERROR_MARGIN),
        ("ninety", "40", "10", ERROR_NOT_A_NUMBER),
        (None, "40", "10", ERROR_NOT_A_NUMBER),
    ],
)
def test_bad_whatif_input_says_how_to_fix_it(retention: object, margin: object, discount: object, error: object) -> None:
    with pytest.raises(WhatIfError) as caught:
        whatif_validate(retention_percent=retention, margin_per_customer=margin, annual_discount_rate_percent=discount)
    assert str(caught.value) == str(error)


def test_whatif_inputs_are_read_in_percent() -> None:
    inputs = whatif_validate(retention_percent="97.5", margin_per_customer=" 40.5 ", annual_discount_rate_percent="12")
    assert inputs == WhatIfInputs(retention=0.975, margin_per_customer=40.5, annual_discount_rate=0.12)
    assert whatif_validate(retention_percent="99.9", margin_per_customer="0",
                           annual_discount_rate_percent="100").retention == pytest.approx(0.999)


def test_the_messages_speak_in_percent() -> None:
    for message in (ERROR_RETENTION, ERROR_DISCOUNT):
        assert "percentage" in str(message) and "share" not in str(message)
    assert "99.9" in str(ERROR_RETENTION) and "0.999" not in str(ERROR_RETENTION)


def test_whatif_figures_pair_each_changed_tile_with_its_stored_figure() -> None:
    inputs = WhatIfInputs(retention=0.95, margin_per_customer=40.0, annual_discount_rate=0.10)
    result = whatif_compute(inputs=inputs, counts=COUNTS)
    stored = {"customer_equity": "100000.00", "clv": "80.00", "retention_rate": 0.9, "acquisition_equity": "-18000.00",
              "retention_equity": "72000.00", "clv_to_cac": None}
    figures = {f.metric: f for f in whatif_figures(inputs=inputs, result=result, stored=stored, retention_moved=True)}
    assert list(figures) == list(WHATIF_METRICS)
    assert figures["retention_rate"].value == 0.95 and figures["retention_rate"].difference == pytest.approx(0.05)
    assert figures["customer_equity"].difference == pytest.approx(result.customer_equity - 100_000)
    assert figures["clv_to_cac"].difference is None  # nothing stored to compare with
    kept = whatif_figures(inputs=inputs, result=result, stored=stored, retention_moved=False)
    assert "retention_rate" not in {f.metric for f in kept}


def test_the_tornado_moves_each_input_alone_and_puts_the_widest_first() -> None:
    inputs = WhatIfInputs(retention=0.9, margin_per_customer=40.0, annual_discount_rate=0.10)
    rows = equity_sensitivity(inputs=inputs, customers_end=1000)
    assert [r.name for r in rows] == sorted([r.name for r in rows], key=lambda n: -next(x.spread for x in rows if x.name == n))
    by_name = {r.name: r for r in rows}
    # Near r = 0.9 one point of retention weighs more than 10% of margin.
    assert rows[0].name == "retention"
    assert by_name["retention"].low_input == pytest.approx(0.89) and by_name["retention"].high_input == pytest.approx(0.91)
    assert by_name["margin"].low_change == pytest.approx(-by_name["margin"].high_change)  # linear in margin
    assert by_name["discount_rate"].high_change < 0 < by_name["discount_rate"].low_change
    base = 1000 * clv(40.0, 0.9, monthly_discount_rate(0.10))
    assert by_name["margin"].base_equity == pytest.approx(base)


def test_the_tornado_keeps_inputs_within_their_bounds() -> None:
    inputs = WhatIfInputs(retention=0.995, margin_per_customer=40.0, annual_discount_rate=0.0)
    by_name = {r.name: r for r in equity_sensitivity(inputs=inputs, customers_end=10)}
    assert by_name["retention"].high_input == 0.999
    assert by_name["discount_rate"].low_input == 0.0
