"""clv_dashboard.formatting: amounts, percentages, months and chart ticks in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation

from clv_dashboard.formatting import (
    MINUS,
    display_minus,
    format_money,
    format_money_hover,
    format_money_short,
    format_month,
    format_number,
    format_percent,
    money_ticks,
    punctuation,
)


@pytest.fixture(autouse=True)
def _yuan(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"


def test_the_display_minus_is_u2212_in_amounts_percentages_and_numbers() -> None:
    assert MINUS == "\u2212"
    with translation.override("en"):
        assert format_money(Decimal("-708")) == "\u2212¥708.00"
        assert format_money(-22.334) == "\u2212¥22.33"
        assert format_percent(-0.051) == "\u22125.1%"
        assert format_number(-1234) == "\u22121,234"
        assert format_money_short(-600_000) == "\u2212¥600K"
        assert display_minus("-3") == "\u22123"
    for text in (format_money(-1), format_percent(-0.5), format_number(-2), format_money_short(-2e6)):
        assert "-" not in text, text


def test_zero_and_amounts_that_round_to_zero_carry_no_sign() -> None:
    with translation.override("en"):
        assert format_money(0) == "¥0.00"
        assert format_money(Decimal("-0.001")) == "¥0.00"
        assert format_percent(-0.00004) == "0.0%"
        assert format_number(-0.2) == "0"
        assert format_money_short(0) == "¥0"
    with translation.override("zh-hans"):
        assert format_money_short(0) == "¥0"
        assert format_money_hover(0) == "¥0"


def test_chinese_amounts_are_in_wan_and_yi_english_in_k_m_and_b() -> None:
    with translation.override("zh-hans"):
        assert format_money_short(4_000_000) == "¥400万"
        assert format_money_short(123_456_789) == "¥1.23亿"
        assert format_money_short(-35_000) == "\u2212¥3.5万"
        assert format_money_short(9_999) == "¥9,999"
        assert format_money_hover(6_165_560) == "¥616.56万"
        assert format_money_hover(-6_165_560) == "\u2212¥616.56万"
        assert format_money_hover(1_117.74, decimals=2) == "¥1,117.74"
    with translation.override("en"):
        assert format_money_short(4_000_000) == "¥4M"
        assert format_money_short(123_456_789) == "¥123M"
        assert format_money_short(2_500_000_000) == "¥2.5B"
        assert format_money_hover(6_165_560) == "¥6,165,560"


def test_money_ticks_are_round_and_share_one_unit() -> None:
    with translation.override("zh-hans"):
        values, labels = money_ticks(0, 6_165_560)
        assert values == [0, 2_000_000, 4_000_000, 6_000_000]
        assert labels == ["¥0", "¥200万", "¥400万", "¥600万"]
        values, labels = money_ticks(0, 230_000_000)
        assert labels[-1] == "¥2亿" and labels[1] == "¥0.5亿"
        values, labels = money_ticks(-293_218, 293_218)
        assert labels == ["\u2212¥20万", "¥0", "¥20万"]
        # Below 10,000 no 万: plain yuan.
        assert money_ticks(0, 9_000)[1] == ["¥0", "¥2,000", "¥4,000", "¥6,000", "¥8,000"]
        # Every tick above 10,000 is in 万 or 亿.
        for high in (12_345, 87_000, 1_500_000, 9.9e7, 3.4e9):
            vals, texts = money_ticks(0, high)
            assert all(("万" in t or "亿" in t) for v, t in zip(vals, texts, strict=True) if v >= 10_000), texts
    with translation.override("en"):
        assert money_ticks(0, 6_165_560)[1] == ["¥0", "¥2M", "¥4M", "¥6M"]
        assert money_ticks(-293_218, 293_218)[1] == ["\u2212¥200K", "¥0", "¥200K"]
        assert money_ticks(0, 350)[1] == ["¥0", "¥100", "¥200", "¥300"]
        # A step of 250 is written exactly, not rounded to "¥0.3K".
        assert money_ticks(0, 1_117.74)[1] == ["¥0", "¥250", "¥500", "¥750", "¥1,000"]
        assert money_ticks(0, 1_100_000)[1] == ["¥0", "¥0.25M", "¥0.5M", "¥0.75M", "¥1M"]


def test_a_flat_range_still_gets_ticks() -> None:
    with translation.override("en"):
        values, labels = money_ticks(5_000, 5_000)
        assert len(labels) == len(values)
        assert values and all(5_000 <= v <= 10_000 for v in values)
        assert money_ticks(float("nan"), 1) == ([], [])


def test_months_read_in_the_readers_language() -> None:
    with translation.override("zh-hans"):
        assert format_month(dt.date(2024, 12, 1)) == "2024年12月"
    with translation.override("en"):
        assert format_month(dt.date(2024, 12, 1)) == "December 2024"


@pytest.mark.parametrize(("language", "colon", "semicolon"), [("en", ": ", "; "), ("zh-hans", "：", "；")])
def test_a_labels_colon_and_a_lists_semicolon_in_each_language(language: str, colon: str, semicolon: str) -> None:
    with translation.override(language):
        assert punctuation(":") == colon and punctuation(";") == semicolon

