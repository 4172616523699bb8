"""Plotly figure data of the Model check page (drawn by static/js/predictive.js)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from ..maths.purchase_models import MODEL_LABELS
from .maths import MAX_FREQUENCY_GROUP, ValidationReport

DAY_FORMAT = "%Y-%m-%d"
ACTUAL_COLOUR = "#111827"
MODEL_COLOURS = {"bgnbd": "#2563eb", "mbgnbd": "#16a34a", "pareto_nbd": "#d97706"}


def _frequency_label(k: int) -> str:
    return f"{k}+" if k == MAX_FREQUENCY_GROUP else str(k)


def tracking_figure(report: ValidationReport) -> dict[str, Any]:
    """Cumulative repeat purchases week by week, actual and per model, the holdout shaded."""
    days = [d.isoformat() for d in report.week_ends]
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "lines", "name": _("Actual"), "x": days,
        "y": [round(v, 2) for v in report.tracking_actual], "line": {"color": ACTUAL_COLOUR, "width": 3},
        "hovertemplate": "%{x|" + DAY_FORMAT + "}: %{y:,.0f}<extra>" + _("Actual") + "</extra>",
    }]
    for check in report.models:
        if not check.ok:
            continue
        label = MODEL_LABELS[check.model]
        data.append({
            "type": "scatter", "mode": "lines", "name": label, "x": days,
            "y": [round(v, 2) for v in check.tracking_predicted],
            "line": {"color": MODEL_COLOURS[check.model.value], "dash": "dash"},
            "hovertemplate": "%{x|" + DAY_FORMAT + "}: %{y:,.0f}<extra>" + label + "</extra>",
        })
    start = report.calibration_end.isoformat()
    return {
        "data": data,
        "layout": {
            "margin": {"t": 10, "r": 10, "b": 40, "l": 70}, "legend": {"orientation": "h"},
            "xaxis": {"type": "date", "tickformat": DAY_FORMAT, "hoverformat": DAY_FORMAT},
            "yaxis": {"title": {"text": _("Cumulative repeat purchases")}, "rangemode": "tozero", "automargin": True},
            "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": start, "x1": report.holdout_end.isoformat(),
                        "y0": 0, "y1": 1, "fillcolor": "#e5e7eb", "opacity": 0.5, "line": {"width": 0},
                        "layer": "below"}],
            "annotations": [{"xref": "x", "yref": "paper", "x": start, "y": 1, "xanchor": "left", "yanchor": "top",
                             "text": _("Holdout"), "showarrow": False}],
        },
    }


def conditional_figure(report: ValidationReport) -> dict[str, Any]:
    """Mean holdout repeat purchases per customer by calibration repeat purchases 0..7+."""
    labels = [_frequency_label(k) for k, _n, _a in report.by_frequency_actual]
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "lines+markers", "name": _("Actual"), "x": labels,
        "y": [round(a, 4) for _k, _n, a in report.by_frequency_actual], "line": {"color": ACTUAL_COLOUR, "width": 3},
    }]
    for check in report.models:
        if not check.ok:
            continue
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": MODEL_LABELS[check.model], "x": labels,
            "y": [round(r.predicted_mean, 4) for r in check.by_frequency],
            "line": {"color": MODEL_COLOURS[check.model.value], "dash": "dash"},
        })
    return {
        "data": data,
        "layout": {
            "margin": {"t": 10, "r": 10, "b": 50, "l": 70}, "legend": {"orientation": "h", "y": -0.25},
            "xaxis": {"type": "category", "title": {"text": _("Repeat purchases in the calibration period")}},
            "yaxis": {"title": {"text": _("Holdout repeat purchases per customer")}, "rangemode": "tozero",
                      "automargin": True},
        },
    }
