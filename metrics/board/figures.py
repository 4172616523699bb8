"""The board's Plotly figures, built on the server and sent to the page as JSON.

Every figure has a title, a subtitle naming the month, scope, currency and assumption version,
axis titles with units, and the Okabe-Ito colour-blind-safe palette. The figures carry no
Plotly template (an empty one): the page's plotly.js draws them with the styling set here,
which keeps each figure a few kilobytes.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from django.utils.translation import gettext as _

from clv_dashboard.formatting import (
    format_money,
    format_money_hover,
    format_number,
    format_percent,
    money_ticks,
)

from .bridge import CustomerBridge, EquityBridge
from .whatif import SensitivityRow

BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
GREY = "#5b6472"
INK = "#1d2430"
GRID = "#e3e8ef"
FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
EMPTY_TEMPLATE = go.layout.Template()


@dataclass(frozen=True)
class FigureContext:
    """What every figure states: month, scope, currency and assumption version."""

    month_label: str
    scope_label: str
    currency: str
    assumption_version: int | None
    # Versions used by the months of a series chart, when they are not all the month's.
    series_versions: tuple[int, ...] = ()
    # The warm-up months (first, last), shaded on the time series; months where the retention
    # source changes, marked there: (month, label).
    warm_up: tuple[dt.date, dt.date] | None = None
    source_changes: tuple[tuple[dt.date, str], ...] = ()

    def subtitle(self, *, month: bool = True) -> str:
        parts = [self.month_label] if month else []
        parts.append(self.scope_label)
        parts.append(self.currency)
        versions = self.series_versions if not month else ()
        if len(versions) > 1:
            parts.append(_("assumptions v%(first)s to v%(last)s") % {"first": versions[0], "last": versions[-1]})
        elif self.assumption_version is not None:
            parts.append(_("assumptions v%(version)s") % {"version": self.assumption_version})
        return " · ".join(parts)


def plotly_text(text: str) -> str:
    """Text from the data (segment values come from uploads) made safe for Plotly's labels,
    which understand a few HTML tags, links among them: escaped, Plotly shows it as typed."""
    return html.escape(text, quote=False)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)


def _month_str(month: dt.date) -> str:
    return month.strftime("%Y-%m-%d")


# A monthly figure hovers and ticks as its month ("2024-12"), never as the day it is stored on;
# the format has no month name, so it reads the same in every language.
MONTH_FORMAT = "%Y-%m"
DATE_AXIS = {"type": "date", "tickformat": MONTH_FORMAT, "hoverformat": MONTH_FORMAT}


def money_axis(values: Sequence[float | None], *, zero: bool = True,
               span: tuple[float, float] | None = None) -> dict[str, Any]:
    """Tick values and labels of a money axis, computed here so that they carry the currency
    and the reader's units (万/亿 in Chinese): plotly.js knows neither."""
    numbers = [v for v in values if v is not None]
    if span is not None:
        low, high = span
    elif numbers:
        low, high = min(numbers), max(numbers)
        if zero:
            low, high = min(low, 0.0), max(high, 0.0)
    else:
        return {}
    tickvals, ticktext = money_ticks(low, high)
    return {"tickmode": "array", "tickvals": tickvals, "ticktext": ticktext}


def money_hovers(values: Sequence[float | None], *, decimals: int = 0) -> list[str]:
    return [format_money_hover(v, decimals=decimals) for v in values]


