"""`{% profitability_panel %}`: the board's profitability panel (the whale curve's peak, the
loss-making customers and their loss), linking to the Profitability page."""

from __future__ import annotations

from typing import Any

from django import template

from clv_dashboard.formatting import format_money, format_month, format_percent
from metrics.profitability.selectors import profitability_totals

register = template.Library()


@register.inclusion_tag("profitability/_board_panel.html")
def profitability_panel() -> dict[str, Any]:
    totals = profitability_totals()
    if totals is None:
        return {"totals": None}
    return {
        "totals": totals,
        "month": format_month(totals.month),
        "peak": format_percent(totals.whale_peak) if totals.whale_peak is not None else None,
        "peak_share": format_percent(totals.whale_peak_share) if totals.whale_peak_share is not None else None,
        "loss_makers": totals.loss_making_customers,
        "loss_makers_share": format_percent(totals.loss_making_customers / totals.customers) if totals.customers else None,
        "loss": format_money(-totals.loss),
        "net": format_money(totals.net_profit_to_date),
    }
