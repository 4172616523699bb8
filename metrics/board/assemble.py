"""Put the board together: tiles, figures, bridges, explanation, predictions; cached.

1. Read the scope's series, the segments of the chosen dimension, the cohort cells and the
   prediction summary (selectors).
2. Build tiles (value, change against the previous month and a year earlier), the bridges
   and the figures.
3. Cache the result under the data version (selectors.board_data_version), the language, the
   month, the scope and the dimension: a recompute or a prediction fit changes the version, so
   nothing stale is ever served, and a repeated view costs a few small queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clv_dashboard.formatting import MINUS, MISSING, format_money, format_month, format_number, format_percent
from customers.models import SegmentDimension
from metrics.calculations import monthly_discount_rate
from metrics.closing import selectors as closing_selectors
from metrics.closing.selectors import Restatement
from metrics.profitability.selectors import profitability_month_series

from . import figures as figs
from . import selectors, trust, whatif
from .bridge import EquityState, customer_bridge, equity_bridge
from .selectors import Scope
from .whatif import WhatIfInputs, equity_sensitivity

CACHE_SECONDS = 60 * 60
# Change the prefix when BoardData or what it holds changes shape: cached entries are pickles.
CACHE_PREFIX = "board:v5"

# (metric, kind, higher is better)
TILE_SPECS: tuple[tuple[str, str, bool], ...] = (
    ("customer_equity", "money", True),
    ("clv", "money2", True),
    ("customers_end", "count", True),
    ("retention_rate", "share", True),
    ("acquisition_equity", "money", True),
    ("retention_equity", "money", True),
    ("cac", "money2", False),
    ("clv_to_cac", "ratio", True),
)


def tile_label(metric: str) -> str:
    labels = {
        "customer_equity": _("Customer equity"),
        "clv": _("CLV per customer"),
        "customers_end": _("Active customers"),
        "retention_rate": _("Monthly retention"),
        "acquisition_equity": _("Acquisition equity"),
        "retention_equity": _("Retention equity"),
        "cac": _("CAC"),
        "clv_to_cac": _("CLV / CAC"),
        "referral_rate": _("Referrals"),
    }
    return labels[metric]


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return MISSING
    if kind == "money":
        return format_money(value, decimals=0)
    if kind == "money2":
        return format_money(value, decimals=2)
    if kind == "share":
        return format_percent(value, decimals=1)
    if kind == "ratio":
        return format_number(value, decimals=2) + "×"
    return format_number(int(value))


def format_change(value: float, kind: str) -> str:
    sign = "+" if value > 0 else (MINUS if value < 0 else "±")
    size = abs(value)
    if kind in ("money", "money2"):
        return sign + format_money(size, decimals=0 if kind == "money" else 2)
    if kind == "share":
        return sign + _("%(points)s pt") % {"points": f"{size * 100:.1f}"}
    if kind == "ratio":
        return sign + format_number(size, decimals=2) + "×"
    return sign + format_number(round(size))


@dataclass(frozen=True)
class Change:
    against: str  # "previous" or "year"
    label: str
    absolute: str
    percent: str
    tone: str  # good, bad, neutral, none: the colour
    direction: str = "none"  # up, down, flat, none: the arrow


@dataclass(frozen=True)
class Tile:
    metric: str
    label: str
    kind: str
    raw: str  # the stored value, exactly
    display: str
    changes: list[Change]
    note: str = ""
    note_tone: str = ""
    whatif: bool = False
    # A closed month: the published figure, and the restatement since ("" when unchanged).
    published: str = ""
    restated: str = ""
    restated_parts: str = ""


def _change(*, now: Any, then: Any, kind: str, higher_good: bool, against: str, label: str,
            missing: str = "") -> Change:
    """A change as a tile shows it. A change smaller than half the tile's last digit is no
    change (flat, neutral): "▼ −0.0 pt" in red said a fall that the figures do not show.
    Nothing to compare with (the first month): `missing` says so, with no dashes."""
    if now is None or then is None:
        return Change(against=against, label=missing or label, absolute="", percent="", tone="none")
    diff = float(now) - float(then)
    if abs(diff) < RESOLUTION[kind]:
        diff = 0.0
    share = abs(diff) / abs(float(then)) if float(then) != 0 else None
    pct = MISSING if share is None else format_percent(share, decimals=1)
    if pct != MISSING:
        pct = ("±" if diff == 0 else "+" if diff > 0 else MINUS) + pct
    tone = "neutral" if diff == 0 else ("good" if (diff > 0) == higher_good else "bad")
    direction = "flat" if diff == 0 else ("up" if diff > 0 else "down")
    return Change(against=against, label=label, absolute=format_change(diff, kind), percent=pct, tone=tone,
                  direction=direction)


# Below these a what-if difference shows as no change: half the last digit each tile shows.
RESOLUTION = {"money": 0.5, "money2": 0.005, "share": 0.0005, "ratio": 0.005, "count": 0.5}
TILE_KINDS = {metric: (kind, higher_good) for metric, kind, higher_good in TILE_SPECS}


def whatif_change(*, metric: str, value: float | None, stored: float | None) -> Change:
    """A what-if tile's difference against the stored figure, said as the tile's changes are."""
    kind, higher_good = TILE_KINDS[metric]
    if value is not None and stored is not None and abs(value - stored) < RESOLUTION[kind]:
        value = stored
    label = _("vs the stored figure (%(value)s)") % {"value": format_value(stored, kind)}
    return _change(now=value, then=stored, kind=kind, higher_good=higher_good, against="stored", label=label)


def tiles_build(*, row: dict[str, Any], previous: dict[str, Any] | None, year_ago: dict[str, Any] | None,
                company_row: dict[str, Any] | None = None, warm_up: trust.WarmUp | None = None,
                restatement: Restatement | None = None) -> list[Tile]:
    """The headline tiles. `company_row`: the company's figures of the month (None for the
    company itself); `restatement`: the month's, when it is closed."""
    tiles = []
    for metric, kind, higher_good in TILE_SPECS:
        value = row[metric]
        changes = [
            _change(now=value, then=previous[metric] if previous else None, kind=kind, higher_good=higher_good,
                    against="previous", label=_("vs previous month"),
                    missing=_("no previous month to compare with")),
            _change(now=value, then=year_ago[metric] if year_ago else None, kind=kind, higher_good=higher_good,
                    against="year", label=_("vs a year earlier"), missing=_("no figure a year earlier")),
        ]
        note, tone = "", ""
        if metric == "retention_rate":
            note, tone = trust.retention_note(row, company=company_row is None, warm_up=warm_up)
        elif metric == "cac":
            note = trust.cac_note(row, company_row=company_row)
        elif metric == "customers_end":
            note = _("%(new)s new, %(churned)s churned") % {"new": format_number(row["new_customers"]),
                                                            "churned": format_number(row["churned_customers"])}
        restated = trust.tile_restatement(metric, restatement) if restatement and metric in trust.RESTATED_TILES else None
        tiles.append(
            Tile(metric=metric, label=tile_label(metric), kind=kind, raw="" if value is None else str(value),
                 display=format_value(value, kind), changes=changes, note=note, note_tone=tone,
                 whatif=metric in WHATIF_METRICS, published=restated.published if restated else "",
                 restated=restated.change if restated else "", restated_parts=restated.parts if restated else "")
        )
    return tiles


