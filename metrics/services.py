"""Writes of the metrics app: assumptions, snapshot recomputes."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from clv_dashboard.background import heartbeat
from clv_dashboard.messages import message_part

from .calculations import (
    Assumptions,
    MonthMetrics,
    Prior,
    month_from_index,
    month_index,
    prior_from,
    segment_costs,
    snapshot_metrics,
)
from .models import COMPANY, DEFAULT_NOTE, AssumptionSet, CohortCell, MonthlySnapshot, RecomputeRun
from .referrals.maths import referral_figures
from .selectors import (
    DIMENSIONS,
    MONTH_COLUMNS,
    Stage,
    activity_state_as_of,
    assumptions_values,
    cost_entries_by_scope,
    cost_scopes,
    dimension_aggregates,
    history_available,
    snapshot_history,
    stage_build,
    stage_drop,
    stage_plan,
    stage_run_ids,
    stored_scopes,
    transactions_month_range,
)

logger = logging.getLogger(__name__)

ERROR_NOTE_REQUIRED = "Say why the assumptions change: the note is required."
ERROR_RUN_NOT_RUNNING = "Recompute run #{pk} is {status}, not running."
CENT = Decimal("0.01")
# The trigger of the monthly job's recompute (clv_dashboard/celery.py).
SCHEDULE_TRIGGER = "schedule"
SNAPSHOT_FIELDS = [
    "customers_start", "customers_end", "new_customers", "retained_customers", "reactivated_customers",
    "churned_customers", "monthly_retention", "revenue", "gross_margin", "retention_rate", "retention_source",
    "retention_exposure", "margin_per_customer", "clv", "customer_equity", "acquisition_cost", "retention_cost", "acquisition_equity",
    "retention_equity", "cac", "clv_to_cac",
    "referred_new_customers", "referral_share", "referral_rate", "referral_equity",
]
MONEY_FIELDS = {
    "revenue", "gross_margin", "margin_per_customer", "clv", "customer_equity", "acquisition_cost",
    "retention_cost", "acquisition_equity", "retention_equity", "cac", "referral_equity",
}
# Fault injection for the crash test: when set to a file path, the recompute of a scope group
# creates that file after writing its rows, inside the transaction, and waits there.
# Stored on a failed run as template + values (RecomputeRun.message_parts).
MSG_RUN_ABANDONED = _("abandoned: its worker stopped")
MSG_RUN_RESTATEMENTS = _("restatements of the closed months: {error}")
MSG_RUN_PROFITABILITY = _("customer profitability: {error}")
PAUSE_ENV = "CLV_RECOMPUTE_PAUSE_FILE"
_local_locks: dict[str, threading.Lock] = {}


# --- Assumptions ------------------------------------------------------------------------------


def assumptions_record(*, user: Any, note: str, recompute: bool = True, **values: Any) -> AssumptionSet:
    """Store a new version of the assumptions (never edit an old one) and ask for a recompute."""
    if not note or not note.strip():
        raise ValueError(ERROR_NOTE_REQUIRED)
    with transaction.atomic():
        latest = AssumptionSet.objects.select_for_update().order_by("-version").first()
        base = {
            f: getattr(latest, f)
            for f in ["annual_discount_rate", "activity_window_months", "retention_source",
                      "assumed_monthly_retention", "smoothing_window_months", "default_gross_margin_rate",
                      "prediction_horizon_months", "credibility_weight", "cost_to_serve_driver",
                      "valuation_horizon_months", "acquisition_projection", "predictive_model",
                      "model_holdout_share", "new_customer_age_days"]
        } if latest else {}
        base.update(values)
        created = AssumptionSet(version=(latest.version + 1) if latest else 1, created_by=user, note=note.strip(), **base)
        created.full_clean()
        created.save()
        audit_record(action="assumptions_change", actor=user, target=created, details={"version": created.version, "note": created.note, "values": values})
        if recompute:
            snapshots_request_recompute(trigger="assumptions")
    return created


def assumptions_ensure() -> AssumptionSet:
    """The assumptions in force; version 1 with METRICS.md's defaults when there are none."""
    latest = AssumptionSet.objects.order_by("-version").first()
    if latest is None:
        latest, _created = AssumptionSet.objects.get_or_create(version=1, defaults={"note": DEFAULT_NOTE})
    return latest


