"""The board's figures in the reader's language: money ticks and hovers, months, the tornado."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.utils import translation

from metrics.board.bridge import EquityBridge
from metrics.board.figures import (
    FigureContext,
    acquisition_retention_figure,
    equity_and_clv_figure,
    equity_bridge_figure,
    tornado_figure,
)
from metrics.board.whatif import SensitivityRow

ENGLISH_MONTH = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\b")


def ctx() -> FigureContext:
    return FigureContext(month_label="2024年12月", scope_label="全公司", currency="CNY", assumption_version=1)


def series() -> list[dict[str, Any]]:
    return [{"month": dt.date(2024, m, 1), "customer_equity": Decimal(1_000_000 * m), "clv": Decimal("812.5") + m}
            for m in range(1, 13)]


def test_a_chinese_equity_chart_ticks_in_wan_and_hovers_the_month_and_yuan(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    with translation.override("zh-hans"):
        figure = equity_and_clv_figure(series=series(), month=dt.date(2024, 12, 1), ctx=ctx()).to_plotly_json()
    layout = figure["layout"]
    ticks = list(zip(layout["yaxis"]["tickvals"], layout["yaxis"]["ticktext"], strict=True))
    assert ticks[0] == (0, "¥0") and all("万" in t for v, t in ticks if v >= 10_000), ticks
    assert layout["xaxis2"]["hoverformat"] == "%Y-%m" and layout["xaxis2"]["tickformat"] == "%Y-%m"
    equity = figure["data"][0]
    assert equity["hovertemplate"] == "%{customdata}"
    assert list(equity["customdata"])[-1] == "¥1,200.00万"
    text = str(figure)
    assert not ENGLISH_MONTH.search(text.replace("Customer", "")), ENGLISH_MONTH.search(text)


def test_an_english_equity_chart_ticks_in_millions_with_the_currency(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    with translation.override("en"):
        layout = equity_and_clv_figure(series=series(), month=dt.date(2024, 12, 1), ctx=ctx()).to_plotly_json()["layout"]
    assert layout["yaxis"]["ticktext"][-1].endswith("M") and layout["yaxis"]["ticktext"][-1].startswith("¥")
    assert layout["yaxis2"]["ticktext"][:3] == ["¥0", "¥200", "¥400"]


def test_the_tornado_puts_its_amounts_outside_the_bars_with_the_display_minus(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    rows = [SensitivityRow(name="margin", low_input=9, high_input=11, low_equity=706_782, high_equity=1_293_218,
                           base_equity=1_000_000)]
    with translation.override("en"):
        figure = tornado_figure(rows=rows, ctx=ctx()).to_plotly_json()
    low, high = figure["data"]
    assert low["textposition"] == "outside" and high["textposition"] == "outside"
    assert list(low["text"]) == ["\u2212¥293,218"] and list(high["text"]) == ["¥293,218"]
    assert "<br>" in low["y"][0]
    low_end, high_end = figure["layout"]["xaxis"]["range"]
    assert low_end < -293_218 * 1.5 and high_end > 293_218 * 1.5


def test_the_equity_bridge_signs_its_steps_with_one_minus(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    bridge = EquityBridge(start=Decimal("1000000"), end=Decimal("990000.5"),
                          effects={"customers": Decimal("-12000"), "margin": Decimal("2000")},
                          rounding=Decimal("0.5"))
    with translation.override("zh-hans"):
        figure = equity_bridge_figure(bridge=bridge, ctx=ctx(), previous_label="2024年11月").to_plotly_json()
    texts = list(figure["data"][0]["text"])
    assert "\u2212¥12,000" in texts and "+¥2,000" in texts
    assert not any("-" in t for t in texts), texts
    assert all("万" in t for v, t in zip(figure["layout"]["yaxis"]["tickvals"], figure["layout"]["yaxis"]["ticktext"],
                                        strict=True) if v >= 10_000)


def test_the_profitability_chart_says_a_closed_months_figures_are_current(settings: Any) -> None:
    from metrics.board.figures import profitability_figure

    settings.CLV_CURRENCY = "CNY"
    rows = [{"month": dt.date(2024, m, 1), "margin_to_date": Decimal(100 * m),
             "acquisition_cost_allocated": Decimal(30 * m), "retention_cost_allocated": Decimal(20 * m),
             "net_profit_to_date": Decimal(50 * m)} for m in range(1, 4)]
    with translation.override("zh-hans"):
        figure = profitability_figure(series=rows, month=dt.date(2024, 3, 1), ctx=ctx(),
                                      closed=[dt.date(2024, 1, 1)]).to_plotly_json()
    net = figure["data"][3]
    assert net["name"] == "累计净利润" and list(net["y"]) == [50.0, 100.0, 150.0]
    assert "已结账月份" in net["customdata"][0] and "已结账月份" not in net["customdata"][1]
    assert figure["layout"]["barmode"] == "stack"


def test_the_warm_up_is_drawn_apart_so_the_change_of_method_is_not_read_as_growth(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    warm = FigureContext(month_label="2024年12月", scope_label="全公司", currency="CNY", assumption_version=1,
                         warm_up=(dt.date(2024, 1, 1), dt.date(2024, 4, 1)))
    with translation.override("zh-hans"):
        data = equity_and_clv_figure(series=series(), month=dt.date(2024, 12, 1), ctx=warm).to_plotly_json()["data"]
    by_name = {trace["name"]: trace for trace in data}
    after, before = by_name["客户资产"], by_name["客户资产（预热期：留存率为假设值）"]
    assert list(after["y"])[:4] == [None] * 4 and None not in list(after["y"])[4:]
    assert list(before["y"])[4:] == [None] * 8 and list(before["y"])[:4] == [1_000_000 * m for m in range(1, 5)]
    assert before["line"]["dash"] == "dot" and not before["showlegend"] and before["legendgroup"] == after["legendgroup"]
    assert "fill" not in before  # only the measured months are filled
    clv_before = by_name["客户终身价值 (CLV)（预热期：留存率为假设值）"]
    assert list(clv_before["y"])[4:] == [None] * 8
    # Without a warm-up (a scope whose data starts before its window), one line per series.
    assert len(equity_and_clv_figure(series=series(), month=dt.date(2024, 12, 1), ctx=ctx()).to_plotly_json()["data"]) == 2


def test_the_warm_up_bars_are_paler() -> None:
    rows = [{"month": dt.date(2024, m, 1), "acquisition_equity": 10, "retention_equity": 20, "acquisition_cost": 1,
             "retention_cost": 2, "referral_equity": 0} for m in range(1, 7)]
    warm = FigureContext(month_label="2024-06", scope_label="Company", currency="CNY", assumption_version=1,
                         warm_up=(dt.date(2024, 1, 1), dt.date(2024, 2, 1)))
    bars = [t for t in acquisition_retention_figure(series=rows, month=dt.date(2024, 6, 1), ctx=warm).to_plotly_json()["data"]
            if t["type"] == "bar"]
    assert bars and all(list(t["marker"]["opacity"]) == [0.45, 0.45, 1, 1, 1, 1] for t in bars)
