"""The customer's purchase chart: bars one day wide, the amount axis in the currency."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.test import override_settings
from django.utils import translation

from metrics.predictive.charts import DAY_MS, purchase_history_figure


def _daily() -> pd.DataFrame:
    return pd.DataFrame({"day": [dt.date(2024, 1, 5), dt.date(2024, 3, 20)], "purchases": [120.0, 80.5],
                         "refunds": [0.0, -20.0]})


def test_purchase_bars_are_at_most_a_day_wide_on_a_date_axis() -> None:
    figure = purchase_history_figure(_daily())
    assert figure["layout"]["xaxis"]["type"] == "date"
    for trace in figure["data"]:
        assert len(trace["width"]) == len(trace["x"]) == 2
        assert all(0 < w <= DAY_MS for w in trace["width"])


@override_settings(CLV_CURRENCY="CNY")
def test_the_amount_axis_names_the_currency_in_both_languages() -> None:
    with translation.override("en"):
        assert purchase_history_figure(_daily())["layout"]["yaxis"]["title"]["text"] == "Amount (CNY)"
    with translation.override("zh-hans"):
        assert purchase_history_figure(_daily())["layout"]["yaxis"]["title"]["text"] == "金额（CNY）"