def assumptions_ensure_after_migrate(*, apps: Any = None, using: str = "default", **kwargs: Any) -> None:
    """Version 1 of the assumptions after a migrate (`apps`: the migrated state's models), and
    after a `flush` (which sends the same signal, without `apps`, and would otherwise leave a
    database without the defaults its migrations made)."""
    try:
        model = (apps or django_apps).get_model("metrics", "AssumptionSet")
    except LookupError:  # migrated to before the model existed
        return
    if not model.objects.using(using).exists():
        model.objects.using(using).create(version=1, note=DEFAULT_NOTE)


# --- Recompute --------------------------------------------------------------------------------


def snapshots_request_recompute(*, from_month: dt.date | None = None, trigger: str) -> None:
    """Ask for a recompute once the current transaction commits (the hook imports call)."""
    month = from_month.isoformat() if from_month else None
    transaction.on_commit(lambda: recompute_send(from_month=month, trigger=trigger))


def recompute_send(*, from_month: str | None, trigger: str) -> None:
    """Queue a recompute. With the broker unreachable, a waiting run is stored instead, under
    the task id it will have; metrics.recovery queues it when the service is back."""
    from clv_dashboard.background import task_send

    from .tasks import recompute_snapshots

    task_id = uuid.uuid4().hex
    kwargs = {"from_month": from_month, "trigger": trigger}
    if not task_send(recompute_snapshots, kwargs=kwargs, task_id=task_id):
        recompute_run_create(trigger=trigger, from_month=dt.date.fromisoformat(from_month) if from_month else None,
                             celery_task_id=task_id)


def recompute_run_create(*, trigger: str, from_month: dt.date | None = None, celery_task_id: str = "") -> RecomputeRun:
    return RecomputeRun.objects.create(
        trigger=trigger[:30],
        from_month=from_month.replace(day=1) if from_month else None,
        celery_task_id=celery_task_id,
    )


