"""Reads of the board: snapshots, cohorts, the latest recompute and the prediction summary.

Few queries per page: one for the scope's whole series (which holds this month, the previous
month and the same month a year earlier), one for the segments of one dimension in the month,
one for the scope's cohort cells, one for the list of scopes and months, one aggregate for the
predictions. Everything built from them is cached under `board_data_version()`, which changes
whenever a recompute or a prediction fit writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from asgiref.local import Local
from django.core.signals import request_finished, request_started
from django.db import connection
from django.db.models import Avg, Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clv_dashboard.formatting import punctuation
from customers.models import SegmentDimension
from customers.selectors import dimension_label, value_label  # the board's names of segments
from metrics.models import (
    COMPANY,
    CohortCell,
    CustomerPrediction,
    MonthlySnapshot,
    PredictiveFit,
    RecomputeRun,
    message_translate,
)

ERROR_BAD_SCOPE = gettext_lazy(
    "Unknown scope: use 'company' or '<dimension>:<value>' with a dimension of {dimensions}."
)
ERROR_BAD_MONTH = gettext_lazy("Unknown month: use YYYY-MM, a month the board has figures for.")

# METRICS.md, Referrals: stored on the current snapshots (not on the published ones).
REFERRAL_FIELDS: tuple[str, ...] = ("referred_new_customers", "referral_share", "referral_rate", "referral_equity")
SNAPSHOT_FIELDS: tuple[str, ...] = (
    "pk",
    "month",
    "scope_dimension",
    "scope_value",
    "customers_start",
    "customers_end",
    "new_customers",
    "retained_customers",
    "reactivated_customers",
    "churned_customers",
    "monthly_retention",
    "revenue",
    "gross_margin",
    "retention_rate",
    "retention_source",
    "retention_exposure",
    "margin_per_customer",
    "clv",
    "customer_equity",
    "acquisition_cost",
    "retention_cost",
    "acquisition_equity",
    "retention_equity",
    "cac",
    "clv_to_cac",
    "referred_new_customers",
    "referral_share",
    "referral_rate",
    "referral_equity",
    "computed_at",
    "assumption_set_id",
    "assumption_set__version",
    "assumption_set__annual_discount_rate",
    "assumption_set__activity_window_months",
    "assumption_set__retention_source",
    "assumption_set__assumed_monthly_retention",
    "assumption_set__credibility_weight",
)


@dataclass(frozen=True)
class Scope:
    dimension: str
    value: str = ""

    @property
    def key(self) -> str:
        return COMPANY if self.dimension == COMPANY else f"{self.dimension}:{self.value}"

    @property
    def is_company(self) -> bool:
        return self.dimension == COMPANY

    def label(self) -> str:
        if self.is_company:
            return _("Company")
        return f"{dimension_label(self.dimension)}{punctuation(':')}{value_label(self.value)}"


COMPANY_SCOPE = Scope(COMPANY, "")


def scope_parse(raw: str | None) -> Scope:
    """'company' or '<dimension>:<value>'; raises ValueError with ERROR_BAD_SCOPE otherwise."""
    if not raw or raw == COMPANY:
        return COMPANY_SCOPE
    dimension, sep, value = raw.partition(":")
    if not sep or dimension not in SegmentDimension.values or not value:
        raise ValueError(str(ERROR_BAD_SCOPE).format(dimensions=", ".join(SegmentDimension.values)))
    return Scope(dimension, value)


def month_parse(raw: str | None) -> dt.date | None:
    """'YYYY-MM' (or a full ISO date) to the first day of the month; None when empty."""
    if not raw:
        return None
    try:
        parts = raw.split("-")
        return dt.date(int(parts[0]), int(parts[1]), 1)
    except (ValueError, IndexError) as exc:
        raise ValueError(str(ERROR_BAD_MONTH)) from exc


# One round trip for the whole data version (it is read on every board, API and customers
# request): the latest recompute run, the snapshots' count and newest write, the latest fit and
# import (each with a time, so that a database rebuilt from empty never repeats an old version),
# the closes, the latest profitability write.
_DATA_VERSION_SQL = """
SELECT
  (SELECT id FROM metrics_recomputerun ORDER BY id DESC LIMIT 1),
  (SELECT status FROM metrics_recomputerun ORDER BY id DESC LIMIT 1),
  (SELECT finished_at FROM metrics_recomputerun ORDER BY id DESC LIMIT 1),
  (SELECT MAX(computed_at) FROM metrics_monthlysnapshot),
  (SELECT COUNT(*) FROM metrics_monthlysnapshot),
  (SELECT id FROM metrics_predictivefit ORDER BY id DESC LIMIT 1),
  (SELECT status FROM metrics_predictivefit ORDER BY id DESC LIMIT 1),
  (SELECT MAX(finished_at) FROM metrics_predictivefit),
  (SELECT id FROM customers_importjob ORDER BY id DESC LIMIT 1),
  (SELECT status FROM customers_importjob ORDER BY id DESC LIMIT 1),
  (SELECT MAX(finished_at) FROM customers_importjob),
  (SELECT COUNT(*) FROM metrics_monthclose),
  (SELECT MAX(closed_at) FROM metrics_monthclose),
  (SELECT MAX(reopened_at) FROM metrics_monthclose),
  (SELECT MAX(computed_at) FROM metrics_profitabilitytotals)
