"""What the Investor view shows: the headline figures formatted, the heterogeneity gap in words,
and the Plotly figures (waterfall, cohort curves, projection, elasticities) as plain dicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from clv_dashboard.formatting import currency_symbol, format_money, format_money_short, format_number, format_percent

from ..board.figures import BLUE, FONT, GREEN, GREY, GRID, INK, ORANGE, SKY, VERMILLION, money_axis, plotly_text
from ..board.selectors import Scope
from ..calculations import month_from_index, month_index
from ..models import AcquisitionProjection
from .maths.projection import MULTIPLE_MONTHS, growth_multiple
from .maths.value import value_of_future_customers
from .services import ScopeValuation

# Months since the first purchase drawn on the cohort chart beyond the observed ones.
CURVE_CHART_MONTHS = 60
# Of the projection, at most this many months of history are drawn.
HISTORY_MONTHS = 60


def elasticity_label(key: str) -> str:
    return {
        "retention": _("Retention +1%"),
        "margin": _("Margin +1%"),
        "acquisition_cost": _("Acquisition cost −1%"),
        "discount_rate": _("Discount rate −1 point"),
    }[key]


def model_label(model: str) -> str:
    return str(AcquisitionProjection(model).label)


def _layout(*, title: str, subtitle: str, height: int = 360, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": {"text": title, "subtitle": {"text": subtitle, "font": {"size": 12, "color": GREY}},
                  "x": 0.01, "xanchor": "left", "font": {"size": 15, "color": INK}},
        "font": {"family": FONT, "size": 12, "color": INK}, "height": height,
        "margin": {"l": 70, "r": 20, "t": 72, "b": 80}, "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.01, "x": 0},
        "xaxis": {"showgrid": False, "linecolor": "#9aa4b2", "automargin": True},
        "yaxis": {"gridcolor": GRID, "zerolinecolor": "#9aa4b2", "automargin": True},
        "separators": ".,",
    }
    base.update(extra)
    return base


def subtitle(v: ScopeValuation) -> str:
    parts = [f"{v.month:%Y-%m}" if v.month else "", plotly_text(v.scope.label()), currency_symbol()]
    if v.assumption_set is not None:
        parts.append(_("assumptions v%(version)s") % {"version": v.assumption_set.version})
    return " · ".join(p for p in parts if p)


def waterfall_figure(v: ScopeValuation) -> dict[str, Any] | None:
    """Current customers, + margin of future customers, − their acquisition cost, = the
    customer-based value (and the market value beside it, when entered)."""
    if v.result is None or v.projection is None:
        return None
    d = v.result.monthly_discount
    gross = value_of_future_customers(new_customers=v.projection.projected.tolist(), v_new=v.result.v_new, cac=0.0,
                                      monthly_discount=d)
    acquisition = gross - v.result.future_value
    labels = [_("Current customers"), _("Future customers' margin"), _("Their acquisition cost"),
              _("Customer-based value")]
    values = [v.result.current_value, gross, -acquisition, v.result.total]
    measures = ["absolute", "relative", "relative", "total"]
    if v.market_value is not None:
        labels.append(_("Market value"))
        values.append(float(v.market_value.amount))
        measures.append("absolute")
    texts = [format_money_short(x) for x in values]
    return {
        "data": [{
            "type": "waterfall", "x": labels, "y": values, "measure": measures, "text": texts,
            "textposition": "outside", "cliponaxis": False, "hoverinfo": "x+text",
            "connector": {"line": {"color": GREY, "width": 1}},
            "increasing": {"marker": {"color": GREEN}}, "decreasing": {"marker": {"color": VERMILLION}},
            "totals": {"marker": {"color": BLUE}},
        }],
        "layout": _layout(
            title=_("From current customers to the customer-based value"), subtitle=subtitle(v),
            showlegend=False, yaxis={"gridcolor": GRID, "automargin": True, **money_axis(
                [0.0, *np.cumsum(values[:3]).tolist(), *values[3:]])}),
    }


def curves_figure(v: ScopeValuation) -> dict[str, Any] | None:
    """The cohorts' actual first-lapse survival and the fitted sBG curve by months since the first
    purchase, with r^k (what a constant retention says) for contrast."""
    if not v.cohorts and v.fit is None:
        return None
    w = v.window
    observed = len(v.actual_survival) - 1
    months = max(CURVE_CHART_MONTHS, w - 1 + observed + 12)
    traces: list[dict[str, Any]] = []
    if v.cohorts:
        x = list(range(w - 1, w + observed))
        traces.append({"type": "scatter", "mode": "markers+lines", "name": _("Actual (all cohorts)"), "x": x,
                       "y": [round(100 * s, 2) for s in v.actual_survival], "line": {"color": INK, "width": 2},
                       "marker": {"size": 5},
                       "hovertemplate": _("month %{x}: %{y:.1f}% not yet lapsed") + "<extra></extra>"})
    if v.fit is not None:
        fitted = v.fitted_survival(months)
        name = _("sBG fit") if v.curve_source == "own" else _("sBG fit (the company's curve)")
        traces.append({"type": "scatter", "mode": "lines", "name": name, "x": list(range(months + 1)),
                       "y": [round(100 * s, 3) for s in fitted], "line": {"color": BLUE, "width": 3},
                       "hovertemplate": _("month %{x}: %{y:.1f}% fitted") + "<extra></extra>"})
    k = np.arange(months + 1)
    traces.append({"type": "scatter", "mode": "lines", "name": _("Constant retention r (the board's CLV)"),
                   "x": k.tolist(), "y": np.round(100 * v.retention ** k, 3).tolist(),
                   "line": {"color": ORANGE, "width": 2, "dash": "dash"},
                   "hovertemplate": _("month %{x}: %{y:.1f}% by r") + "<extra></extra>"})
    return {
        "data": traces,
        "layout": _layout(
            title=_("Cohort retention: share of new customers not yet lapsed"), subtitle=subtitle(v),
            xaxis={"title": {"text": _("Months since the first purchase")}, "showgrid": False, "automargin": True},
            yaxis={"title": {"text": _("Not yet lapsed")}, "ticksuffix": "%", "range": [0, 102], "gridcolor": GRID,
                   "automargin": True},
            shapes=[{"type": "line", "x0": w - 1, "x1": w - 1, "y0": 0, "y1": 1, "yref": "paper",
                     "line": {"color": GREY, "dash": "dot", "width": 1}}],
            annotations=[{"text": _("W − 1: nobody lapses before"), "x": w - 1, "y": 1, "yref": "paper",
                          "xanchor": "left", "showarrow": False, "font": {"size": 11, "color": GREY}}],
        ),
    }


def _month_labels(first: dt.date, count: int) -> list[str]:
    start = month_index(first)
    return [f"{month_from_index(start + i):%Y-%m}" for i in range(count)]


def projection_figure(v: ScopeValuation) -> dict[str, Any] | None:
    """New customers per month after the warm-up, the model's fit, and its projection with the band."""
    p = v.projection
    if p is None or not v.history_months:
        return None
    shown = min(len(v.history_months), HISTORY_MONTHS)
    history_x = [f"{m:%Y-%m}" for m in v.history_months[-shown:]]
    last = v.history_months[-1]
    future_x = _month_labels(month_from_index(month_index(last) + 1), len(p.projected))
    fitted = p.fitted[-shown:]
    return {
        "data": [
            {"type": "bar", "name": _("New customers"), "x": history_x, "y": p.history[-shown:].tolist(),
             "marker": {"color": SKY}},
            {"type": "scatter", "mode": "lines", "name": _("Fit"), "x": history_x,
             "y": [None if np.isnan(f) else round(float(f), 2) for f in fitted], "line": {"color": BLUE, "width": 2}},
            {"type": "scatter", "mode": "lines", "name": _("Band (low)"), "x": future_x,
             "y": np.round(p.lower, 2).tolist(), "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "name": _("Band"), "x": future_x, "y": np.round(p.upper, 2).tolist(),
             "fill": "tonexty", "fillcolor": "rgba(0,114,178,0.15)", "line": {"width": 0}, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "name": _("Projection"), "x": future_x,
             "y": np.round(p.projected, 2).tolist(), "line": {"color": BLUE, "width": 3, "dash": "dot"}},
        ],
        "layout": _layout(
            title=_("New customers per month and their projection"),
            subtitle=f"{subtitle(v)} · {model_label(v.model)} · " + _("%(months)s months") % {"months": v.horizon},
            xaxis={"type": "category", "nticks": 10, "showgrid": False, "automargin": True},
            yaxis={"title": {"text": _("New customers")}, "rangemode": "tozero", "gridcolor": GRID,
                   "automargin": True},
        ),
    }