def recompute_run_start(*, run: RecomputeRun) -> RecomputeRun:
    """Claim the run: PENDING -> RUNNING with the assumptions in force now (idempotent)."""
    assumption_set = assumptions_ensure()
    RecomputeRun.objects.filter(pk=run.pk, status=RecomputeRun.Status.PENDING).update(
        status=RecomputeRun.Status.RUNNING, started_at=timezone.now(), assumption_set=assumption_set,
        scopes_total=len(DIMENSIONS), scopes_done=0,
    )
    # Runs left RUNNING by a worker that died long ago are recorded as failed.
    stale = timezone.now() - dt.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 3600)))
    RecomputeRun.objects.filter(status=RecomputeRun.Status.RUNNING, started_at__lt=stale).exclude(pk=run.pk).update(
        status=RecomputeRun.Status.FAILED, message=str(MSG_RUN_ABANDONED),
        message_parts=[message_part(MSG_RUN_ABANDONED)], finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def recompute_run_finish(*, run: RecomputeRun, status: str = RecomputeRun.Status.SUCCEEDED, message: str = "",
                         parts: list[dict[str, Any]] | None = None) -> RecomputeRun:
    """Record how a run ended. A successful run first brings the restatements of the closed
    months up to date, and the monthly run then closes the month just ended (if configured)."""
    run.refresh_from_db()
    if run.status != RecomputeRun.Status.RUNNING:
        return run
    if status == RecomputeRun.Status.SUCCEEDED:
        from .closing.services import month_close_due, restatements_refresh

        try:
            # A recompute of the closed months may take a while: the run stays visibly alive.
            with heartbeat(RecomputeRun, run.pk):
                restatements_refresh(run=run)
        except Exception as exc:  # recorded as the run's failure, with its reason
            logger.exception("recompute #%s: restatements failed", run.pk)
            status, message = RecomputeRun.Status.FAILED, str(MSG_RUN_RESTATEMENTS).format(error=exc)
            parts = [message_part(MSG_RUN_RESTATEMENTS, error=exc)]
    # Customer profitability: a full run allocates now, from its own stage tables (about 3 s at
    # 1M transactions); an incremental run with a worker hands the allocation (over the whole
    # history, though it re-reads only the recomputed months) to a task of its own.
    profitability = status == RecomputeRun.Status.SUCCEEDED and getattr(
        settings, "CLV_PROFITABILITY_AFTER_RECOMPUTE", True)
    deferred = profitability and run.from_month is not None and not settings.CELERY_TASK_ALWAYS_EAGER
    if profitability and not deferred:
        from .profitability.services import profitability_recompute

        try:
            with heartbeat(RecomputeRun, run.pk):
                profitability_recompute(run=run)
        except Exception as exc:  # recorded as the run's failure, with its reason
            logger.exception("recompute #%s: customer profitability failed", run.pk)
            status, message = RecomputeRun.Status.FAILED, str(MSG_RUN_PROFITABILITY).format(error=exc)
            parts = [message_part(MSG_RUN_PROFITABILITY, error=exc)]
    # The customer-based valuation of the latest month (metrics.valuation): the first lapses (from
    # a full run's stage tables, otherwise one pass over the purchase months) and a few small fits;
    # a failure is logged and leaves the earlier rows.
    if status == RecomputeRun.Status.SUCCEEDED and getattr(settings, "CLV_VALUATION_AFTER_RECOMPUTE", True):
        from .valuation.services import valuations_recompute

        try:
            # A savepoint: a failed statement must not leave an enclosing transaction aborted.
            with transaction.atomic():
                valuations_recompute(run=run)
        except Exception:
            logger.exception("recompute #%s: customer valuation failed", run.pk)
    now = timezone.now()
    run.status = status
    run.finished_at = now
    run.duration_seconds = (now - run.started_at).total_seconds() if run.started_at else None
    if message:
        run.message = message[:2000]
        run.message_parts = parts or []
    # One transaction: whoever sees the run ended sees its stage gone (a worker dying between
    # the two left the tables behind, and a reader could see them for a moment).
    with transaction.atomic():
        run.save(update_fields=["status", "finished_at", "duration_seconds", "message", "message_parts"])
        stage_drop(run_id=run.pk, label=None)
    if status == RecomputeRun.Status.SUCCEEDED and run.trigger == SCHEDULE_TRIGGER:
        month_close_due()
    if deferred:
        from .tasks import profitability_after_recompute

        run_id = run.pk
        transaction.on_commit(lambda: profitability_after_recompute.delay(run_id=run_id))
    if status == RecomputeRun.Status.SUCCEEDED and getattr(settings, "CLV_FIT_AFTER_RECOMPUTE", True):
        from metrics.predictive.tasks import fit_clv_models

        trigger = f"recompute:{run.pk}"
        transaction.on_commit(lambda: fit_clv_models.delay(trigger=trigger))
    return run


@contextlib.contextmanager
def _scope_lock(dimension: str) -> Iterator[None]:
    """Hold the lock of one scope group for the rest of the current transaction.

    PostgreSQL: a transaction-level advisory lock, released by commit, rollback or a dropped
    connection (a killed worker never leaves it held). SQLite (the demo): a process lock; SQLite
    itself lets one writer at a time."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"clv-recompute:{dimension}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        yield
    else:
        lock = _local_locks.setdefault(dimension, threading.Lock())
        with lock:
            yield


def _money(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


def _snapshot_row(*, metrics: MonthMetrics, dimension: str, scope: str, assumption_set: AssumptionSet,
                  computed_at: dt.datetime) -> MonthlySnapshot:
    values: dict[str, Any] = {}
    for field in SNAPSHOT_FIELDS:
        value = getattr(metrics, field)
        values[field] = _money(value) if field in MONEY_FIELDS else value
    return MonthlySnapshot(
        month=month_from_index(metrics.month), scope_dimension=dimension, scope_value=scope,
        assumption_set=assumption_set, computed_at=computed_at, **values,
    )


def pause_for_fault_injection() -> None:
    path = os.environ.get(PAUSE_ENV)
    if path:
        Path(path).write_text(str(os.getpid()))
        time.sleep(float(os.environ.get("CLV_RECOMPUTE_PAUSE_SECONDS", "120")))


def snapshots_stage_prepare(*, run: RecomputeRun, partitions: int = 1) -> Stage | None:
    """Build the run's per-customer tables (selectors.stage_build, or in `partitions`
    customer-hash partitions and their sum, metrics.partitions); None when there are no
    transactions."""
    stage = snapshots_stage_plan(run=run)
    if stage is None:
        return None
    assumptions = assumptions_values(assumption_set=run.assumption_set or assumptions_ensure())
    if partitions > 1:
        from .partitions.services import stage_build_partitioned

        stage_build_partitioned(run=run, stage=stage, assumptions=assumptions, parts=partitions)
    else:
        started = time.monotonic()
        stage_build(stage=stage, assumptions=assumptions)
        logger.info("recompute #%s: stage (single pass) in %.2fs", run.pk, time.monotonic() - started)
    return stage


def snapshots_stage_plan(*, run: RecomputeRun) -> Stage | None:
    """Which months the run reads (selectors.stage_plan); None when there are no transactions.
    Stage tables of runs that are over (a crashed worker leaves them) are dropped."""
    for run_id in stage_run_ids():
        if run_id != run.pk and not RecomputeRun.objects.filter(pk=run_id, status=RecomputeRun.Status.RUNNING).exists():
            stage_drop(run_id=run_id, label=None)
    data_range = transactions_month_range()
    if data_range is None:
        return None
    assumption_set = run.assumption_set or assumptions_ensure()
    assumptions = assumptions_values(assumption_set=assumption_set)
    from_index = month_index(run.from_month) if run.from_month else None
    history = False
    if from_index is not None:
        history = history_available(
            assumption_set_id=assumption_set.pk,
            month_from=max(data_range.first_month, from_index - assumptions.smoothing_window + 1),
            month_to=from_index - 1,
        )
    state_as_of = activity_state_as_of() if history else None
    return stage_plan(run_id=run.pk, assumptions=assumptions, data_range=data_range, from_month=from_index,
                      history_available=history, state_as_of=state_as_of)


def snapshots_recompute_dimension(*, run: RecomputeRun, dimension: str, stage: Stage | None) -> int:
    """Recompute the snapshots and cohort cells of one scope group (the company or one segment
    dimension) in one transaction, under that group's lock. Returns the snapshots written.

    1. Aggregate the run's stage in SQL (selectors.dimension_aggregates); costs per scope in cents.
    2. Formulas per scope (calculations.snapshot_metrics).
    3. Upsert on the natural keys; delete rows of this group that no longer exist
       (a month or scope gone after an undo), all in the same transaction.
    A group already written from newer data (a later run) is left alone."""
    if run.status != RecomputeRun.Status.RUNNING:
        raise ValueError(ERROR_RUN_NOT_RUNNING.format(pk=run.pk, status=run.status))
    assumption_set = run.assumption_set or assumptions_ensure()
    written = 0
    with transaction.atomic(), _scope_lock(dimension):
        if stage is None:
            if not transactions_month_range():
                MonthlySnapshot.objects.filter(scope_dimension=dimension).delete()
                CohortCell.objects.filter(scope_dimension=dimension).delete()
        else:
            as_of = dt.datetime.fromisoformat(stage.built_at)
            if not MonthlySnapshot.objects.filter(scope_dimension=dimension, computed_at__gt=as_of).exists():
                written = _recompute_dimension_rows(
                    dimension=dimension, assumption_set=assumption_set, stage=stage, computed_at=as_of
                )
        pause_for_fault_injection()
    RecomputeRun.objects.filter(pk=run.pk).update(scopes_done=F("scopes_done") + 1)
    return written


def _recompute_dimension_rows(*, dimension: str, assumption_set: AssumptionSet, stage: Stage,
                              computed_at: dt.datetime) -> int:
    assumptions = assumptions_values(assumption_set=assumption_set)
    computed = dimension_metrics(dimension=dimension, assumptions=assumptions, stage=stage)
    keep_from, first = stage.cohorts_from, stage.first_month
    rows = [
        _snapshot_row(metrics=metrics, dimension=dimension, scope=scope, assumption_set=assumption_set,
                      computed_at=computed_at)
        for scope, metrics in computed.rows
    ]
    MonthlySnapshot.objects.bulk_create(
        rows, batch_size=2000, update_conflicts=True,
        unique_fields=["month", "scope_dimension", "scope_value"],
        update_fields=[*SNAPSHOT_FIELDS, "assumption_set", "computed_at"],
    )
    # Rows of this group in the recomputed months that were not rewritten are gone from the data.
    stale = MonthlySnapshot.objects.filter(scope_dimension=dimension).exclude(computed_at=computed_at)
    if keep_from > first:
        stale = stale.filter(month__gte=month_from_index(keep_from))
    stale.delete()
    _write_cohort_cells(dimension=dimension, cohorts=computed.cohorts,
                        from_index=keep_from if keep_from > first else None)
    return len(rows)


@dataclass(frozen=True)
class DimensionMetrics:
    """The metrics of one scope group's kept months, per scope, and its cohort cells."""

    rows: list[tuple[str, MonthMetrics]]
    cohorts: pd.DataFrame