AXIS_X = {"showgrid": False, "linecolor": "#9aa4b2", "ticks": "outside", "automargin": True}
AXIS_Y = {"gridcolor": GRID, "zerolinecolor": "#9aa4b2", "automargin": True}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """base updated by extra, nested dicts merged (a copy; base is not changed)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _layout(*, title: str, subtitle: str, height: int = 380, **extra: Any) -> dict[str, Any]:
    """The common layout, as one dict: the figure is then built (and validated) once, which is
    several times faster in plotly.py than updating a figure property by property."""
    base: dict[str, Any] = {
        "template": EMPTY_TEMPLATE,
        "title": {"text": title, "subtitle": {"text": subtitle, "font": {"size": 12, "color": GREY}},
                  "x": 0.01, "xanchor": "left", "font": {"size": 16, "color": INK}},
        "font": {"family": FONT, "size": 12, "color": INK},
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 72, "b": 90},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        # Under the x axis title, whatever the height of the figure.
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.01, "x": 0,
                   "font": {"size": 12}},
        "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
        "xaxis": AXIS_X,
        "yaxis": AXIS_Y,
    }
    return _merge(base, extra)


def _month_marker(month: dt.date, *, xref: str = "x", yref: str = "paper") -> dict[str, Any]:
    return {"type": "line", "xref": xref, "yref": yref, "x0": _month_str(month), "x1": _month_str(month),
            "y0": 0, "y1": 1, "line": {"color": GREY, "width": 1, "dash": "dot"}}


def _half_month_before(month: dt.date) -> str:
    """The boundary between a month and the one before, on a date axis (bars are centred on
    the first of the month, so the boundary sits half a month earlier)."""
    return (month - dt.timedelta(days=15)).strftime("%Y-%m-%d")


def _trust_marks(ctx: FigureContext, *, xrefs: Sequence[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes and annotations for the warm-up (a shaded band) and the retention-source changes
    (a dashed line with its label), on each (xref, yref-domain) pair of a figure."""
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, (xref, yref) in enumerate(xrefs):
        if ctx.warm_up is not None:
            first, last = ctx.warm_up
            end = dt.date(last.year + (last.month // 12), last.month % 12 + 1, 1)
            shapes.append({"type": "rect", "xref": xref, "yref": yref, "x0": _half_month_before(first),
                           "x1": _half_month_before(end), "y0": 0, "y1": 1, "fillcolor": "rgba(91,100,114,0.12)",
                           "line": {"width": 0}, "layer": "below"})
            if i == 0:
                annotations.append({"text": _("Warm-up"), "xref": xref, "yref": yref, "x": _half_month_before(first),
                                    "y": 1, "xanchor": "left", "yanchor": "top", "showarrow": False,
                                    "font": {"size": 11, "color": GREY}})
        for month, label in ctx.source_changes:
            shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": _half_month_before(month),
                           "x1": _half_month_before(month), "y0": 0, "y1": 1,
                           "line": {"color": PURPLE, "width": 1.5, "dash": "dash"}})
            if i == 0:
                annotations.append({"text": label, "xref": xref, "yref": yref, "x": _half_month_before(month),
                                    "y": 0.92, "xanchor": "left", "yanchor": "top", "showarrow": False,
                                    "font": {"size": 11, "color": PURPLE}, "bgcolor": "rgba(255,255,255,0.8)"})
    return shapes, annotations


def _in_warm_up(months: Sequence[str], ctx: FigureContext) -> list[bool]:
    """For each month (as _month_str), whether it is in the warm-up, where retention is assumed."""
    last = _month_str(ctx.warm_up[1]) if ctx.warm_up is not None else ""
    return [m <= last for m in months]


def _warm_up_apart(months: Sequence[str], values: Sequence[float | None],
                   ctx: FigureContext) -> tuple[list[float | None], list[float | None]]:
    """A series split into its warm-up months and the months after (None elsewhere), so that the
    line is not drawn across the change of method: in the warm-up retention is assumed, after it
    measured, and the step between them is not growth."""
    warm = _in_warm_up(months, ctx)
    return ([v if w else None for v, w in zip(values, warm, strict=True)],
            [None if w else v for v, w in zip(values, warm, strict=True)])


