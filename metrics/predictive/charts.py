"""Plotly figure data of a customer's detail page (rendered by static/js/predictive.js)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils.translation import gettext as _

from metrics.models import PredictiveFit

from .maths import BgNbdParams, bgnbd_p_alive_path
from .maths.rfm import DAYS_PER_UNIT


def _month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    ends = []
    year, month = first.year, first.month
    while True:
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if end >= last:
            break
        ends.append(end)
        year, month = nxt.year, nxt.month
    return ends


# A bar is one day wide (Plotly measures widths on a date axis in milliseconds): without it,
# a customer with few purchases gets bars weeks wide, as if each spanned the gap to the next.
DAY_MS = 24 * 3600 * 1000
BAR_WIDTH_MS = int(DAY_MS * 0.8)


def purchase_history_figure(daily: pd.DataFrame) -> dict[str, Any]:
    """Each day's purchases (bars up) and refunds (bars down), one day wide, in the currency."""
    days = [d.isoformat() for d in daily["day"]] if not daily.empty else []
    width = [BAR_WIDTH_MS] * len(days)
    return {
        "data": [
            {"type": "bar", "name": _("Purchases"), "x": days, "width": width,
             "y": [round(float(v), 2) for v in daily.get("purchases", [])], "marker": {"color": "#2563eb"}},
            {"type": "bar", "name": _("Refunds"), "x": days, "width": width,
             "y": [round(float(v), 2) for v in daily.get("refunds", [])], "marker": {"color": "#dc2626"}},
        ],
        "layout": {"barmode": "relative", "margin": {"t": 10, "r": 10, "b": 40, "l": 60},
                   "xaxis": {"type": "date"},
                   "yaxis": {"title": {"text": _("Amount (%(currency)s)") % {"currency": settings.CLV_CURRENCY}}},
                   "legend": {"orientation": "h"}},
    }


def p_alive_figure(daily: pd.DataFrame, *, fit: PredictiveFit | None, data_date: dt.date | None) -> dict[str, Any] | None:
    """P(alive) at every purchase day (and the day before it), every month end and the data date,
    from the first purchase on, with the current fit's parameters and the purchases known at each point."""
    if fit is None or fit.bgnbd_r is None or daily.empty or data_date is None:
        return None
    purchase_days = sorted(d for d, bought in zip(daily["day"], daily["is_purchase"], strict=True) if bought)
    if not purchase_days:
        return None
    first = purchase_days[0]
    # The day before each purchase shows the level it jumps up from.
    before = [d - dt.timedelta(days=1) for d in purchase_days[1:]]
    points = sorted({*purchase_days, *before, *_month_ends(first, data_date), data_date})
    points = [p for p in points if first <= p <= data_date]
    params = BgNbdParams(fit.bgnbd_r, fit.bgnbd_alpha or 0.0, fit.bgnbd_a or 0.0, fit.bgnbd_b or 0.0)
    weeks = np.array([(d - first).days / DAYS_PER_UNIT for d in purchase_days])
    at = np.array([(d - first).days / DAYS_PER_UNIT for d in points])
    path = bgnbd_p_alive_path(params, weeks, at)
    return {
        "data": [{"type": "scatter", "mode": "lines", "name": _("P(alive)"), "line": {"shape": "linear"},
                  "x": [p.isoformat() for p in points], "y": [round(float(v), 4) for v in path]}],
        "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 60},
                   "yaxis": {"range": [0, 1.05], "tickformat": ".0%", "title": {"text": _("P(alive)")}}},
    }
