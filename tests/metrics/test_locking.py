"""Two recomputes of the same scope group never interleave (PostgreSQL advisory lock)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from metrics.models import MonthlySnapshot, RecomputeRun
from metrics.services import (
    _scope_lock,
    recompute_run_create,
    recompute_run_start,
    snapshots_recompute_dimension,
    snapshots_stage_prepare,
)
from tests.factories import TransactionFactory


@pytest.mark.postgres
def test_a_recompute_waits_while_another_holds_the_scope_lock(transactional_db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    run = recompute_run_start(run=recompute_run_create(trigger="test"))
    stage = snapshots_stage_prepare(run=run)
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic(), _scope_lock("company"):
                holding.set()
                release.wait(20)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert holding.wait(10)
    done: list[float] = []

    def recompute() -> None:
        try:
            snapshots_recompute_dimension(run=RecomputeRun.objects.get(pk=run.pk), dimension="company", stage=stage)
            done.append(time.monotonic())
        finally:
            connections.close_all()

    worker = threading.Thread(target=recompute)
    worker.start()
    time.sleep(1.5)
    assert not done and not MonthlySnapshot.objects.exists()  # waiting for the lock
    released_at = time.monotonic()
    release.set()
    holder.join(20)
    worker.join(20)
    assert done and done[0] >= released_at
    assert MonthlySnapshot.objects.filter(scope_dimension="company").count() == 1
    assert connection.vendor == "postgresql"


@pytest.mark.postgres
def test_two_full_recomputes_at_once_both_succeed_with_the_same_rows(transactional_db: None, settings: Any) -> None:
    from metrics.services import snapshots_recompute

    settings.CLV_FIT_AFTER_RECOMPUTE = False
    for month in [1, 2, 3, 4]:
        TransactionFactory(order_date=dt.date(2024, month, 5))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            snapshots_recompute(trigger="concurrent")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert set(RecomputeRun.objects.values_list("status", flat=True)) == {"succeeded"}
    assert MonthlySnapshot.objects.filter(scope_dimension="company").count() == 4