# The projection is called out when new customers at the end of the horizon are this many times
# (or this fraction of) those of the last year: an extrapolation the value leans on.
PROJECTION_NOTE_RATIO = 2.0
PROJECTION_NOTE_MONTHS = MULTIPLE_MONTHS


def _projection_drift(v: ScopeValuation) -> tuple[float, float, float] | None:
    """(ratio, now, end): the projected new customers a month over the horizon's last year
    against the history's last year, when they are far apart; None otherwise."""
    if v.projection is None or v.result is None:
        return None
    drift = growth_multiple(v.projection, months=PROJECTION_NOTE_MONTHS)
    if drift is None or not np.isfinite(drift[2]) or 1 / PROJECTION_NOTE_RATIO < drift[0] < PROJECTION_NOTE_RATIO:
        return None
    return drift


def projection_note(v: ScopeValuation) -> str:
    """A warning, in words, when the projection takes new customers far from today's level by
    the end of the horizon (a log-linear trend compounds for the whole horizon); "" otherwise."""
    drift = _projection_drift(v)
    if drift is None or v.result is None:
        return ""
    ratio, now, end = drift
    total = v.result.total
    values = {"model": model_label(v.model), "end": format_number(end, decimals=0), "now": format_number(now, decimals=0),
              "ratio": format_number(ratio, decimals=1),
              "future": format_percent(v.result.future_value / total) if total else "–"}
    if ratio >= PROJECTION_NOTE_RATIO:
        text = _("The {model} projection reaches {end} new customers a month by the end of the horizon, {ratio} times "
                 "the {now} a month of the last year, and future customers make {future} of the customer-based value. "
                 "Compare it with the flat and the logistic projections before relying on it.")
    else:
        text = _("The {model} projection falls to {end} new customers a month by the end of the horizon, from {now} a "
                 "month in the last year; future customers make {future} of the customer-based value. Compare it with "
                 "the flat and the logistic projections before relying on it.")
    return text.format(**values)


