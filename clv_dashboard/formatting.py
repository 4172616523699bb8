"""Language-aware formatting shared by templates, exports and chart labels."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import formats

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}
MISSING = "–"


def _rounded(value: Decimal | float, decimals: int) -> Decimal:
    """Round half up first: Django's number_format cuts off the digits beyond `decimals`."""
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def currency_symbol() -> str:
    code = str(settings.CLV_CURRENCY)
    return CURRENCY_SYMBOLS.get(code, code + " ")


def format_money(value: Decimal | float | None, *, decimals: int = 2) -> str:
    if value is None:
        return MISSING
    number = formats.number_format(abs(_rounded(value, decimals)), decimals, use_l10n=True, force_grouping=True)
    sign = "-" if value < 0 else ""
    return f"{sign}{currency_symbol()}{number}"


def format_percent(value: Decimal | float | None, *, decimals: int = 1) -> str:
    if value is None:
        return MISSING
    return formats.number_format(_rounded(Decimal(str(value)) * 100, decimals), decimals, use_l10n=True) + "%"


def format_month(value: date | None) -> str:
    if value is None:
        return MISSING
    return formats.date_format(value, "YEAR_MONTH_FORMAT", use_l10n=True)