def equity_and_clv_figure(*, series: Sequence[Mapping[str, Any]], month: dt.date, ctx: FigureContext) -> go.Figure:
    """Customer equity (top panel) and CLV (bottom panel) over every month, the chosen month marked.
    The warm-up months are drawn apart, dotted and paler (_warm_up_apart)."""
    months = [_month_str(r["month"]) for r in series]
    money = ctx.currency
    equity = [_num(r["customer_equity"]) for r in series]
    clv = [_num(r["clv"]) for r in series]
    warm_equity, equity_after = _warm_up_apart(months, equity, ctx)
    warm_clv, clv_after = _warm_up_apart(months, clv, ctx)
    traces = [
        go.Scatter(x=months, y=equity_after, name=_("Customer equity"), legendgroup="equity",
                   mode="lines+markers", line={"color": BLUE, "width": 2.5}, marker={"size": 4},
                   fill="tozeroy", fillcolor="rgba(0,114,178,0.10)", xaxis="x", yaxis="y",
                   customdata=money_hovers(equity), hovertemplate="%{customdata}"),
        go.Scatter(x=months, y=clv_after, name=_("CLV"), legendgroup="clv", mode="lines+markers",
                   line={"color": ORANGE, "width": 2.5}, marker={"size": 4}, xaxis="x2", yaxis="y2",
                   customdata=money_hovers(clv, decimals=2), hovertemplate="%{customdata}"),
    ]
    if ctx.warm_up is not None:
        warm_name = _("%(series)s (warm-up: retention assumed)")
        traces += [
            go.Scatter(x=months, y=warm_equity, name=warm_name % {"series": _("Customer equity")},
                       legendgroup="equity", showlegend=False, mode="lines+markers", opacity=0.6,
                       line={"color": BLUE, "width": 2, "dash": "dot"}, marker={"size": 3}, xaxis="x", yaxis="y",
                       customdata=money_hovers(equity), hovertemplate="%{customdata}"),
            go.Scatter(x=months, y=warm_clv, name=warm_name % {"series": _("CLV")}, legendgroup="clv",
                       showlegend=False, mode="lines+markers", opacity=0.6,
                       line={"color": ORANGE, "width": 2, "dash": "dot"}, marker={"size": 3}, xaxis="x2", yaxis="y2",
                       customdata=money_hovers(clv, decimals=2), hovertemplate="%{customdata}"),
        ]
    x_common = _merge(AXIS_X, DATE_AXIS)
    layout = _layout(
        title=_("Customer equity and CLV by month"), subtitle=ctx.subtitle(month=False), height=420,
        hovermode="x unified",
        xaxis=_merge(x_common, {"anchor": "y", "matches": "x2", "showticklabels": False}),
        xaxis2=_merge(x_common, {"anchor": "y2", "title": {"text": _("Month")}}),
        yaxis={"domain": [0.5, 1.0], "anchor": "x", "rangemode": "tozero",
               "title": {"text": _("Equity (%(currency)s)") % {"currency": money}}, **money_axis(equity)},
        yaxis2=_merge(AXIS_Y, {"domain": [0.0, 0.4], "anchor": "x2", "rangemode": "tozero",
                               "title": {"text": _("CLV (%(currency)s)") % {"currency": money}},
                               **money_axis(clv)}),
        shapes=[_month_marker(month, xref="x"), _month_marker(month, xref="x2", yref="y2 domain")],
    )
    layout["shapes"][0]["yref"] = "y domain"
    marks, notes = _trust_marks(ctx, xrefs=[("x", "y domain"), ("x2", "y2 domain")])
    layout["shapes"] += marks
    layout["annotations"] = notes
    return go.Figure(data=traces, layout=layout)


def acquisition_retention_figure(*, series: Sequence[Mapping[str, Any]], month: dt.date, ctx: FigureContext) -> go.Figure:
    """Acquisition and retention equity by month (bars) with their costs (lines). Referral
    equity (referred new customers x CLV, METRICS.md Referrals) is drawn inside the acquisition
    bar, as the part of it that the new customers referred by existing ones bring."""
    months = [_month_str(r["month"]) for r in series]
    columns = [("acquisition_equity", _("Acquisition equity")), ("retention_equity", _("Retention equity")),
               ("acquisition_cost", _("Acquisition cost")), ("retention_cost", _("Retention cost")),
               ("referral_equity", _("of which from referrals"))]
    ys = {name: [_num(r.get(name)) for r in series] for name, _label in columns}
    labels = dict(columns)
    groups = {"acquisition_equity": "acquisition", "referral_equity": "acquisition", "retention_equity": "retention"}

    # The warm-up's bars paler: their retention is assumed, not measured (see _warm_up_apart).
    opacity = [0.45 if warm else 1.0 for warm in _in_warm_up(months, ctx)]

    def bar(name: str, colour: str, **style: Any) -> go.Bar:
        return go.Bar(x=months, y=ys[name], name=labels[name], marker_color=colour, marker_opacity=opacity,
                      offsetgroup=groups[name], customdata=money_hovers(ys[name]), hovertemplate="%{customdata}",
                      **style)

    def line(name: str, colour: str, dash: str) -> go.Scatter:
        return go.Scatter(x=months, y=ys[name], name=labels[name], mode="lines",
                          line={"color": colour, "width": 2, "dash": dash},
                          customdata=money_hovers(ys[name]), hovertemplate="%{customdata}")

    traces = [bar("acquisition_equity", BLUE), bar("retention_equity", GREEN),
              line("acquisition_cost", ORANGE, "dash"), line("retention_cost", VERMILLION, "dot")]
    if any(v for v in ys["referral_equity"]):
        # Same offset group as the acquisition bar: drawn over it, from zero (narrower, hatched).
        traces.insert(1, bar("referral_equity", SKY, width=[86_400_000 * 12] * len(months),
                             marker_pattern_shape="/", marker_line_color=BLUE, marker_line_width=1))
    marks, notes = _trust_marks(ctx, xrefs=[("x", "y domain")])
    layout = _layout(
        title=_("Acquisition and retention equity, with their costs"), subtitle=ctx.subtitle(month=False),
        barmode="group", bargap=0.25, hovermode="x unified", shapes=[_month_marker(month), *marks],
        annotations=notes,
        xaxis=_merge(DATE_AXIS, {"title": {"text": _("Month")}}),
        yaxis={"title": {"text": _("Amount (%(currency)s)") % {"currency": ctx.currency}},
               **money_axis([v for values in ys.values() for v in values])},
    )
    return go.Figure(data=traces, layout=layout)


