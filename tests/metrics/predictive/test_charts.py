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


def test_the_p_alive_path_follows_the_fits_own_model() -> None:
    from metrics.models import PredictiveFit
    from metrics.predictive.charts import p_alive_figure
    from metrics.predictive.maths.paretonbd import ParetoNbdParams, paretonbd_p_alive

    params = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    fit = PredictiveFit(model="pareto_nbd", model_params=params)
    end = dt.date(2024, 12, 31)
    figure = p_alive_figure(daily(), fit=fit, data_date=end)
    assert figure is not None
    trace = figure["data"][0]
    assert trace["x"][-1] == end.isoformat()
    # At the data date: two purchase days, 197 days apart, the first 305 days before the end.
    expected = paretonbd_p_alive(ParetoNbdParams(**params), [1.0], [197 / 7], [305 / 7])[0]
    assert trace["y"][-1] == round(float(expected), 4)
    # A fit stored before the model choice, without a model, is BG/NBD's and has no path without its parameters.
    assert p_alive_figure(daily(), fit=PredictiveFit(), data_date=end) is None
