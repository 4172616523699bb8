"""The Profitability page: the whale curve, the most and least profitable customers, the CSV."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clv_dashboard.formatting import format_money, format_month
from clv_dashboard.spreadsheets import spreadsheet_safe

from . import selectors
from .forms import ProfitabilityFilterForm
from .maths import whale_curve
from .presenters import customer_row, whale_figure, whale_headline

VIEW_PERMISSION = "metrics.view_board"
TABLE_ROWS = 20
EXPORT_COLUMNS = [
    "customer_id", "name", "tier", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
    "net_profit_to_date", "referrals_made", "referral_margin",
]


def _form(request: HttpRequest) -> ProfitabilityFilterForm:
    return ProfitabilityFilterForm(request.GET or None)


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def profitability(request: HttpRequest) -> HttpResponse:
    form = _form(request)
    filters = form.filters()
    rows = selectors.profitability_queryset(**filters)
    curve = whale_curve([float(v) for v in rows.values_list("net_profit_to_date", flat=True)])
    totals = selectors.profitability_totals()
    ordered = rows.order_by("-net_profit_to_date", "customer__external_id")
    return render(request, "profitability/index.html", {
        "form": form,
        "curve": curve,
        "headline": whale_headline(curve),
        "figure": whale_figure(curve),
        "totals": totals,
        "month": format_month(totals.month) if totals else None,
        "money": {name: format_money(getattr(totals, name)) for name in (
            "margin_to_date", "acquisition_cost", "retention_cost", "acquisition_cost_allocated",
            "retention_cost_allocated", "acquisition_cost_unallocated", "retention_cost_unallocated",
            "net_profit_to_date")} if totals else {},
        "most": [customer_row(r) for r in ordered[:TABLE_ROWS]],
        "least": [customer_row(r) for r in rows.order_by("net_profit_to_date", "customer__external_id")[:TABLE_ROWS]],
        "query": request.GET.urlencode(),
    })


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def profitability_export(request: HttpRequest) -> HttpResponse:
    """Every customer of the filters, most profitable first: UTF-8 with a BOM (Excel reads Chinese
    right), text cells defused against formula injection, money as plain decimals."""
    rows = selectors.profitability_queryset(**_form(request).filters()).order_by(
        "-net_profit_to_date", "customer__external_id")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows.iterator(chunk_size=5000):
        prediction = getattr(row.customer, "prediction", None)
        writer.writerow([
            spreadsheet_safe(row.customer.external_id), spreadsheet_safe(row.customer.name),
            prediction.tier if prediction else "", row.margin_to_date, row.acquisition_cost_allocated,
            row.retention_cost_allocated, row.net_profit_to_date, row.referrals_made, row.referral_margin,
        ])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customer-profitability-{timezone.localdate()}.csv"'
    return response