# The company's r per month of a stage, computed once per process and stage (every segment
# group leans on it; the scope groups may run as separate tasks).
_company_priors: dict[tuple[str, str], Prior] = {}


def _company_prior(*, assumptions: Assumptions, stage: Stage) -> Prior:
    key = (stage.table(""), stage.built_at)
    if key not in _company_priors:
        company = dimension_metrics(dimension=COMPANY, assumptions=assumptions, stage=stage, with_cohorts=False,
                                    keep_all=True)
        _company_priors.clear()
        _company_priors[key] = prior_from([metrics for _scope, metrics in company.rows])
    return _company_priors[key]


def dimension_metrics(*, dimension: str, assumptions: Assumptions, stage: Stage, with_cohorts: bool = True,
                      keep_all: bool = False) -> DimensionMetrics:
    """Every metric of one scope group from the run's stage, unrounded (nothing is written).

    1. Aggregate the stage in SQL (selectors.dimension_aggregates); the L - 1 months before an
       incremental run's first month come from the stored snapshots.
    2. Costs per scope in cents (tagged, plus the share of untagged ones for segments).
    3. Formulas per scope (calculations.snapshot_metrics); a segment's prior is the company's r.
    Returns the months from stage.cohorts_from on (every month computed with `keep_all`)."""
    first, last = stage.first_month, stage.last_month
    aggregates = dimension_aggregates(dimension=dimension, stage=stage, with_cohorts=with_cohorts)
    months = aggregates.months
    window_from = aggregates.months_from
    if stage.history:
        # The L - 1 months before the first recomputed month come from the stored snapshots.
        window_from = max(first, stage.keep_from - assumptions.smoothing_window + 1)
        history = snapshot_history(dimension=dimension, month_from=window_from, month_to=stage.keep_from - 1)
        months = pd.concat([history, months], ignore_index=True) if len(history) else months
    tagged, untagged = cost_entries_by_scope(dimension=dimension, first_month=window_from, last_month=last)
    # Every scope gets every month: segments that only have tagged costs (no customer carries the
    # value), so a dimension's costs add up to what was spent on it, and scopes missing from the
    # stored history.
    scope_set = set(months["scope"]) | cost_scopes(dimension=dimension, first_month=first, last_month=last)
    if stage.history:
        scope_set |= stored_scopes(dimension=dimension, month=stage.keep_from - 1)
    scopes = sorted(scope_set)
    full = pd.DataFrame(
        [(sc, m) for sc in scopes for m in range(window_from, last + 1)], columns=["scope", "month"]
    )
    months = full.merge(months, on=["scope", "month"], how="left")
    for column in MONTH_COLUMNS[2:]:
        months[column] = months[column].fillna(0)
    months = months.astype({c: "int64" for c in [*MONTH_COLUMNS[2:6], "referred_new_customers"]})
    months = months.sort_values(["scope", "month"], kind="stable").reset_index(drop=True)
    months["customers_start"] = (
        months["customers_end"] - months["new_customers"] - months["reactivated_customers"] + months["churned_customers"]
    )
    costs = segment_costs(weights=months, tagged=tagged, untagged={} if dimension == COMPANY else untagged)
    months["acquisition_cost"] = costs["acquisition_cost"].to_numpy() / 100.0
    months["retention_cost"] = costs["retention_cost"].to_numpy() / 100.0

    prior = None if dimension == COMPANY else _company_prior(assumptions=assumptions, stage=stage)
    keep_from = window_from if keep_all else stage.cohorts_from
    rows: list[tuple[str, MonthMetrics]] = []
    for scope, frame in months.groupby("scope", sort=True):
        referred = dict(zip(frame["month"].tolist(), frame["referred_new_customers"].tolist(), strict=True))
        for metrics in snapshot_metrics(frame, assumptions=assumptions, first_data_month=first, prior=prior):
            if metrics.month >= keep_from:
                figures = referral_figures(referred_new_customers=referred.get(metrics.month, 0),
                                           new_customers=metrics.new_customers,
                                           customers_start=metrics.customers_start, clv=metrics.clv)
                rows.append((str(scope), dataclasses.replace(metrics, **vars(figures))))
    return DimensionMetrics(rows=rows, cohorts=aggregates.cohorts)


