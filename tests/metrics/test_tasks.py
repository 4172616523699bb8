"""The Celery adapters, run in-process: the chord, retries on a lost connection, failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import OperationalError

from metrics import services, tasks
from metrics.models import MonthlySnapshot, RecomputeRun
from tests.factories import TransactionFactory


@pytest.fixture(autouse=True)
def _no_fit(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


def test_the_task_recomputes_every_scope_group_and_records_the_run(db: None) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    run_id = tasks.recompute_snapshots.apply(kwargs={"trigger": "import"}).get()
    run = RecomputeRun.objects.get(pk=run_id)
    assert (run.status, run.trigger, run.scopes_done, run.scopes_total) == ("succeeded", "import", 5, 5)
    assert run.celery_task_id and run.duration_seconds is not None
    assert MonthlySnapshot.objects.filter(scope_dimension="company").count() == 1


def test_a_lost_database_connection_is_retried(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    run = services.recompute_run_start(run=services.recompute_run_create(trigger="test"))
    stage = services.snapshots_stage_prepare(run=run)
    real = services.snapshots_recompute_dimension
    calls: list[str] = []

    def flaky(**kwargs: Any) -> int:
        calls.append(kwargs["dimension"])
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "snapshots_recompute_dimension", flaky)
    result = tasks.recompute_snapshots_scope.apply(
        kwargs={"run_id": run.pk, "dimension": "region", "stage": stage.__dict__ if stage else None}, throw=False
    )
    assert result.get() == 1 and calls == ["region", "region"]
    assert MonthlySnapshot.objects.filter(scope_dimension="region").exists()


def test_a_real_error_fails_the_run_with_its_message(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))

    def broken(**kwargs: Any) -> int:
        raise ValueError("something is wrong with the data")

    monkeypatch.setattr(services, "snapshots_recompute_dimension", broken)
    with pytest.raises(ValueError, match="something is wrong"):
        tasks.recompute_snapshots.apply(kwargs={"trigger": "test"}, throw=True).get()
    run = RecomputeRun.objects.get()
    assert run.status == "failed" and "company: something is wrong with the data" in run.message


def test_rerunning_a_scope_task_rewrites_the_same_rows(db: None) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    run = services.recompute_run_start(run=services.recompute_run_create(trigger="test"))
    stage = services.snapshots_stage_prepare(run=run)
    kwargs = {"run_id": run.pk, "dimension": "company", "stage": stage.__dict__ if stage else None}
    tasks.recompute_snapshots_scope.apply(kwargs=kwargs).get()
    first = list(MonthlySnapshot.objects.values())
    tasks.recompute_snapshots_scope.apply(kwargs=kwargs).get()
    assert list(MonthlySnapshot.objects.values()) == first