def projection_caution(v: ScopeValuation) -> str:
    """The same warning in a few words, under the headline value, so that a reader of the
    tiles alone sees what the value leans on; "" when there is no warning."""
    drift = _projection_drift(v)
    if drift is None:
        return ""
    ratio = format_number(drift[0], decimals=1)
    if drift[0] >= PROJECTION_NOTE_RATIO:
        return _("Leans on a projection of %(ratio)s times today's new customers a month: see below.") % {"ratio": ratio}
    return _("Leans on a projection of new customers falling to %(ratio)s times today's: see below.") % {"ratio": ratio}


def elasticities_figure(v: ScopeValuation) -> dict[str, Any] | None:
    rows = [e for e in v.elasticities if e.percent is not None]
    if not rows:
        return None
    labels = [elasticity_label(e.key) for e in rows]
    values = [round(float(e.percent or 0), 3) for e in rows]
    return {
        "data": [{"type": "bar", "orientation": "h", "x": values, "y": labels,
                  "text": [format_percent(x / 100, decimals=2) for x in values], "textposition": "auto",
                  "marker": {"color": [GREEN if x >= 0 else VERMILLION for x in values]},
                  "hovertemplate": "%{y}: %{text}<extra></extra>"}],
        "layout": _layout(
            title=_("What 1% buys: change of the customer-based value"), subtitle=subtitle(v), showlegend=False,
            height=300, margin={"l": 170, "r": 30, "t": 72, "b": 50},
            xaxis={"ticksuffix": "%", "gridcolor": GRID, "zerolinecolor": "#9aa4b2", "automargin": True},
            yaxis={"autorange": "reversed", "automargin": True},
        ),
    }