def snapshots_compute(*, assumption_set: AssumptionSet, run_id: int, last_month: int,
                      label: str) -> dict[tuple[str, str, int], MonthMetrics]:
    """Every scope's metrics up to `last_month`, computed from the current data with the given
    assumption version and written nowhere: the basis of a restatement (metrics.closing).
    Keyed by (dimension, scope value, month index). A full pass over the transactions, in a
    stage of its own (`label`), dropped at the end."""
    data_range = transactions_month_range()
    if data_range is None or last_month < data_range.first_month:
        return {}
    assumptions = assumptions_values(assumption_set=assumption_set)
    bounded = type(data_range)(first_month=data_range.first_month, last_month=min(last_month, data_range.last_month))
    stage = stage_plan(run_id=run_id, assumptions=assumptions, data_range=bounded, from_month=None,
                       history_available=False)
    stage = dataclasses.replace(stage, label=label)
    out: dict[tuple[str, str, int], MonthMetrics] = {}
    try:
        stage_build(stage=stage, assumptions=assumptions, rebuild_state=False)
        for dimension in DIMENSIONS:
            computed = dimension_metrics(dimension=dimension, assumptions=assumptions, stage=stage, with_cohorts=False)
            for scope, metrics in computed.rows:
                out[(dimension, scope, metrics.month)] = metrics
    finally:
        stage_drop(run_id=run_id, label=label)
    return out


