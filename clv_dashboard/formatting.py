"""Language-aware formatting shared by tiles, tables, chart labels and exports' "about" sheet.

One minus sign on screen: U+2212 ("−"), in every amount, percentage and chart label. Machine
readable numbers (CSV and Excel cells, the API) keep their own ASCII "-": they never pass
through here. Chinese readers get large amounts in 万 (10^4) and 亿 (10^8) where a short form is
wanted (chart ticks and hovers); English readers get K, M and B.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from django.conf import settings
from django.utils import formats, translation

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
MISSING = "–"
MINUS = "\u2212"
# (threshold, divisor, suffix), largest first.
UNITS_ZH: tuple[tuple[float, float, str], ...] = ((1e8, 1e8, "亿"), (1e4, 1e4, "万"))
# K from ten thousand on: "¥250" reads better than "¥0.25K".
UNITS_EN: tuple[tuple[float, float, str], ...] = ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K"))


def _rounded(value: Decimal | float, decimals: int) -> Decimal:
    """Round half up first: Django's number_format cuts off the digits beyond `decimals`. With the
    precision the number needs (the default 28 digits would refuse 1e28 and beyond)."""
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    context = Context(prec=max(28, number.adjusted() + decimals + 2))
    return number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=context)


def is_chinese() -> bool:
    return (translation.get_language() or "").lower().startswith("zh")


# A label's colon and a list's semicolon as each language writes them: full-width in Chinese (no
# space after), ASCII with a space in English.
_PUNCTUATION = {":": ("：", ": "), ";": ("；", "; ")}


def punctuation(mark: str) -> str:
    chinese, other = _PUNCTUATION[mark]
    return chinese if is_chinese() else other


def currency_symbol() -> str:
    code = str(settings.CLV_CURRENCY)
    return CURRENCY_SYMBOLS.get(code, code + " ")


def display_minus(text: str) -> str:
    """A text's ASCII hyphen-minus signs as the display minus."""
    return text.replace("-", MINUS)


def format_number(value: Decimal | float | None, *, decimals: int = 0) -> str:
    """A plain number, grouped, with the display minus."""
    if value is None:
        return MISSING
    rounded = _rounded(value, decimals)
    number = formats.number_format(abs(rounded), decimals, use_l10n=True, force_grouping=True)
    return (MINUS if rounded < 0 else "") + number


def format_money(value: Decimal | float | None, *, decimals: int = 2) -> str:
    if value is None:
        return MISSING
    rounded = _rounded(value, decimals)
    number = formats.number_format(abs(rounded), decimals, use_l10n=True, force_grouping=True)
    sign = MINUS if rounded < 0 else ""
    return f"{sign}{currency_symbol()}{number}"


def _units() -> tuple[tuple[float, float, str], ...]:
    return UNITS_ZH if is_chinese() else UNITS_EN


def format_money_short(value: Decimal | float | None, *, decimals: int | None = None,
                       scale: float | None = None) -> str:
    """An amount in the reader's large units: "¥400万", "¥1.2亿" in Chinese, "¥4M" in English.

    `scale`: the magnitude that chooses the unit (a chart axis gives its largest tick, so that
    every tick has the same unit); `decimals`: the digits after the unit's point (by default
    as many as three significant digits need, trailing zeros dropped)."""
    if value is None:
        return MISSING
    number = float(value)
    size = abs(number) if scale is None else abs(scale)
    for threshold, divisor, suffix in _units():
        if size >= threshold:
            scaled = number / divisor
            if decimals is None:
                digits = max(0, 2 - math.floor(math.log10(abs(scaled)))) if scaled else 0
                text = format_number(scaled, decimals=min(digits, 2))
                if "." in text:
                    text = text.rstrip("0").rstrip(".")
            else:
                text = format_number(scaled, decimals=decimals)
            sign = MINUS if text.startswith(MINUS) else ""
            return f"{sign}{currency_symbol()}{text.removeprefix(MINUS)}{suffix}"
    return format_money(number, decimals=0 if decimals is None else decimals)


def format_money_hover(value: Decimal | float | None, *, decimals: int = 0) -> str:
    """An amount in a chart's hover: in 万/亿 with two decimals for Chinese readers (to the
    hundred yuan), the whole amount for English readers."""
    if value is None:
        return MISSING
    if is_chinese() and abs(float(value)) >= 1e4:
        return format_money_short(value, decimals=2)
    return format_money(value, decimals=decimals)


def _trimmed(label: str) -> str:
    """"¥1.50亿" as "¥1.5亿", "¥2.0亿" as "¥2亿": a tick's trailing zeros say nothing."""
    head = label.rstrip("亿万BMK")
    unit = label[len(head):]
    if "." in head:
        head = head.rstrip("0").rstrip(".")
    return head + unit


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def money_ticks(low: float, high: float, *, count: int = 5) -> tuple[list[float], list[str]]:
    """Round tick values between `low` and `high` and their labels in the reader's units.

    Every label has the unit of the largest tick and as many decimals as the step needs, so
    "¥0", "¥200万", "¥400万" or "¥1.5亿", "¥2亿"."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    if high < low:
        low, high = high, low
    if high == low:
        high = low + (abs(low) or 1.0)
    step = _nice_step(high - low, count)
    first = math.ceil(low / step - 1e-9) * step
    values: list[float] = []
    tick = first
    while tick <= high + step * 1e-9:
        values.append(0.0 if abs(tick) < step * 1e-9 else round(tick, 10))
        tick += step
    scale = max(abs(v) for v in values) if values else 0.0
    divisor = next((d for t, d, _s in _units() if scale >= t), 1.0)
    # As many decimals as the step needs to be written exactly (0.25亿 has two), two at most.
    decimals = next((d for d in range(3) if abs(round(step / divisor, d) - step / divisor) < 1e-9), 2)
    labels = [format_money(0, decimals=0) if v == 0
              else _trimmed(format_money_short(v, decimals=decimals, scale=scale)) if divisor > 1
              else format_money(v, decimals=decimals) for v in values]
    return values, labels


def format_percent(value: Decimal | float | None, *, decimals: int = 1) -> str:
    if value is None:
        return MISSING
    rounded = _rounded(Decimal(str(value)) * 100, decimals)
    number = formats.number_format(abs(rounded), decimals, use_l10n=True)
    return (MINUS if rounded < 0 else "") + number + "%"


def format_month(value: date | None) -> str:
    if value is None:
        return MISSING
    return formats.date_format(value, "YEAR_MONTH_FORMAT", use_l10n=True)