WHATIF_METRICS = frozenset(whatif.WHATIF_METRICS)


def referral_tile(*, row: dict[str, Any], previous: dict[str, Any] | None,
                  restatement: Restatement | None = None) -> Tile:
    """The referrals tile (METRICS.md, Referrals): the referral rate (referred new customers per
    customer at the start) and the referral share of new customers, each against the previous
    month. A month closed before referral figures were published with the others has none
    (None: nothing to show or compare). `restatement`: the month's, when it is closed and shown
    with current figures (the referred new customers as published, and their restatement)."""
    rate, share = row.get("referral_rate"), row.get("referral_share")
    before = previous or {}
    changes = [
        _change(now=rate, then=before.get("referral_rate"), kind="share", higher_good=True, against="previous",
                label=_("rate vs previous month"), missing=_("no referral rate the previous month")),
        _change(now=share, then=before.get("referral_share"), kind="share", higher_good=True,
                against="previous-share", label=_("share vs previous month"),
                missing=_("no referral share the previous month")),
    ]
    referred, new = row.get("referred_new_customers"), row.get("new_customers")
    if referred is None:
        note = _("No referral figures for this month.")
    elif share is None:
        note = _("No new customers this month: no referral share.")
    else:
        note = _("%(share)s of new customers referred (%(referred)s of %(new)s)") % {
            "share": format_percent(share, decimals=1), "referred": format_number(int(referred)),
            "new": format_number(int(new or 0))}
    restated = trust.referral_restatement(restatement) if restatement else None
    return Tile(metric="referral_rate", label=tile_label("referral_rate"), kind="share",
                raw="" if rate is None else str(rate),
                # Without customers at the start there is no rate (METRICS.md): said, not a dash.
                display=format_value(rate, "share") if rate is not None else _("no rate"), changes=changes,
                note=note, published=restated.published if restated else "",
                restated=restated.change if restated else "", restated_parts=restated.parts if restated else "")


