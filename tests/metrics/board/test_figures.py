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