"""


# Within one GET request the version is read once (a page may look up several cached parts); a
# GET changes no data. POSTs, tasks and commands read it afresh every time.
_request_memo = Local()


def _memo_start(*, environ: dict[str, Any] | None = None, **_: Any) -> None:
    _request_memo.active = (environ or {}).get("REQUEST_METHOD") in ("GET", "HEAD")
    _request_memo.version = None


def _memo_end(**_: Any) -> None:
    _request_memo.active = False
    _request_memo.version = None


request_started.connect(_memo_start, dispatch_uid="metrics.board.data_version.start")
request_finished.connect(_memo_end, dispatch_uid="metrics.board.data_version.end")


def board_data_version() -> str:
    """A key that changes whenever the board's data changes: recomputes, snapshots, predictions,
    imports, closes and the profitability pass (which may finish after its recompute)."""
    memo = getattr(_request_memo, "active", False)
    if memo and _request_memo.version is not None:
        return str(_request_memo.version)
    with connection.cursor() as cursor:
        cursor.execute(_DATA_VERSION_SQL)
        row = cursor.fetchone()
    version = ".".join("-" if value is None else str(value) for value in row)
    if memo:
        _request_memo.version = version
    return version


def recompute_latest() -> dict[str, Any] | None:
    """The latest recompute run (for the progress banner), as plain values."""
    row = (
        RecomputeRun.objects.order_by("-created_at", "-pk")
        .values("pk", "status", "scopes_total", "scopes_done", "trigger", "created_at", "finished_at", "message",
                "message_parts")
        .first()
    )
    if row is None:
        return None
    # The message in the reader's language (stored as template + values).
    shown: dict[str, Any] = dict(row)
    shown["message"] = message_translate(shown.pop("message"), shown.pop("message_parts"))
    return shown


def board_scopes() -> list[Scope]:
    """Every scope that has snapshots: the company first, then segments by dimension and value."""
    pairs = (
        MonthlySnapshot.objects.values_list("scope_dimension", "scope_value")
        .distinct()
        .order_by("scope_dimension", "scope_value")
    )
    order = {d: i for i, d in enumerate(SegmentDimension.values)}
    scopes = [Scope(d, v) for d, v in pairs if d != COMPANY]
    scopes.sort(key=lambda s: (order.get(s.dimension, 99), s.value == "unassigned", s.value))
    return [COMPANY_SCOPE, *scopes]


def scope_series(scope: Scope) -> list[dict[str, Any]]:
    """Every snapshot of the scope, oldest month first."""
    return list(
        MonthlySnapshot.objects.filter(scope_dimension=scope.dimension, scope_value=scope.value)
        .order_by("month")
        .values(*SNAPSHOT_FIELDS)
    )


def snapshot_row(*, scope: Scope, month: dt.date) -> dict[str, Any] | None:
    """One snapshot of the scope as plain values (the what-if's inputs)."""
    return (
        MonthlySnapshot.objects.filter(scope_dimension=scope.dimension, scope_value=scope.value, month=month)
        .values(*SNAPSHOT_FIELDS)
        .first()
    )


def segment_rows(*, month: dt.date, dimension: str) -> list[dict[str, Any]]:
    """The snapshots of every segment of one dimension in one month."""
    return list(
        MonthlySnapshot.objects.filter(month=month, scope_dimension=dimension)
        .order_by("scope_value")
        .values(*SNAPSHOT_FIELDS)
    )


def month_rows(*, month: dt.date) -> list[dict[str, Any]]:
    """Every scope's snapshot of one month (the export): company first."""
    rows = list(MonthlySnapshot.objects.filter(month=month).values(*SNAPSHOT_FIELDS))
    order = {d: i for i, d in enumerate([COMPANY, *SegmentDimension.values])}
    rows.sort(key=lambda r: (order.get(r["scope_dimension"], 99), r["scope_value"]))
    return rows


def cohort_cells(*, scope: Scope, until: dt.date) -> list[tuple[dt.date, int, int, int]]:
    """(cohort_month, months_since, cohort_size, active_customers) of the scope's cohorts that
    started by `until`; cells beyond `until` are dropped by the caller (they depend on the month)."""
    return list(
        CohortCell.objects.filter(scope_dimension=scope.dimension, scope_value=scope.value, cohort_month__lte=until)
        .order_by("cohort_month", "months_since")
        .values_list("cohort_month", "months_since", "cohort_size", "active_customers")
    )


def snapshot_for(*, scope: Scope, month: dt.date) -> MonthlySnapshot | None:
    return (
        MonthlySnapshot.objects.select_related("assumption_set")
        .filter(scope_dimension=scope.dimension, scope_value=scope.value, month=month)
        .first()
    )


@dataclass(frozen=True)
class TierSummary:
    tier: str
    label: str
    customers: int
    total_clv: Any
    average_clv: Any


@dataclass(frozen=True)
class PredictionSummary:
    tiers: list[TierSummary]
    at_risk: int
    customers: int
    data_date: dt.date | None
    fit_id: int | None


def prediction_summary() -> PredictionSummary | None:
    """Predicted CLV by tier and the at-risk count from the latest fit; None before any fit."""
    rows = list(
        CustomerPrediction.objects.values("tier")
        .annotate(n=Count("pk"), total=Sum("predicted_clv"), average=Avg("predicted_clv"))
        .order_by("tier")
    )
    if not rows:
        return None
    fit = (
        PredictiveFit.objects.filter(status=PredictiveFit.Status.SUCCEEDED)
        .order_by("-pk")
        .values_list("pk", "data_date")
        .first()
    )
    labels = dict(CustomerPrediction.Tier.choices)
    order = {t: i for i, t in enumerate(CustomerPrediction.Tier.values)}
    tiers = [
        TierSummary(tier=r["tier"], label=str(labels.get(r["tier"], r["tier"])), customers=r["n"],
                    total_clv=r["total"], average_clv=r["average"])
        for r in rows
    ]
    tiers.sort(key=lambda t: order.get(t.tier, 99))
    at_risk = sum(t.customers for t in tiers if t.tier == CustomerPrediction.Tier.AT_RISK)
    return PredictionSummary(
        tiers=tiers,
        at_risk=at_risk,
        customers=sum(t.customers for t in tiers),
        data_date=fit[1] if fit else None,
        fit_id=fit[0] if fit else None,
    )


def prediction_fit_latest() -> dict[str, Any] | None:
    """The latest fit of the customer models, whatever its outcome (for the empty state)."""
    row = PredictiveFit.objects.order_by("-pk").values("pk", "status", "message", "message_parts", "finished_at").first()
    if row is None:
        return None
    shown = message_translate(row["message"], row["message_parts"])
    return {"pk": row["pk"], "status": row["status"], "message": shown, "finished_at": row["finished_at"]}


def has_snapshots() -> bool:
    return MonthlySnapshot.objects.filter(Q(scope_dimension=COMPANY)).exists()
