"""The customers pages: the predictions table, one customer's detail, the CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clv_dashboard.background import MSG_FIT_UNAVAILABLE, task_send
from customers.models import Customer
from metrics.datacache import versioned_get, versioned_key
from metrics.profitability.selectors import customer_profitability_months
from metrics.referrals.selectors import customer_referrals

from . import selectors
from .charts import p_alive_figure, purchase_history_figure
from .exports import csv_rows
from .forms import PredictionFilterForm
from .presenters import fit_facts, prediction_row, tier_tiles

VIEW_PERMISSION = "metrics.view_customerprediction"
REFIT_PERMISSION = "customers.manage_imports"
PAGE_SIZE = 50
COLUMNS = [
    ("customer", gettext_lazy("Customer")), ("tier", gettext_lazy("Tier")), ("p_alive", gettext_lazy("P(alive)")),
    ("purchases", gettext_lazy("Expected purchases, 12 months")),
    ("spend", gettext_lazy("Expected spend per purchase")),
    ("clv", gettext_lazy("Predicted CLV")), ("net", gettext_lazy("Net profit")),
    ("margin", gettext_lazy("Historic margin")),
]


class _CountedPaginator(Paginator):
    """A paginator told its count (cached under the data version) instead of counting every
    matching prediction on each page view."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def _filter_form(request: HttpRequest) -> PredictionFilterForm:
    form = PredictionFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    return form


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def customers_list(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    filters = form.filters()
    # The fit in place and the latest one change only with the data version (which reads the
    # latest fit's id and status); a fit under way is read afresh, for its progress.
    current, latest = versioned_get(name="customers-fits", parts=[],
                                    compute=lambda: (selectors.fit_current(), selectors.fit_latest()))
    if selectors.fit_is_running(latest):
        current, latest = selectors.fit_current(), selectors.fit_latest()
    page = _CountedPaginator(selectors.predictions_list(filters=filters), PAGE_SIZE,
                             count=selectors.predictions_count(filters=filters)).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    columns = [
        {"key": key, "label": label, "sorted": filters.sort.lstrip("-") == key,
         "descending": filters.sort.startswith("-"),
         "next": key if filters.sort == f"-{key}" else f"-{key}"}
        for key, label in [(k, str(v)) for k, v in COLUMNS]
    ]
    return render(request, "predictive/customers_list.html", {
        "form": form,
        "page_obj": page,
        # A callable: the template calls it only when its cached table has to be rendered.
        "rows": lambda: [prediction_row(p) for p in page],
        "filters_key": versioned_key(name="customers-filters", parts=[request.GET.urlencode()]),
        "table_key": versioned_key(name="customers-table", parts=[request.GET.urlencode()]),
        "fit": current,
        "facts": fit_facts(current) if current else None,
        "latest": latest,
        "fit_running": selectors.fit_is_running(latest),
        "tiers": tier_tiles(selectors.predictions_by_tier()) if current else [],
        "columns": columns,
        "labels": {c["key"]: c["label"] for c in columns},  # each cell's, for the phone layout
        "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
        "can_refit": request.user.has_perm(REFIT_PERMISSION),
        "can_check_models": request.user.has_perm("metrics.view_model_check"),
    })


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    prediction = selectors.customer_prediction(customer_id=customer.pk)
    fit = prediction.fit if prediction else selectors.fit_current()
    data_date = fit.data_date if fit else None
    daily = selectors.customer_daily_transactions(customer_id=customer.pk)
    return render(request, "predictive/customer_detail.html", {
        "customer": customer,
        "prediction": prediction,
        "row": prediction_row(prediction) if prediction else None,
        "fit": fit,
        "history_figure": purchase_history_figure(daily),
        "p_alive_figure": p_alive_figure(daily[daily["day"] <= data_date] if data_date and not daily.empty else daily,
                                         fit=fit, data_date=data_date),
        "n_purchase_days": int(daily["is_purchase"].sum()) if not daily.empty else 0,
        "referrals": customer_referrals(customer_pk=customer.pk),
        "profit_months": customer_profitability_months(customer=customer),
    })


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def customers_export(request: HttpRequest) -> StreamingHttpResponse:
    filters = _filter_form(request).filters()
    response = StreamingHttpResponse(csv_rows(selectors.predictions_list(filters=filters)),
                                     content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="customer-values-{stamp}.csv"'
    return response


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def fit_status(request: HttpRequest) -> JsonResponse:
    latest = selectors.fit_latest()
    if latest is None:
        return JsonResponse({"status": "none", "done": True})
    return JsonResponse({
        "id": latest.pk,
        "status": latest.status,
        "status_label": str(latest.get_status_display()),
        "done": not selectors.fit_is_running(latest),
        "message": latest.message_shown,
        "started_at": latest.started_at.isoformat(),
        "duration_seconds": latest.duration_seconds,
    })


@require_POST
@permission_required(REFIT_PERMISSION, raise_exception=True)
def fit_request(request: HttpRequest) -> HttpResponse:
    from .tasks import fit_clv_models

    if not task_send(fit_clv_models, kwargs={"trigger": "page"}):
        messages.error(request, str(MSG_FIT_UNAVAILABLE))
        return redirect("predictive:list")
    messages.success(request, _("The models are being fitted; the table updates when the fit is done."))
    return redirect("predictive:list")