def profitability_figure(*, series: Sequence[Mapping[str, Any]], month: dt.date, ctx: FigureContext,
                         closed: Sequence[dt.date] = ()) -> go.Figure:
    """Customer profitability to date, month by month (docs/profitability.md, "Monthly totals"):
    the acquisition and retention cost allocated to the scope's customers (stacked bars), their
    margin and their net profit to date (lines). Closed months carry current figures (closing
    publishes the snapshots), said in their hover."""
    months = [_month_str(r["month"]) for r in series]
    closed_set = set(closed)
    ys = {name: [_num(r[name]) for r in series] for name in
          ["acquisition_cost_allocated", "retention_cost_allocated", "margin_to_date", "net_profit_to_date"]}
    note = _("closed month: current figures, not published ones")
    hover_notes = [note if r["month"] in closed_set else "" for r in series]

    def hovers(values: list[float | None]) -> list[str]:
        return [f"{money}<br><i>{extra}</i>" if extra else money
                for money, extra in zip(money_hovers(values), hover_notes, strict=True)]

    traces = [
        go.Bar(x=months, y=ys["acquisition_cost_allocated"], name=_("Acquisition cost allocated"),
               marker_color=ORANGE, customdata=hovers(ys["acquisition_cost_allocated"]), hovertemplate="%{customdata}"),
        go.Bar(x=months, y=ys["retention_cost_allocated"], name=_("Retention cost allocated"),
               marker_color=VERMILLION, customdata=hovers(ys["retention_cost_allocated"]), hovertemplate="%{customdata}"),
        go.Scatter(x=months, y=ys["margin_to_date"], name=_("Margin to date"), mode="lines",
                   line={"color": GREEN, "width": 2, "dash": "dot"}, customdata=hovers(ys["margin_to_date"]),
                   hovertemplate="%{customdata}"),
        go.Scatter(x=months, y=ys["net_profit_to_date"], name=_("Net profit to date"), mode="lines+markers",
                   line={"color": BLUE, "width": 2.5}, marker={"size": 4},
                   customdata=hovers(ys["net_profit_to_date"]), hovertemplate="%{customdata}"),
    ]
    stacked = [(a or 0.0) + (r or 0.0) for a, r in zip(ys["acquisition_cost_allocated"],
                                                       ys["retention_cost_allocated"], strict=True)]
    layout = _layout(
        title=_("Net profit to date, after allocated costs"), subtitle=ctx.subtitle(month=False), height=400,
        barmode="stack", bargap=0.3, hovermode="x unified", shapes=[_month_marker(month)],
        xaxis=_merge(DATE_AXIS, {"title": {"text": _("Month")}}),
        yaxis={"title": {"text": _("To date (%(currency)s)") % {"currency": ctx.currency}},
               **money_axis([*stacked, *ys["margin_to_date"], *ys["net_profit_to_date"]])},
    )
    return go.Figure(data=traces, layout=layout)


