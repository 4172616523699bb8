"""The customer page's charts: purchases one day wide, amounts in the currency, dates as days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django.utils import translation

from metrics.predictive.charts import DAY_MS, purchase_history_figure


def daily() -> pd.DataFrame:
    return pd.DataFrame({
        "day": [dt.date(2024, 3, 1), dt.date(2024, 9, 14)],
        "purchases": [25_000.0, 120.5],
        "refunds": [0.0, -30.0],
        "is_purchase": [True, True],
    })


def test_a_purchase_bar_is_one_day_wide_and_its_amount_has_the_currency(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    with translation.override("en"):
        figure = purchase_history_figure(daily())
    purchases, refunds = figure["data"]
    assert purchases["width"] == [DAY_MS * 0.8, DAY_MS * 0.8]
    assert purchases["customdata"] == ["¥25,000.00", "¥120.50"]
    assert refunds["customdata"] == ["¥0.00", "\u2212¥30.00"]
    assert "%{x|%Y-%m-%d}" in purchases["hovertemplate"]
    layout = figure["layout"]
    assert layout["yaxis"]["title"]["text"] == "Amount (CNY)"
    assert all(t.startswith(("¥", "\u2212¥")) for t in layout["yaxis"]["ticktext"])
    assert layout["xaxis"]["tickformat"] == "%Y-%m-%d"


def test_the_chinese_amount_axis_is_in_wan(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    with translation.override("zh-hans"):
        layout = purchase_history_figure(daily())["layout"]
    big = [t for v, t in zip(layout["yaxis"]["tickvals"], layout["yaxis"]["ticktext"], strict=True) if v >= 10_000]
    assert big and all("万" in t for t in big), layout["yaxis"]
    assert layout["yaxis"]["title"]["text"] == "金额（CNY）"
