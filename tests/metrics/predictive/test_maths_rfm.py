from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from metrics.predictive.maths import RFM_COLUMNS, ModelFitError, rfm_summary
from metrics.predictive.maths.errors import INVALID_INPUT

from .cdnow import CALIBRATION_END, published_inputs_by_hand, sample_transactions


def _summary(rows: list[tuple], *, end: dt.date = dt.date(2024, 12, 31), rate: float = 0.3) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "revenue", "cost"])
    return rfm_summary(frame, observation_end=end, default_margin_rate=rate)


def test_rfm_summary_reproduces_the_published_cdnow_inputs() -> None:
    summary = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    expected = published_inputs_by_hand()
    assert len(summary) == len(expected) == 2357
    assert int((summary["frequency"] > 0).sum()) == 946
    by_hand = pd.DataFrame.from_dict(expected, orient="index", columns=["frequency", "recency", "T", "monetary_value"])
    by_hand = by_hand.loc[summary.index]
    assert (summary["frequency"].to_numpy() == by_hand["frequency"].to_numpy()).all()
    np.testing.assert_allclose(summary["recency"], by_hand["recency"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(summary["T"], by_hand["T"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(summary["monetary_value"], by_hand["monetary_value"], rtol=1e-12, atol=1e-9)


def test_the_published_example_customer_has_two_repeat_purchases_at_30_43_weeks_of_38_86() -> None:
    summary = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    first = summary.loc[1]
    assert first["frequency"] == 2
    assert round(first["recency"], 2) == 30.43
    assert round(first["T"], 2) == 38.86


def test_same_day_purchases_are_one_purchase_day_with_their_values_summed() -> None:
    d = dt.date
    s = _summary([
        ("A", d(2024, 1, 1), 10.0, None),
        ("A", d(2024, 1, 15), 20.0, None),
        ("A", d(2024, 1, 15), 30.0, None),
    ])
    row = s.loc["A"]
    assert row["frequency"] == 1
    assert row["recency"] == 2.0
    assert row["monetary_value"] == 50.0


def test_a_refund_is_never_a_purchase_and_is_netted_from_spend() -> None:
    d = dt.date
    s = _summary([
        ("A", d(2024, 1, 1), 100.0, 60.0),
        ("A", d(2024, 2, 1), 100.0, 60.0),
        ("A", d(2024, 3, 1), -50.0, -30.0),
    ])
    row = s.loc["A"]
    assert row["frequency"] == 1  # the refund day is not a purchase day
    assert row["last_purchase"] == d(2024, 2, 1)
    assert row["refunds"] == -50.0
    # 25% of what was bought came back: the repeat purchase of 100 counts as 75.
    assert row["monetary_value"] == pytest.approx(75.0)
    assert row["historic_margin"] == pytest.approx(80.0 - 20.0)
    assert row["margin_rate"] == pytest.approx(0.4)


def test_refunds_bigger_than_purchases_give_zero_spend_and_a_negative_margin() -> None:
    d = dt.date
    s = _summary([
        ("A", d(2024, 1, 1), 100.0, None),
        ("A", d(2024, 2, 1), 50.0, None),
        ("A", d(2024, 3, 1), -400.0, None),
    ])
    row = s.loc["A"]
    assert row["monetary_value"] == 0.0
    assert row["historic_margin"] == pytest.approx(-250.0 * 0.3)
    assert row["historic_revenue"] == pytest.approx(-250.0)


def test_a_zero_value_order_is_a_purchase_with_zero_spend() -> None:
    d = dt.date
    s = _summary([("A", d(2024, 1, 1), 0.0, None), ("A", d(2024, 1, 8), 0.0, None)])
    row = s.loc["A"]
    assert row["frequency"] == 1
    assert row["monetary_value"] == 0.0
    assert row["margin_rate"] == 0.3  # no purchase value to measure their own rate on


def test_a_customer_with_only_refunds_has_no_first_purchase_and_is_left_out() -> None:
    d = dt.date
    s = _summary([("A", d(2024, 1, 1), 10.0, None), ("B", d(2024, 1, 5), -10.0, None)])
    assert list(s.index) == ["A"]


@pytest.mark.parametrize("rows", [
    [("B", dt.date(2024, 1, 5), -10.0, None)],  # refunds only
    [("A", dt.date(2025, 2, 1), 10.0, None)],  # every purchase after the end (a model check's early split)
    [],
])
def test_no_purchase_before_the_end_gives_an_empty_summary(rows: list[tuple]) -> None:
    s = _summary(rows)
    assert s.empty and list(s.columns) == RFM_COLUMNS


def test_transactions_after_the_observation_end_are_ignored() -> None:
    d = dt.date
    s = _summary([("A", d(2024, 1, 1), 10.0, None), ("A", d(2024, 6, 1), 10.0, None)], end=d(2024, 3, 1))
    row = s.loc["A"]
    assert row["frequency"] == 0
    assert row["T"] == (d(2024, 3, 1) - d(2024, 1, 1)).days / 7
    assert list(s.columns) == RFM_COLUMNS


def test_a_missing_column_is_a_clear_error() -> None:
    frame = pd.DataFrame({"customer_id": [1], "revenue": [1.0]})
    with pytest.raises(ModelFitError) as error:
        rfm_summary(frame, observation_end=dt.date(2024, 1, 1), default_margin_rate=0.3)
    assert str(error.value) == INVALID_INPUT.format(detail="transactions lack the column(s) order_date")
