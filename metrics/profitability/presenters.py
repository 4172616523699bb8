"""What the Profitability page shows: the whale curve as a Plotly figure and its headline in words."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from clv_dashboard.formatting import format_money, format_percent

from .maths import WhaleCurve

# At most this many points are drawn; the peak is always one of them.
CURVE_POINTS = 400


def whale_headline(curve: WhaleCurve) -> str:
    """The curve in one sentence, for example "The most profitable 18% of customers earn 142% of
    the profit; 23% lose ¥1,200,000.00"."""
    if curve.customers == 0:
        return _("No customer profitability yet: it is computed by the recompute after an import.")
    losing = format_percent(curve.loss_making_customers / curve.customers)
    if curve.peak is None or curve.peak_share is None:
        return _("Customers lose {total} in total; {losing} of them lose {loss}.").format(
            total=format_money(-curve.total_net_profit), losing=losing, loss=format_money(-curve.loss))
    if curve.loss_making_customers == 0:
        return _("Every customer is profitable: together they earn {total}.").format(
            total=format_money(curve.total_net_profit))
    return _("The most profitable {share} of customers earn {peak} of the profit; {losing} lose {loss}.").format(
        share=format_percent(curve.peak_share), peak=format_percent(curve.peak), losing=losing,
        loss=format_money(-curve.loss))


def whale_figure(curve: WhaleCurve) -> dict[str, Any] | None:
    """The whale curve (x, y in percent), thinned to CURVE_POINTS points that keep the peak."""
    if curve.y is None or not curve.x:
        return None
    n = len(curve.x)
    keep = set(np.unique(np.linspace(0, n - 1, min(n, CURVE_POINTS)).round().astype(int)).tolist())
    if curve.peak_share is not None:
        keep.add(round(curve.peak_share * n) - 1)
    index = sorted(keep)
    x = [0.0] + [round(curve.x[i] * 100, 3) for i in index]
    y = [0.0] + [round(curve.y[i] * 100, 3) for i in index]
    peak_x = round((curve.peak_share or 0) * 100, 3)
    peak_y = round((curve.peak or 0) * 100, 3)
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": _("Cumulative net profit"), "x": x, "y": y,
             "line": {"color": "#2563eb", "width": 3},
             "hovertemplate": _("%{x:.1f}% of customers: %{y:.1f}% of the profit") + "<extra></extra>"},
            {"type": "scatter", "mode": "markers+text", "name": _("Peak"), "x": [peak_x], "y": [peak_y],
             "text": [_("peak {peak}").format(peak=format_percent(curve.peak))], "textposition": "top center",
             "marker": {"color": "#dc2626", "size": 10}, "hoverinfo": "skip"},
        ],
        "layout": {
            "margin": {"t": 20, "r": 20, "b": 50, "l": 70}, "showlegend": False,
            "xaxis": {"title": {"text": _("Customers ranked by net profit, most profitable first (share of customers)")},
                      "range": [0, 100], "ticksuffix": "%"},
            "yaxis": {"title": {"text": _("Cumulative net profit (share of the total)")}, "ticksuffix": "%",
                      "rangemode": "tozero"},
            "shapes": [{"type": "line", "x0": 0, "x1": 100, "y0": 100, "y1": 100,
                        "line": {"color": "#6b7280", "dash": "dot", "width": 1}}],
        },
    }


def customer_row(row: Any) -> dict[str, Any]:
    prediction = getattr(row.customer, "prediction", None)
    return {
        "pk": row.customer_id, "customer": row.customer.external_id, "name": row.customer.name,
        "tier": prediction.get_tier_display() if prediction else "–",
        "margin": format_money(row.margin_to_date), "acquisition": format_money(row.acquisition_cost_allocated),
        "retention": format_money(row.retention_cost_allocated), "net": format_money(row.net_profit_to_date),
        "negative": row.net_profit_to_date < 0,
        "referrals": row.referrals_made, "referral_margin": format_money(row.referral_margin),
    }