def _waterfall(*, labels: list[str], values: list[float], measures: list[str], texts: list[str]) -> go.Waterfall:
    return go.Waterfall(
        x=labels, y=values, measure=measures, text=texts, textposition="outside",
        increasing={"marker": {"color": GREEN}}, decreasing={"marker": {"color": VERMILLION}},
        totals={"marker": {"color": BLUE}}, connector={"line": {"color": "#9aa4b2", "width": 1}},
        hoverinfo="x+text", cliponaxis=False, textfont={"size": 11},
    )


def customer_bridge_figure(*, bridge: CustomerBridge, ctx: FigureContext) -> go.Figure:
    labels = [_("Active at start"), _("+ New"), _("+ Reactivated"), _("− Churned"), _("Active at end")]
    values = [bridge.start, bridge.new, bridge.reactivated, -bridge.churned, 0]
    shown = [bridge.start, bridge.new, bridge.reactivated, -bridge.churned, bridge.end]
    texts = [("+" if v > 0 and 0 < i < 4 else "") + format_number(v) for i, v in enumerate(shown)]
    trace = _waterfall(labels=labels, values=[float(v) for v in values],
                       measures=["absolute", "relative", "relative", "relative", "total"], texts=texts)
    layout = _layout(title=_("Customer bridge"), subtitle=ctx.subtitle(), showlegend=False,
                     margin={"t": 90, "b": 50}, yaxis={"title": {"text": _("Customers")}, "rangemode": "tozero"})
    return go.Figure(data=[trace], layout=layout)


def equity_step_label(name: str) -> str:
    labels = {
        "customers": _("Customer<br>count"),
        "margin": _("Margin per<br>customer"),
        "retention": _("Retention"),
        "discount_rate": _("Discount<br>rate"),
        "rounding": _("Rounding"),
        "restated_data": _("Restated:<br>data"),
        "restated_assumptions": _("Restated:<br>assumptions"),
    }
    return labels[name]


def equity_bridge_figure(*, bridge: EquityBridge, ctx: FigureContext, previous_label: str) -> go.Figure:
    steps = bridge.steps()
    first = _("Published<br>%(month)s") if bridge.from_published else _("Equity<br>%(month)s")
    labels = [first % {"month": previous_label}]
    labels += [equity_step_label(name) for name, _amount in steps]
    labels.append(_("Equity<br>%(month)s") % {"month": ctx.month_label})
    values = [float(bridge.start)] + [float(a) for _n, a in steps] + [0.0]
    measures = ["absolute"] + ["relative"] * len(steps) + ["total"]
    texts = [format_money(bridge.start, decimals=0)]
    texts += [("+" if a > 0 else "") + format_money(a, decimals=2 if n == "rounding" else 0) for n, a in steps]
    texts.append(format_money(bridge.end, decimals=0))
    yaxis: dict[str, Any] = {"title": {"text": _("Customer equity (%(currency)s)") % {"currency": ctx.currency}}}
    annotations = []
    low, high = _bridge_range(bridge)
    yaxis.update(money_axis([], span=(low, high)))
    if low > 0:
        # The steps are small beside the equity itself: start the axis near the lowest level
        # reached so that they can be seen, and say so on the chart.
        yaxis["range"] = [low, high]
        annotations.append({"text": _("The axis does not start at zero."), "xref": "paper", "yref": "paper",
                            "x": 1, "y": 1.01, "xanchor": "right", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 11, "color": GREY}})
    title = _("Equity bridge from the previous month's published equity") if bridge.from_published else _(
        "Equity bridge from the previous month")
    layout = _layout(title=title, subtitle=ctx.subtitle(), showlegend=False,
                     # The step names are two short lines each; a narrow chart angles them (board.js)
                     # rather than letting them run together.
                     margin={"t": 90, "b": 60}, xaxis={"tickangle": 0, "tickfont": {"size": 11}, "automargin": True},
                     yaxis=yaxis,
                     annotations=annotations)
    return go.Figure(data=[_waterfall(labels=labels, values=values, measures=measures, texts=texts)], layout=layout)


def _bridge_range(bridge: EquityBridge) -> tuple[float, float]:
    """The y range that shows every level of the bridge with room for the labels."""
    levels = [float(bridge.start)]
    for _name, amount in bridge.steps():
        levels.append(levels[-1] + float(amount))
    biggest = max([abs(float(a)) for _n, a in bridge.steps()] + [1.0])
    low, high = min(levels), max(levels)
    pad = max(biggest * 1.2, (high - low) * 0.3, abs(high) * 0.02)
    if low - 3 * pad <= 0:
        return 0.0, high + pad
    return low - 3 * pad, high + pad


