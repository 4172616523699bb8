"""The equity board: the page, its print pack, the what-if, the downloads and the progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from clv_dashboard.formatting import currency_symbol, format_month
from customers.models import SegmentDimension

from . import exports, figures, selectors
from .assemble import TILE_KINDS, BoardData, board_get, format_value, whatif_change
from .whatif import MonthCounts, equity_sensitivity, whatif_compute, whatif_figures, whatif_validate

VIEW_BOARD = "metrics.view_board"
ERROR_NO_SNAPSHOT = gettext_lazy("There are no figures for this month and scope yet.")
# The projector view (?view=projector): large type, the tiles and these three charts.
VIEW_PROJECTOR = "projector"
PROJECTOR_CHARTS = ("equity_clv", "equity_bridge", "acquisition_retention")
ERROR_NO_SUCH_SEGMENT = gettext_lazy("There is no such segment: no customer has {scope}.")
# A what-if retention this close to the stored one (percent and back) is the stored one.
RETENTION_SAME = 1e-9


def _params(request: HttpRequest) -> tuple[selectors.Scope, dt.date | None, str | None]:
    """Scope, month and dimension from the query string; a bad value is a 400 that says why."""
    scope = selectors.scope_parse(request.GET.get("scope"))
    month = selectors.month_parse(request.GET.get("month"))
    dimension = request.GET.get("dimension") or None
    if dimension is not None and dimension not in SegmentDimension.values:
        raise ValueError(_("Unknown dimension: use one of %(dimensions)s.") % {
            "dimensions": ", ".join(SegmentDimension.values)})
    return scope, month, dimension


def _context(request: HttpRequest, data: BoardData) -> dict[str, Any]:
    projector = request.GET.get("view") == VIEW_PROJECTOR
    charts = _charts(data)
    if projector:
        charts = sorted((c for c in charts if c["name"] in PROJECTOR_CHARTS),
                        key=lambda c: PROJECTOR_CHARTS.index(c["name"]))
    run = selectors.recompute_latest()
    running = run is not None and run["status"] in ("pending", "running")
    failed = run is not None and run["status"] == "failed"
    scope_groups: list[tuple[str, list[selectors.Scope]]] = []
    for scope in data.scopes:
        if scope.is_company:
            continue
        label = selectors.dimension_label(scope.dimension)
        if not scope_groups or scope_groups[-1][0] != label:
            scope_groups.append((label, []))
        scope_groups[-1][1].append(scope)
    return {
        "data": data,
        "run": run,
        "running": running,
        "failed": failed,
        "scope_groups": scope_groups,
        "dimensions": SegmentDimension.choices,
        "currency": settings.CLV_CURRENCY,
        "month_label": format_month(data.month) if data.month else "",
        "scope_label": data.scope.label(),
        "query": _query(data),
        "charts": charts,
        "projector": projector,
        # A callable: the template calls it only when the cached fragment has to be rendered.
        "figures_json": lambda: _script_safe(data.figures_json),
    }


def _script_safe(text: str) -> str:
    """JSON that can sit inside a <script> element (as django's json_script escapes it)."""
    return text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026")


def _charts(data: BoardData) -> list[dict[str, Any]]:
    dimension = selectors.dimension_label(data.dimension).lower()
    window = data.row["assumption_set__activity_window_months"] if data.row else 12
    # Every time series says what its shaded months mean.
    warm_up = data.warm_up.caption() if data.warm_up else ""
    return [
        {"name": "equity_clv", "title": _("Customer equity and CLV by month"), "wide": True, "uses_month": False,
         "caption": _("All months; the dotted line marks the chosen month"), "empty": "", "note": warm_up},
        {"name": "acquisition_retention", "title": _("Acquisition and retention equity, with their costs"),
         "wide": True, "uses_month": False, "caption": _("All months"), "empty": "", "note": warm_up},
        {"name": "profitability", "title": _("Net profit to date, after allocated costs"), "wide": True,
         "uses_month": False,
         "caption": _("All months: the customers' margin, the cost allocated to them and their net profit, each to "
                      "date; current figures, closed months included (closing a month publishes its snapshots)"),
         "empty": _("No customer profitability yet: it is computed by the recompute after an import.")},
        {"name": "customer_bridge", "title": _("Customer bridge"), "wide": False, "uses_month": True,
         "caption": _("Active customers at the start and end of the month"), "empty": ""},
        {"name": "equity_bridge", "title": _("Equity bridge from the previous month"), "wide": False,
         "uses_month": True, "caption": _("Shapley split of the change in customer equity"),
         "empty": _("There is no previous month: the equity bridge starts with the second month of data.")},
        {"name": "segments", "title": _("Segments"), "wide": True, "uses_month": True,
         "caption": _("Segments by %(dimension)s; click a bar to open that segment's board") % {
             "dimension": dimension},
         "empty": _("No segment figures for this dimension in this month.")},
        {"name": "cohorts", "title": _("Cohort retention"), "wide": True, "uses_month": True,
         "caption": _("Cohorts by first-purchase month, share still active at each month's close; a customer "
                      "stays active for %(window)s months after a purchase, so the first %(window)s columns are "
                      "full") % {"window": window},
         "empty": _("No cohort figures yet for this scope.")},
    ]


def _query(data: BoardData) -> str:
    if data.month is None:
        return ""
    return urlencode({"month": f"{data.month:%Y-%m}", "scope": data.scope.key, "dimension": data.dimension})


def _export_month(month: dt.date) -> str:
    """The month of an export's "about" sheet in the reader's language, with its ISO form."""
    return f"{format_month(month)} ({month:%Y-%m})"


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_index(request: HttpRequest) -> HttpResponse:
    try:
        scope, month, dimension = _params(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    data = board_get(scope=scope, month=month, dimension=dimension)
    if data.scopes and scope not in data.scopes:
        # A segment no customer has ever had (a typo, an old link) is not "no customers yet".
        return render(request, "metrics/no_such_segment.html", {
            "message": str(ERROR_NO_SUCH_SEGMENT).format(scope=scope.label()),
        }, status=404)
    return render(request, "board/index.html", _context(request, data))


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_pack(request: HttpRequest) -> HttpResponse:
    """The print-ready board for one month and scope (A4 landscape)."""
    try:
        scope, month, dimension = _params(request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    # A closed month prints as published unless ?figures=current.
    as_published = request.GET.get("figures") != "current"
    data = board_get(scope=scope, month=month, dimension=dimension, as_published=as_published)
    if not data.closed and as_published:
        data = board_get(scope=scope, month=month, dimension=dimension)
    context = _context(request, data)
    context["printed_at"] = timezone.localtime()
    # The optional investor page (?investor=1): the customer-based value of the pack's month and scope.
    context["with_investor"] = request.GET.get("investor") == "1"
    if context["with_investor"] and data.row:
        from metrics.valuation.forms import ValuationParams
        from metrics.valuation.views import investor_context

        context["investor"] = investor_context(ValuationParams({"scope": scope.key, "month": f"{data.month:%Y-%m}"}))
    return render(request, "board/pack.html", context)


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_whatif(request: HttpRequest) -> JsonResponse:
    """The month's CLV and equities for other retention, margin and discount rate; nothing stored.

    Retention and the discount rate come in percent, as the page shows them. Each changed tile
    comes back with its new value and its difference against the stored figure."""
    try:
        scope, month, _dimension = _params(request)
        inputs = whatif_validate(
            retention_percent=request.GET.get("retention_pct"),
            margin_per_customer=request.GET.get("margin"),
            annual_discount_rate_percent=request.GET.get("discount_pct"),
        )
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if month is None:
        return JsonResponse({"error": str(selectors.ERROR_BAD_MONTH)}, status=400)
    row = selectors.snapshot_row(scope=scope, month=month)
    if row is None:
        return JsonResponse({"error": str(ERROR_NO_SNAPSHOT)}, status=404)
    counts = MonthCounts(
        customers_end=row["customers_end"], new_customers=row["new_customers"],
        retained_customers=row["retained_customers"], acquisition_cost=float(row["acquisition_cost"]),
        retention_cost=float(row["retention_cost"]), cac=float(row["cac"]) if row["cac"] is not None else None,
    )
    result = whatif_compute(inputs=inputs, counts=counts)
    ctx = figures.FigureContext(month_label=format_month(month), scope_label=figures.plotly_text(scope.label()),
                                currency=str(settings.CLV_CURRENCY), assumption_version=row["assumption_set__version"])
    tornado = figures.tornado_figure(rows=equity_sensitivity(inputs=inputs, customers_end=counts.customers_end), ctx=ctx)
    moved = abs(inputs.retention - float(row["retention_rate"])) > RETENTION_SAME
    tiles = {}
    for figure in whatif_figures(inputs=inputs, result=result, stored=row, retention_moved=moved):
        kind = TILE_KINDS[figure.metric][0]
        change = whatif_change(metric=figure.metric, value=figure.value, stored=figure.stored)
        tiles[figure.metric] = {
            "value": figure.value, "display": format_value(figure.value, kind), "stored": str(row[figure.metric]),
            "change": asdict(change),
        }
    payload = {
        "tiles": tiles,
        "monthly_discount_rate": result.monthly_discount_rate,
        "tornado": figures.pio.to_json(tornado, validate=False),
    }
    return JsonResponse(payload)


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_status(request: HttpRequest) -> JsonResponse:
    """Progress of the latest recompute, polled while one runs."""
    run = selectors.recompute_latest()
    if run is None:
        return JsonResponse({"status": "none", "percent": 0, "done": True})
    total = run["scopes_total"] or 0
    percent = int(100 * run["scopes_done"] / total) if total else 0
    done = run["status"] not in ("pending", "running")
    return JsonResponse({
        "status": run["status"], "percent": percent, "done": done, "scopes_done": run["scopes_done"],
        "scopes_total": total, "message": run["message"],
    })


def _export_table(request: HttpRequest) -> exports.ExportTable:
    try:
        month = selectors.month_parse(request.GET.get("month"))
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    if month is None:
        raise Http404(str(selectors.ERROR_BAD_MONTH))
    rows = selectors.month_rows(month=month)
    if not rows:
        raise Http404(str(ERROR_NO_SNAPSHOT))
    table_rows = []
    for row in rows:
        table_rows.append({
            **{c: row.get(c) for c in exports.COLUMNS if c in row},
            "month": month,
            "assumption_version": row["assumption_set__version"],
        })
    return exports.ExportTable(month=month, currency=str(settings.CLV_CURRENCY), rows=table_rows)


def _filename(month: dt.date, ext: str) -> str:
    return f"customer-equity-{month:%Y-%m}.{ext}"


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_export_csv(request: HttpRequest) -> HttpResponse:
    table = _export_table(request)
    response = HttpResponse(exports.export_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(table.month, "csv")}"'
    return response


@require_GET
@permission_required(VIEW_BOARD, raise_exception=True)
def board_export_xlsx(request: HttpRequest) -> HttpResponse:
    table = _export_table(request)
    versions = sorted({str(r["assumption_version"]) for r in table.rows})
    about = [
        (_("Month"), _export_month(table.month)),
        (_("Currency"), table.currency),
        (_("Amounts"), _("in %(currency)s (%(symbol)s), as plain numbers; a negative number has an ASCII "
                         "minus sign, as spreadsheets read it") % {"currency": table.currency,
                                                                  "symbol": currency_symbol()}),
        (_("Assumption version"), ", ".join(versions)),
        (_("Exported at"), timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")),
        (_("Definitions"), _("Column names are the metric names of the metrics reference (METRICS.md).")),
    ]
    response = HttpResponse(
        exports.export_xlsx(table, about=about),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(table.month, "xlsx")}"'
    return response



