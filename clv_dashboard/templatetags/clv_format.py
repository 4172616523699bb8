"""Formatting of money, rates and months for the active language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import template
from django.conf import settings
from django.utils import formats

from clv_dashboard.formatting import MISSING, format_money, format_month, format_percent

register = template.Library()


@register.filter
def money(value: Decimal | float | None, decimals: int = 2) -> str:
    return format_money(value, decimals=decimals)


@register.filter
def percent(value: Decimal | float | None, decimals: int = 1) -> str:
    return format_percent(value, decimals=decimals)


@register.filter
def month(value: date | None) -> str:
    return format_month(value)


@register.filter
def number(value: Decimal | float | int | None, decimals: int = 0) -> str:
    if value is None:
        return MISSING
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


@register.simple_tag
def currency() -> str:
    return str(settings.CLV_CURRENCY)
