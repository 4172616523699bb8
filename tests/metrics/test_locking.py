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


@pytest.mark.postgres
def test_two_profitability_stores_at_once_take_turns(transactional_db: None) -> None:
    """The first store holds its transaction open after writing; the second, started meanwhile,
    must wait for it and then replace its rows (without the lock its INSERT met the first one's
    rows: a duplicate customer_id)."""
    from metrics.calculations import month_index
    from metrics.models import CustomerProfitability
    from metrics.profitability.services import profitability_store
    from metrics.services import assumptions_ensure

    for month in [1, 2, 3]:
        TransactionFactory(order_date=dt.date(2024, month, 5))
    assumption_set = assumptions_ensure()
    written, errors = threading.Event(), []

    def first() -> None:
        try:
            with transaction.atomic():
                profitability_store(month=month_index(dt.date(2024, 3, 1)), assumption_set=assumption_set)
                written.set()
                time.sleep(1.0)  # the second store is waiting meanwhile
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            written.set()
            connections.close_all()

    def second() -> None:
        written.wait(30)
        try:
            profitability_store(month=month_index(dt.date(2024, 3, 1)), assumption_set=assumption_set)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert CustomerProfitability.objects.count() == 3