def month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def latest_closed_month(months: list[dt.date], *, today: dt.date | None = None) -> dt.date | None:
    """The latest month with figures that has ended; the latest month if none has."""
    if not months:
        return None
    current = (today or timezone.localdate()).replace(day=1)
    closed = [m for m in months if m < current]
    return closed[-1] if closed else months[-1]


def equity_state(row: dict[str, Any]) -> EquityState:
    """The bridge's inputs of one month. The margin is the one behind the stored (rounded) CLV,
    m = CLV x (1 + d - r) / r, so that N x CLV(m, r, d) gives back the stored CLV; it differs
    from the stored margin_per_customer only by the rounding of both to cents."""
    d = monthly_discount_rate(float(row["assumption_set__annual_discount_rate"]))
    r = float(row["retention_rate"])
    margin = float(row["clv"]) * (1 + d - r) / r if r > 0 else float(row["margin_per_customer"])
    return EquityState(customers=int(row["customers_end"]), margin=margin, retention=r, discount_rate=d)


def whatif_defaults(row: dict[str, Any], explain: dict[str, Any] | None = None) -> dict[str, float]:
    """The what-if's starting inputs: the stored ones, unrounded, so that the what-if at its
    start gives back the stored CLV and equities to the cent. The margin behind the stored CLV
    is the window's margin over its customers (the stored margin_per_customer is rounded)."""
    margin = float(row["margin_per_customer"])
    if explain is not None:
        inputs = {i["name"]: i["value"] for i in explain.get("inputs", [])}
        ends = inputs.get("window_customers_end")
        if ends:
            margin = float(inputs["window_gross_margin"]) / ends
    return {
        "retention": float(row["retention_rate"]),
        "margin": margin,
        "discount": float(row["assumption_set__annual_discount_rate"]),
    }


@dataclass
class BoardData:
    empty: bool
    scopes: list[Scope] = field(default_factory=list)
    months: list[dt.date] = field(default_factory=list)
    month: dt.date | None = None
    scope: Scope = selectors.COMPANY_SCOPE
    dimension: str = SegmentDimension.REGION.value
    row: dict[str, Any] | None = None
    previous_month: dt.date | None = None
    tiles: list[Tile] = field(default_factory=list)
    figures_json: str = "{}"
    chart_names: list[str] = field(default_factory=list)
    explain: dict[str, Any] | None = None
    defaults: dict[str, float] = field(default_factory=dict)
    predictions: selectors.PredictionSummary | None = None
    prediction_fit: dict[str, Any] | None = None
    equity_steps: list[tuple[str, Decimal]] = field(default_factory=list)
    scope_months: list[dt.date] = field(default_factory=list)
    # Trust: the warm-up, whether this month is in it, the close of this month (a sentence),
    # and whether the figures shown are the published ones (the pack "as published").
    warm_up: trust.WarmUp | None = None
    in_warm_up: bool = False
    closed_summary: str = ""
    closed: bool = False
    as_published: bool = False
    # The cache key this was stored under; the page's rendered fragments are cached under it too.
    cache_key: str = ""

    @property
    def assumption_version(self) -> int | None:
        return self.row["assumption_set__version"] if self.row else None


