"""The Investor view: customer-based value of the company or a segment, and the market value form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clv_dashboard.formatting import format_money, format_percent

from ..datacache import versioned_get
from ..models import AcquisitionProjection, AssumptionSet
from . import presenters, selectors, services
from .forms import MarketValueForm, ValuationParams

VIEW_PERMISSION = "metrics.view_board"
CHANGE_MARKET_VALUE = "metrics.change_market_value"


def investor_context(params: ValuationParams) -> dict[str, Any]:
    """Everything the page (and the board pack's investor page) shows for the chosen scope:
    a curve fit and a projection per segment, so cached under the data version with the
    parameters, the assumption version (its defaults) and the market value's version."""
    market = selectors.market_value_current()
    assumptions = AssumptionSet.objects.order_by("-pk").values_list("pk", flat=True).first()
    parts = [params.scope.key, params.month.isoformat() if params.month else "-", params.model or "-",
             str(params.horizon or "-"), f"assumptions={assumptions}", f"market={market.version if market else '-'}"]
    return versioned_get(name="valuation", parts=parts, compute=lambda: _investor_context(params))


def _investor_context(params: ValuationParams) -> dict[str, Any]:
    v = services.valuation_compute(scope=params.scope, month=params.month, model=params.model, horizon=params.horizon)
    segments: list[services.ScopeValuation] = []
    if v.month is not None and v.assumption_set is not None:
        lapses = v.lapses if v.lapses is not None else selectors.lapses_for(window=v.window)
        company = v if v.scope.is_company else services.valuation_compute(
            month=v.month, model=v.model, horizon=v.horizon, lapses=lapses)
        curve = services.company_curve_for(valuation_=company, lapses=lapses)
        segments = [company, *services.valuations_for_segments(month=v.month, model=v.model, horizon=v.horizon,
                                                               lapses=lapses, company_curve=curve)]
    return {
        "v": v,
        "headline": presenters.headline(v) if v.result else None,
        "gap": presenters.gap_sentence(v),
        "projection_note": presenters.projection_note(v),
        "projection_caution": presenters.projection_caution(v),
        "fit": presenters.fit_row(v),
        "figures": presenters.figures(v),
        "elasticities": [{"label": presenters.elasticity_label(e.key), "key": e.key,
                          "percent": "–" if e.percent is None else format_percent(e.percent / 100, decimals=2),
                          "change": format_money(e.change, decimals=0)} for e in v.elasticities],
        "segments": [presenters.segment_row(s) for s in segments],
        "models": AcquisitionProjection.choices,
        "model_label": presenters.model_label(v.model),
        "scope_label": v.scope.label(),
        "retention_label": presenters.elasticity_label("retention"),
    }


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def investor_view(request: HttpRequest) -> HttpResponse:
    params = ValuationParams(request.GET.dict())
    if params.errors:
        return render(request, "request_refused.html", {"message": " ".join(params.errors), "status": 400}, status=400)
    context = investor_context(params)
    can_enter = request.user.has_perm(CHANGE_MARKET_VALUE)
    context.update({
        "can_enter_market_value": can_enter,
        "market_form": MarketValueForm() if can_enter else None,
        "market_history": selectors.market_value_history(limit=5) if can_enter else [],
        "query": request.GET.urlencode(),
    })
    return render(request, "metrics/valuation/index.html", context)


@require_POST
@permission_required(CHANGE_MARKET_VALUE, raise_exception=True)
def market_value(request: HttpRequest) -> HttpResponse:
    form = MarketValueForm(request.POST)
    if form.is_valid():
        created = services.market_value_record(user=request.user, amount=form.cleaned_data["amount"],
                                               as_of=form.cleaned_data["as_of"], note=form.cleaned_data["note"])
        messages.success(request, _("Market value saved as version %(version)s.") % {"version": created.version})
    else:
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items()
                             if name in form.fields)
        messages.error(request, _("The market value was not saved: %(problems)s") % {"problems": problems})
    return redirect("valuation:index")
