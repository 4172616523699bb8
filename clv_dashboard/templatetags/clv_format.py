"""Formatting of money, rates and months for the active language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import template
from django.conf import settings

from clv_dashboard.formatting import format_money, format_month, format_number, format_percent, punctuation

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
    return format_number(value, decimals=decimals)


@register.simple_tag
def punct(mark: str) -> str:
    """A label's colon ({% punct ":" %}) or a list's semicolon ({% punct ";" %}), with the space
    after it, as the active language writes them (：and ；in Chinese)."""
    return punctuation(mark)


@register.simple_tag
def currency() -> str:
    return str(settings.CLV_CURRENCY)