def _explain(scope: Scope, month: dt.date) -> dict[str, Any] | None:
    try:
        from metrics.explain import snapshot_explain
    except ImportError:
        return None
    snapshot = selectors.snapshot_for(scope=scope, month=month)
    return snapshot_explain(snapshot=snapshot) if snapshot is not None else None


def _published_over(series: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """The series with every closed month's figures replaced by its published ones."""
    published = {r["month"]: r for r in closing_selectors.published_series(dimension=scope.dimension,
                                                                           value=scope.value)}
    return [published.get(r["month"], r) for r in series]


def board_build(*, scope: Scope, month: dt.date | None, dimension: str | None,
                as_published: bool = False) -> BoardData:
    """Everything the board page shows for one month and scope (uncached). `as_published`:
    closed months show their published figures (the pack of a closed month)."""
    scopes = selectors.board_scopes() if selectors.has_snapshots() else []
    if not scopes:
        return BoardData(empty=True)
    company = selectors.scope_series(selectors.COMPANY_SCOPE)
    months = [r["month"] for r in company]
    series = company if scope.is_company else selectors.scope_series(scope)
    if as_published:
        company = _published_over(company, selectors.COMPANY_SCOPE)
        series = company if scope.is_company else _published_over(series, scope)
    scope_months = [r["month"] for r in series]
    if month is None:
        month = latest_closed_month(months)
    if dimension not in SegmentDimension.values:
        dimension = scope.dimension if not scope.is_company else SegmentDimension.REGION.value
    data = BoardData(empty=False, scopes=scopes, months=months, month=month, scope=scope, dimension=dimension,
                     scope_months=scope_months)
    by_month = {r["month"]: r for r in series}
    row = by_month.get(month) if month else None
    if row is None or month is None:
        return data
    data.row = row
    previous = by_month.get(month_add(month, -1))
    year_ago = by_month.get(month_add(month, -12))
    data.previous_month = previous["month"] if previous else None
    warm_up = trust.warm_up_of(first_month=months[0] if months else None,
                               activity_window=int(row["assumption_set__activity_window_months"]))
    data.warm_up, data.in_warm_up = warm_up, bool(warm_up and warm_up.contains(month))
    restatement = closing_selectors.restatement_for(month=month, dimension=scope.dimension, value=scope.value)
    if restatement is not None and not restatement.missing_published:
        data.closed, data.as_published = True, as_published
        data.closed_summary = trust.close_summary(restatement)
    company_row = None if scope.is_company else next((r for r in company if r["month"] == month), None)
    data.tiles = tiles_build(row=row, previous=previous, year_ago=year_ago, company_row=company_row,
                             warm_up=warm_up,
                             restatement=restatement if restatement and not as_published else None)
    data.tiles.append(referral_tile(row=row, previous=previous,
                                    restatement=restatement if restatement and not as_published else None))
    changes = tuple((c.month, figs.plotly_text(c.label())) for c in trust.source_changes(series))
    ctx = figs.FigureContext(month_label=format_month(month), scope_label=figs.plotly_text(scope.label()),
                             currency=str(settings.CLV_CURRENCY), assumption_version=row["assumption_set__version"],
                             series_versions=tuple(sorted({r["assumption_set__version"] for r in series})),
                             warm_up=(warm_up.first, warm_up.last) if warm_up else None, source_changes=changes)

    figures: dict[str, Any] = {
        "equity_clv": figs.equity_and_clv_figure(series=series, month=month, ctx=ctx),
        "acquisition_retention": figs.acquisition_retention_figure(series=series, month=month, ctx=ctx),
        "customer_bridge": figs.customer_bridge_figure(
            bridge=customer_bridge(
                customers_start=row["customers_start"], new_customers=row["new_customers"],
                reactivated_customers=row["reactivated_customers"], churned_customers=row["churned_customers"],
                customers_end=row["customers_end"],
            ),
            ctx=ctx,
        ),
    }
    if previous is not None:
        bridge = equity_bridge(before=equity_state(previous), after=equity_state(row),
                               stored_start=previous["customer_equity"], stored_end=row["customer_equity"],
                               **_published_start(scope=scope, month=previous["month"], as_published=as_published))
        data.equity_steps = bridge.steps()
        figures["equity_bridge"] = figs.equity_bridge_figure(bridge=bridge, ctx=ctx,
                                                             previous_label=format_month(previous["month"]))
    segments = selectors.segment_rows(month=month, dimension=dimension)
    if segments:
        figures["segments"] = figs.segments_figure(
            rows=segments, dimension_label=selectors.dimension_label(dimension), ctx=ctx,
            labels=[figs.plotly_text(selectors.value_label(r["scope_value"])) for r in segments],
            leaning=[trust.leaning_text(r, company=False) if trust.is_leaning(r) else "" for r in segments],
        )
    profit = profitability_month_series(dimension=scope.dimension, value=scope.value)
    if profit:
        figures["profitability"] = figs.profitability_figure(
            series=profit, month=month, ctx=ctx, closed=sorted(closing_selectors.closed_months()))
    cells = selectors.cohort_cells(scope=scope, until=month)
    if cells:
        figures["cohorts"] = figs.cohort_heatmap_figure(cells=cells, month=month, ctx=ctx)
    data.explain = _explain(scope, month)
    data.defaults = whatif_defaults(row, data.explain)
    inputs = WhatIfInputs(retention=min(data.defaults["retention"], 0.999),
                          margin_per_customer=data.defaults["margin"],
                          annual_discount_rate=data.defaults["discount"])
    figures["tornado"] = figs.tornado_figure(
        rows=equity_sensitivity(inputs=inputs, customers_end=int(row["customers_end"])), ctx=ctx
    )
    data.figures_json = figs.figures_json(figures)
    data.chart_names = list(figures)
    data.predictions = selectors.prediction_summary()
    if data.predictions is None:
        data.prediction_fit = selectors.prediction_fit_latest()
    return data


def _published_start(*, scope: Scope, month: dt.date, as_published: bool) -> dict[str, Any]:
    """The equity bridge's start when the previous month is closed: its published equity and
    the two parts of its restatement (METRICS.md); nothing when it is not closed, or when the
    pack shows the published figures themselves."""
    if as_published:
        return {}
    restatement = closing_selectors.restatement_for(month=month, dimension=scope.dimension, value=scope.value)
    if restatement is None or restatement.missing_published:
        return {}
    equity = restatement.splits["customer_equity"]
    if equity.published is None or equity.data is None or equity.assumptions is None:
        return {}
    return {"published_start": equity.published, "restated_data": equity.data,
            "restated_assumptions": equity.assumptions}


def board_get(*, scope: Scope, month: dt.date | None, dimension: str | None,
              as_published: bool = False) -> BoardData:
    """board_build through the cache, keyed on the data version."""
    version = selectors.board_data_version()
    key = ":".join([
        CACHE_PREFIX, settings.CLV_DATA_CACHE_SALT, version, translation.get_language() or "-", str(settings.CLV_CURRENCY),
        month.isoformat() if month else "-", scope.key, dimension or "-", "published" if as_published else "current",
    ])
    key = CACHE_PREFIX + ":" + hashlib.sha256(key.encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        data = board_build(scope=scope, month=month, dimension=dimension, as_published=as_published)
        data.cache_key = key
        cache.set(key, data, CACHE_SECONDS)
    return data
