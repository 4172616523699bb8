"""Plotly figure data of a customer's detail page (rendered by static/js/predictive.js)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.utils.translation import gettext as _

from clv_dashboard.formatting import format_money, format_percent
from metrics.board.figures import money_axis
from metrics.models import PredictiveFit

from .maths.purchase_models import purchase_model_p_alive_path
from .maths.rfm import DAYS_PER_UNIT
from .selectors import fit_purchase_model


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


# One day on a date axis, in milliseconds: a day's bar is at most this wide, whatever the
# spacing of the purchases (plotly.js would widen a lone purchase to weeks).
DAY_MS = 24 * 60 * 60 * 1000
# Dates as numbers, the same in every language; hovers name the day.
DAY_FORMAT = "%Y-%m-%d"


def purchase_history_figure(daily: pd.DataFrame) -> dict[str, Any]:
    """Each day's purchases (bars up) and refunds (bars down), one day wide, amounts in the currency."""
    days = [d.isoformat() for d in daily["day"]] if not daily.empty else []
    purchases = [round(float(v), 2) for v in daily.get("purchases", [])]
    refunds = [round(float(v), 2) for v in daily.get("refunds", [])]

    def bars(name: str, values: list[float], colour: str) -> dict[str, Any]:
        return {"type": "bar", "name": name, "x": days, "y": values, "marker": {"color": colour},
                "width": [DAY_MS * 0.8] * len(values), "customdata": [format_money(v) for v in values],
                "hovertemplate": "%{x|" + DAY_FORMAT + "}: %{customdata}<extra>" + name + "</extra>"}

    sums = [p + r for p, r in zip(purchases, refunds, strict=True)]
    return {
        "data": [bars(_("Purchases"), purchases, "#2563eb"), bars(_("Refunds"), refunds, "#dc2626")],
        "layout": {"barmode": "relative", "margin": {"t": 10, "r": 10, "b": 40, "l": 70},
                   "xaxis": {"type": "date", "tickformat": DAY_FORMAT, "hoverformat": DAY_FORMAT},
                   "yaxis": {"title": {"text": _("Amount (%(currency)s)") % {"currency": settings.CLV_CURRENCY}},
                             **money_axis(purchases + refunds + sums)},
                   "legend": {"orientation": "h"}},
    }


def p_alive_figure(daily: pd.DataFrame, *, fit: PredictiveFit | None, data_date: dt.date | None) -> dict[str, Any] | None:
    """P(alive) at every purchase day (and the day before it), every month end and the data date,
    from the first purchase on, with the current fit's parameters and the purchases known at each point."""
    purchases = fit_purchase_model(fit) if fit is not None else None
    if purchases is None or daily.empty or data_date is None:
        return None
    purchase_days = sorted(d for d, bought in zip(daily["day"], daily["is_purchase"], strict=True) if bought)
    if not purchase_days:
        return None
    first = purchase_days[0]
    # The day before each purchase shows the level it jumps up from.
    before = [d - dt.timedelta(days=1) for d in purchase_days[1:]]
    points = sorted({*purchase_days, *before, *_month_ends(first, data_date), data_date})
    points = [p for p in points if first <= p <= data_date]
    weeks = np.array([(d - first).days / DAYS_PER_UNIT for d in purchase_days])
    at = np.array([(d - first).days / DAYS_PER_UNIT for d in points])
    path = purchase_model_p_alive_path(purchases, weeks, at)
    values = [round(float(v), 4) for v in path]
    return {
        "data": [{"type": "scatter", "mode": "lines", "name": _("P(alive)"), "line": {"shape": "linear"},
                  "x": [p.isoformat() for p in points], "y": values,
                  "customdata": [format_percent(v) for v in values],
                  "hovertemplate": "%{x|" + DAY_FORMAT + "}: %{customdata}<extra></extra>"}],
        "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 60},
                   "xaxis": {"type": "date", "tickformat": DAY_FORMAT, "hoverformat": DAY_FORMAT},
                   "yaxis": {"range": [0, 1.05], "tickformat": ".0%", "title": {"text": _("P(alive)")}}},
    }