def segments_figure(*, rows: Sequence[Mapping[str, Any]], dimension_label: str, ctx: FigureContext,
                    labels: Sequence[str], leaning: Sequence[str] = ()) -> go.Figure:
    """Segments of one dimension side by side: equity, CLV, CAC, retention (four panels, one y axis).

    Each bar carries its scope key; the page opens that segment's board when a bar is clicked.
    `leaning`: per row, the note of a segment whose retention leans on the company's rate ("" when
    it does not); its bars are drawn lighter, its label marked, the note in its hover."""
    titles = [
        _("Customer equity (%(currency)s)") % {"currency": ctx.currency},
        _("CLV (%(currency)s)") % {"currency": ctx.currency},
        _("CAC (%(currency)s)") % {"currency": ctx.currency},
        _("Monthly retention r"),
    ]
    colours = [BLUE, ORANGE, VERMILLION, GREEN]
    fields = ["customer_equity", "clv", "cac", "retention_rate"]
    gap = 0.035
    width = (1 - 3 * gap) / 4
    traces = []
    axes: dict[str, Any] = {}
    annotations = []
    notes = list(leaning) or [""] * len(rows)
    marked = [f"{label} *" if note else label for label, note in zip(labels, notes, strict=True)]
    opacity = [0.45 if note else 1.0 for note in notes]
    for col, (field, colour) in enumerate(zip(fields, colours, strict=True), start=1):
        values = [_num(r[field]) for r in rows]
        texts = [
            (format_percent(v) if field == "retention_rate" else format_money(v, decimals=0)) if v is not None
            else _("n/a")
            for v in values
        ]
        suffix = "" if col == 1 else str(col)
        traces.append(
            # A missing figure is a bar of no length that still says "n/a" (a null bar shows nothing).
            go.Bar(y=marked, x=[0.0 if v is None else v for v in values], orientation="h", marker={"color": colour, "opacity": opacity},
                   name=titles[col - 1], text=texts, textposition="auto", insidetextanchor="end", cliponaxis=False,
                   xaxis=f"x{suffix}", yaxis="y",
                   # The scope each bar opens when clicked (drill-down), and the leaning note.
                   customdata=[[f"{r['scope_dimension']}:{r['scope_value']}", plotly_text(n), t]
                               for r, n, t in zip(rows, notes, texts, strict=True)],
                   hovertemplate="%{y}: %{customdata[2]}<br>%{customdata[1]}<extra></extra>")
        )
        left = (col - 1) * (width + gap)
        axis = {"domain": [left, left + width], "anchor": "y", "showticklabels": False, "ticks": "",
                "showgrid": False, "zeroline": True, "zerolinecolor": "#9aa4b2", "linecolor": "#9aa4b2"}
        if field == "retention_rate":
            axis["range"] = [0, 1]
        axes[f"xaxis{suffix}"] = axis
        annotations.append({"text": titles[col - 1], "xref": "paper", "yref": "paper", "x": left + width / 2,
                            "y": 1.0, "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                            "font": {"size": 12, "color": INK}})
    if any(notes):
        annotations.append({"text": _("* few customers: retention leans on the company's rate (lighter bars)"),
                            "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yanchor": "top", "yshift": -4,
                            "xanchor": "left", "showarrow": False, "font": {"size": 11, "color": GREY}})
    layout = _layout(
        title=_("Segments by %(dimension)s") % {"dimension": dimension_label.lower()}, subtitle=ctx.subtitle(),
        height=max(260, 130 + 36 * len(rows)), showlegend=False,
        margin={"t": 100, "l": 110, "b": 40 if any(notes) else 20},
        yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "anchor": "x"},
        annotations=annotations, **axes,
    )
    return go.Figure(data=traces, layout=layout)


def cohort_heatmap_figure(*, cells: Sequence[tuple[dt.date, int, int, int]], month: dt.date,
                          ctx: FigureContext) -> go.Figure:
    """Share of each first-purchase cohort still active, by months since the first purchase."""
    last = month.year * 12 + month.month - 1
    visible = [c for c in cells if c[0].year * 12 + c[0].month - 1 + c[1] <= last]
    cohorts = sorted({c[0] for c in visible})
    width = max((c[1] for c in visible), default=0) + 1
    row_of = {m: i for i, m in enumerate(cohorts)}
    z: list[list[float | None]] = [[None] * width for _m in cohorts]
    # Per cell the counts as numbers, formatted by the hover template: a preformatted text per
    # cell made a long history's heatmap most of the board page's weight.
    counts: list[list[tuple[int, int] | None]] = [[None] * width for _m in cohorts]
    for cohort, since, size, active in visible:
        z[row_of[cohort]][since] = round(active / size, 5) if size else None
        counts[row_of[cohort]][since] = (active, size)
    counted = _("%(active)s of %(size)s active") % {"active": "%{customdata[0]:,}", "size": "%{customdata[1]:,}"}
    trace = go.Heatmap(
        z=z, x=list(range(width)), y=[c.strftime("%Y-%m") for c in cohorts], customdata=counts,
        colorscale="Blues", zmin=0, zmax=1, xgap=1, ygap=1,
        colorbar={"title": {"text": _("Share active")}, "tickformat": ".0%", "thickness": 14},
        hovertemplate=_("Cohort") + " %{y}, +%{x}: %{z:.1%} (" + counted + ")<extra></extra>",
    )
    layout = _layout(
        title=_("Cohort retention: share of each cohort still active"), subtitle=ctx.subtitle(),
        height=max(380, 150 + 13 * len(cohorts)), margin={"b": 60},
        xaxis={"title": {"text": _("Months since first purchase")}, "dtick": 3 if width > 18 else 1},
        yaxis={"title": {"text": _("First-purchase month")}, "autorange": "reversed", "type": "category",
               "gridcolor": "rgba(0,0,0,0)", "dtick": 3 if len(cohorts) > 18 else 1},
    )
    return go.Figure(data=[trace], layout=layout)


def sensitivity_label(name: str) -> str:
    # Two lines each: the labels stay readable beside a narrow (phone) chart.
    labels = {
        "retention": _("Retention<br>±1 point"),
        "margin": _("Margin per customer<br>±10%"),
        "discount_rate": _("Discount rate<br>±1 point"),
    }
    return labels[name]


def tornado_figure(*, rows: Sequence[SensitivityRow], ctx: FigureContext) -> go.Figure:
    """Change of customer equity when each input moves down (one bar) or up (the other).

    The amounts sit outside the ends of their bars (never inside, where they met the labels);
    the x axis is widened to leave them room."""
    labels = [sensitivity_label(r.name) for r in rows]
    changes_all = [c for r in rows for c in (r.low_change, r.high_change)]
    biggest = max([abs(c) for c in changes_all] + [1.0])

    def bars(name: str, changes: list[float], colour: str) -> go.Bar:
        texts = [format_money(Decimal(str(round(c))), decimals=0) for c in changes]
        return go.Bar(y=labels, x=changes, orientation="h", name=name, marker_color=colour,
                      text=texts, textposition="outside", cliponaxis=False, textfont={"size": 11},
                      customdata=texts, hovertemplate="%{customdata}<extra>" + name + "</extra>")

    traces = [
        bars(_("Input lower"), [r.low_change for r in rows], VERMILLION),
        bars(_("Input higher"), [r.high_change for r in rows], BLUE),
    ]
    span = (-biggest * 1.6, biggest * 1.6)
    layout = _layout(
        title=_("Sensitivity of customer equity"), subtitle=ctx.subtitle(), height=340,
        barmode="overlay", bargap=0.35, margin={"l": 20, "r": 20, "t": 80},
        xaxis={"title": {"text": _("Change in customer equity (%(currency)s)") % {"currency": ctx.currency}},
               "zeroline": True, "zerolinecolor": INK, "showgrid": True, "gridcolor": GRID,
               "range": list(span), **money_axis([], span=(-biggest * 1.2, biggest * 1.2))},
        yaxis={"autorange": "reversed", "gridcolor": "rgba(0,0,0,0)", "automargin": True},
    )
    return go.Figure(data=traces, layout=layout)


def figures_json(figures: Mapping[str, go.Figure]) -> str:
    """One JSON object {name: figure}, each figure as plotly.io writes it."""
    return "{" + ",".join(f"{json.dumps(name)}:{pio.to_json(fig, validate=False)}" for name, fig in figures.items()) + "}"
