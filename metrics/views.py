"""The assumptions page and the recompute status endpoint."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from clv_dashboard.formatting import format_percent

from . import selectors, services
from .closing.selectors import closing_overview
from .forms import AssumptionsForm
from .models import AssumptionSet, RecomputeRun

PERCENT_FIELDS = ["annual_discount_rate", "assumed_monthly_retention", "default_gross_margin_rate", "model_holdout_share"]
ASSUMPTION_FIELDS = [
    "annual_discount_rate", "activity_window_months", "retention_source", "assumed_monthly_retention",
    "smoothing_window_months", "default_gross_margin_rate", "prediction_horizon_months", "credibility_weight",
    "cost_to_serve_driver", "valuation_horizon_months", "acquisition_projection", "predictive_model",
    "model_holdout_share", "new_customer_age_days",
]


def _with_changes(history: list[AssumptionSet]) -> list[AssumptionSet]:
    """Attach `changed`: the fields each version changed against the one before it (newest first)."""
    for newer, older in zip(history, [*history[1:], None], strict=True):
        newer.changed = (  # type: ignore[attr-defined]
            set() if older is None else {f for f in ASSUMPTION_FIELDS if getattr(newer, f) != getattr(older, f)}
        )
    return history


def _with_percents(assumption_set: AssumptionSet) -> AssumptionSet:
    """Attach pct_<field> display strings (formatted for the active language)."""
    for field in PERCENT_FIELDS:
        setattr(assumption_set, f"pct_{field}", format_percent(getattr(assumption_set, field), decimals=2))
    return assumption_set


def _trigger_label(trigger: str) -> str:
    """What started a run, in the reader's language (RecomputeRun.Trigger, "rerun:<id>")."""
    return RecomputeRun(trigger=trigger).trigger_shown()


def _run_json(run: RecomputeRun) -> dict[str, object]:
    total = run.scopes_total or 0
    return {
        "id": run.pk,
        "trigger": run.trigger,
        "trigger_label": _trigger_label(run.trigger),
        "status": run.status,
        "status_label": str(run.get_status_display()),
        "from_month": f"{run.from_month:%Y-%m}" if run.from_month else None,
        "progress": int(100 * run.scopes_done / total) if total else (100 if run.status == "succeeded" else 0),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": run.duration_seconds,
        "message": run.message_shown,
        "assumption_version": run.assumption_set.version if run.assumption_set else None,
    }


@permission_required("metrics.view_assumptionset", raise_exception=True)
def assumptions(request: HttpRequest) -> HttpResponse:
    """Everyone with view access sees the assumptions and their history; admins change them."""
    can_change = request.user.has_perm("metrics.change_assumptions")
    current = _with_percents(services.assumptions_ensure())
    form = AssumptionsForm(initial=AssumptionsForm.initial_from(current)) if can_change else None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = AssumptionsForm(request.POST)
        if form.is_valid():
            created = services.assumptions_record(
                user=request.user, note=form.cleaned_data["note"], **form.assumption_values()
            )
            messages.success(
                request,
                _("Saved as version %(version)s. The snapshots are being recomputed with it.") % {"version": created.version},
            )
            return redirect("metrics:assumptions")
    runs = list(selectors.recompute_runs_recent(limit=8))
    for run in runs:
        run.trigger_label = _trigger_label(run.trigger)  # type: ignore[attr-defined]
    return render(
        request,
        "metrics/assumptions.html",
        {"current": current, "history": _with_changes([_with_percents(a) for a in selectors.assumptions_history()]),
         "form": form, "can_change": can_change,
         "runs": runs, "active_run": next((r for r in runs if r.status in ("pending", "running")), None),
         "closing": closing_overview(today=timezone.localdate()),
         "can_close": request.user.has_perm("metrics.close_months")},
    )


@permission_required("metrics.view_assumptionset", raise_exception=True)
def recompute_status(request: HttpRequest) -> JsonResponse:
    runs = [_run_json(r) for r in selectors.recompute_runs_recent(limit=5)]
    return JsonResponse({"runs": runs, "running": any(r["status"] in ("pending", "running") for r in runs)})
