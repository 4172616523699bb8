from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from customers.models import Customer
from metrics.predictive import selectors
from metrics.predictive.maths import rfm_summary
from tests.factories import CustomerFactory, TransactionFactory

from .cdnow import CALIBRATION_END, published_inputs_by_hand, sample_transactions
from .db import cdnow_load

pytestmark = pytest.mark.django_db


def _assert_same_summary(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert list(left.index) == list(right.index)
    assert (left["frequency"].to_numpy() == right["frequency"].to_numpy()).all()
    assert list(left["first_purchase"]) == list(right["first_purchase"])
    assert list(left["last_purchase"]) == list(right["last_purchase"])
    for column in ("recency", "T", "monetary_value", "purchase_revenue", "repeat_revenue", "refunds",
                   "historic_revenue", "historic_margin", "purchase_margin", "margin_rate"):
        np.testing.assert_allclose(left[column], right[column], rtol=1e-9, atol=1e-9, err_msg=column)


@pytest.mark.postgres
def test_sql_rfm_summary_reproduces_the_published_cdnow_inputs() -> None:
    pk_of = cdnow_load()
    summary = selectors.rfm_summary_sql(observation_end=CALIBRATION_END, default_margin_rate=0.3)
    assert len(summary) == 2357
    expected = published_inputs_by_hand()
    for sample_id, (frequency, t_x, big_t, mean_spend) in expected.items():
        row = summary.loc[pk_of[sample_id]]
        assert row["frequency"] == frequency
        assert row["recency"] == pytest.approx(t_x, abs=1e-12)
        assert row["T"] == pytest.approx(big_t, abs=1e-12)
        assert row["monetary_value"] == pytest.approx(mean_spend, rel=1e-12, abs=1e-9)
    # The same numbers as the pure path on the file itself.
    pure = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    pure.index = [pk_of[i] for i in pure.index]
    _assert_same_summary(summary, pure.sort_index())


def _mixed_history() -> None:
    d = dt.date
    a = CustomerFactory(external_id="A")
    b = CustomerFactory(external_id="B")
    c = CustomerFactory(external_id="C")
    TransactionFactory(customer=a, order_date=d(2024, 1, 1), revenue=Decimal("100"), cost=Decimal("70"))
    TransactionFactory(customer=a, order_date=d(2024, 2, 1), revenue=Decimal("30"), cost=None)
    TransactionFactory(customer=a, order_date=d(2024, 2, 1), revenue=Decimal("20"), cost=None)
    TransactionFactory(customer=a, order_date=d(2024, 3, 1), revenue=Decimal("-40"), cost=Decimal("-20"))
    TransactionFactory(customer=b, order_date=d(2024, 1, 5), revenue=Decimal("10"), cost=None)
    TransactionFactory(customer=b, order_date=d(2024, 2, 5), revenue=Decimal("-90"), cost=None)
    TransactionFactory(customer=b, order_date=d(2024, 9, 5), revenue=Decimal("50"), cost=None)  # after the end
    TransactionFactory(customer=c, order_date=d(2024, 1, 9), revenue=Decimal("-5"), cost=None)  # only a refund


@pytest.mark.postgres
def test_sql_and_pandas_paths_agree_on_refunds_costs_and_same_day_purchases() -> None:
    _mixed_history()
    end = dt.date(2024, 6, 30)
    sql = selectors.rfm_summary_sql(observation_end=end, default_margin_rate=0.25)
    pandas_path = selectors.rfm_summary_pandas(observation_end=end, default_margin_rate=0.25)
    _assert_same_summary(sql, pandas_path)
    a = Customer.objects.get(external_id="A").pk
    assert sql.loc[a, "frequency"] == 1
    assert sql.loc[a, "historic_margin"] == pytest.approx(30 + 50 * 0.25 - 20)
    assert Customer.objects.get(external_id="C").pk not in sql.index


def test_pandas_path_gives_one_row_per_customer_with_a_purchase() -> None:
    _mixed_history()
    summary = selectors.rfm_summary_pandas(observation_end=dt.date(2024, 6, 30), default_margin_rate=0.25)
    assert sorted(Customer.objects.filter(pk__in=summary.index).values_list("external_id", flat=True)) == ["A", "B"]
    b = Customer.objects.get(external_id="B").pk
    assert summary.loc[b, "frequency"] == 0
    assert summary.loc[b, "historic_margin"] == pytest.approx(-80 * 0.25)


def test_the_data_date_is_the_latest_transaction() -> None:
    assert selectors.transactions_data_date() is None
    _mixed_history()
    assert selectors.transactions_data_date() == dt.date(2024, 9, 5)
