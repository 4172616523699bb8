"""The Model check page: how well each model predicted a held-out part of the history."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clv_dashboard.messages import message_translate

from ..maths.purchase_models import MODEL_LABELS
from . import presenters, services
from .charts import conditional_figure, tracking_figure
from .forms import ModelCheckForm

MODEL_CHECK_PERMISSION = "metrics.view_model_check"


@require_GET
@permission_required(MODEL_CHECK_PERMISSION, raise_exception=True)
def model_check(request: HttpRequest) -> HttpResponse:
    form = ModelCheckForm(request.GET or None)
    split = services.split_default(**form.dates())
    result = services.model_check_get(split=split) if split else None
    report = result.report if result else None
    error = result.error if result else None
    return render(request, "predictive/model_check.html", {
        "form": form,
        "split": split,
        "pending": split is not None and result is None,
        "error": message_translate(str(error), [error.as_dict()]) if error else "",
        "report": report,
        "best_label": MODEL_LABELS[report.best] if report and report.best else "",
        "models": presenters.model_rows(report) if report else [],
        "frequency_rows": presenters.frequency_rows(report) if report else [],
        "spend": presenters.spend_shown(report) if report else None,
        "tracking_figure": tracking_figure(report) if report else None,
        "conditional_figure": conditional_figure(report) if report else None,
        "total_actual": presenters.format_count(report.total_actual) if report else "",
    })