def figures(v: ScopeValuation) -> dict[str, Any]:
    out = {"waterfall": waterfall_figure(v), "curves": curves_figure(v), "projection": projection_figure(v),
           "elasticities": elasticities_figure(v)}
    return {k: f for k, f in out.items() if f is not None}


def gap_sentence(v: ScopeValuation) -> str:
    """The heterogeneity gap in words."""
    if v.result is None:
        return ""
    r = v.result
    values = {"curve": format_money(r.v_new), "by_r": format_money(r.clv_by_r),
              "gap": format_money(abs(r.heterogeneity_gap)), "r": format_percent(v.retention, decimals=1),
              "w": v.window}
    if r.clv_by_r and abs(r.heterogeneity_gap) < 0.01 * abs(r.clv_by_r):
        return _("A new customer is worth {curve} by the cohort curve, about what the board's CLV by r gives "
                 "({by_r}).").format(**values)
    if r.heterogeneity_gap > 0:
        return _("A new customer is worth {curve} by the cohort curve, {gap} more than the board's CLV by r ({by_r}): "
                 "a customer just won cannot lapse in their first {w} months, and those who stay longer grow more "
                 "loyal, which the single rate r = {r} does not show.").format(**values)
    return _("A new customer is worth {curve} by the cohort curve, {gap} less than the board's CLV by r ({by_r}): r = {r} "
             "is measured on today's customers, the survivors, who are more loyal than a customer just won "
             "(Fader & Hardie: the perils of ignoring heterogeneity).").format(**values)


def headline(v: ScopeValuation) -> dict[str, Any]:
    """The page's figures, formatted."""
    r = v.result
    assert r is not None
    out: dict[str, Any] = {
        "current": format_money(r.current_value, decimals=0), "future": format_money(r.future_value, decimals=0),
        "total": format_money(r.total, decimals=0), "v_new": format_money(r.v_new), "clv": format_money(r.clv_by_r),
        "cac": format_money(v.cac), "future_share": format_percent(r.future_value / r.total) if r.total else "–",
        "future_lower": format_money(r.future_value_lower, decimals=0) if r.future_value_lower is not None else None,
        "future_upper": format_money(r.future_value_upper, decimals=0) if r.future_value_upper is not None else None,
        "market": format_money(v.market_value.amount, decimals=0) if v.market_value is not None else None,
        "ratio": format_number(v.ratio, decimals=2) if v.ratio is not None else None,
        "negative_future": r.future_value < 0,
    }
    return out


def fit_row(v: ScopeValuation) -> dict[str, str] | None:
    if v.fit is None:
        return None
    f = v.fit

    def se(x: float | None) -> str:
        return "–" if x is None else format_number(x, decimals=3)

    return {"alpha": format_number(f.alpha, decimals=3), "beta": format_number(f.beta, decimals=3),
            "alpha_se": se(f.alpha_se), "beta_se": se(f.beta_se), "ll": format_number(f.log_likelihood, decimals=1),
            "customers": format_number(f.customers), "periods": str(f.periods)}


def segment_row(v: ScopeValuation) -> dict[str, Any]:
    r = v.result
    return {
        "scope": v.scope, "label": v.scope.label(),
        "current": format_money_short(r.current_value) if r else "–",
        "future": format_money_short(r.future_value) if r else "–",
        "total": format_money_short(r.total) if r else "–",
        "v_new": format_money(r.v_new, decimals=0) if r else "–",
        "clv": format_money(r.clv_by_r, decimals=0) if r else "–",
        "retention": next((format_percent((e.percent or 0) / 100, decimals=2) for e in v.elasticities
                           if e.key == "retention"), "–"),
        "curve": "" if v.fit is None else ("own" if v.curve_source == "own" else "company"),
        "missing": " ".join(v.shortfalls) if not r else "",
    }


def scope_choices(segments: list[ScopeValuation]) -> list[Scope]:
    return [s.scope for s in segments]