def snapshot_values(metrics: MonthMetrics) -> dict[str, Any]:
    """A computed month's stored values (money rounded to cents, as decimal strings)."""
    values: dict[str, Any] = {}
    for field in SNAPSHOT_FIELDS:
        value = getattr(metrics, field)
        values[field] = str(_money(value)) if field in MONEY_FIELDS and value is not None else value
    return values


def _write_cohort_cells(*, dimension: str, cohorts: pd.DataFrame, from_index: int | None) -> None:
    cells = [
        CohortCell(
            scope_dimension=dimension, scope_value=scope, cohort_month=month_from_index(int(c)),
            months_since=int(m) - int(c), cohort_size=int(size), active_customers=int(active),
            purchasing_customers=int(buying),
        )
        for scope, c, m, size, active, buying in cohorts.itertuples(index=False, name=None)
    ]
    CohortCell.objects.bulk_create(
        cells, batch_size=5000, update_conflicts=True,
        unique_fields=["scope_dimension", "scope_value", "cohort_month", "months_since"],
        update_fields=["cohort_size", "active_customers", "purchasing_customers"],
    )
    wanted = {(cell.scope_value, cell.cohort_month, cell.months_since) for cell in cells}
    existing = CohortCell.objects.filter(scope_dimension=dimension).values_list(
        "pk", "scope_value", "cohort_month", "months_since"
    )
    stale = []
    for pk, scope, cohort_month, since in existing.iterator(chunk_size=5000):
        calendar = month_index(cohort_month) + since
        if (scope, cohort_month, since) not in wanted and (from_index is None or calendar >= from_index):
            stale.append(pk)
    for i in range(0, len(stale), 5000):
        CohortCell.objects.filter(pk__in=stale[i : i + 5000]).delete()


def snapshots_recompute(
    *, from_month: dt.date | None = None, trigger: str, run: RecomputeRun | None = None,
    partitions: int | None = None,
) -> RecomputeRun:
    """Recompute every snapshot and cohort cell, for the company and every segment, now.

    From `from_month` on when given (earlier months are kept); the whole history otherwise.
    `partitions`: the stage in that many customer-hash partitions, built one after the other
    (default CLV_RECOMPUTE_PARTITIONS; the numbers are the same whatever it is)."""
    from .partitions.services import recompute_partitions

    if run is None:
        run = recompute_run_create(trigger=trigger, from_month=from_month)
    run = recompute_run_start(run=run)
    try:
        stage = snapshots_stage_prepare(run=run, partitions=partitions or recompute_partitions())
        for dimension in DIMENSIONS:
            snapshots_recompute_dimension(run=run, dimension=dimension, stage=stage)
    except Exception as exc:
        recompute_run_finish(run=run, status=RecomputeRun.Status.FAILED, message=str(exc))
        raise
    return recompute_run_finish(run=run)


# --- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX = "clv_"


def api_token_issue(*, user: Any, name: str = "") -> tuple[Any, str]:
    """Issue an API token for a user; returns (token row, the key). Only the key's SHA-256 is
    stored, so the key is shown once, here."""
    import hashlib
    import secrets

    from .models import ApiToken

    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], key_hash=hashlib.sha256(key.encode()).hexdigest(), prefix=key[:12]
    )
    audit_record(action="token_issue", target=token, details={"user": user.get_username(), "name": token.name, "prefix": token.prefix})
    return token, key


def api_token_touch(*, token: Any) -> None:
    from .models import ApiToken

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
