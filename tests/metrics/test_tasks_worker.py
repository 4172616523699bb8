"""The recompute on a real Celery worker: after an import, and after a crash half-way."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from customers.models import Customer, ImportJob, Transaction
from metrics.models import MonthlySnapshot, RecomputeRun
from metrics.services import PAUSE_ENV, snapshots_recompute, snapshots_request_recompute


def _wait_for(predicate: Callable[[], Any], *, timeout: float = 90, what: str, worker: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.log()[-4000:]}" if worker else ""))


def _import(*, rows: list[tuple[str, dt.date, str]], name: str, request: bool = True) -> ImportJob:
    """What a successful import leaves behind: its job, customers, transactions, and the recompute request."""
    with transaction.atomic():
        job = ImportJob.objects.create(kind=ImportJob.Kind.TRANSACTIONS, original_name=name, sha256=name.ljust(64, "0"),
                                       status=ImportJob.Status.SUCCEEDED)
        for n, (external_id, day, revenue) in enumerate(rows):
            customer, _ = Customer.objects.get_or_create(external_id=external_id, defaults={"region": "North"})
            Transaction.objects.create(customer=customer, order_id=f"{name}-{n}", order_date=day,
                                       revenue=Decimal(revenue), import_job=job)
        if request:
            snapshots_request_recompute(trigger="import")
    return job


def _company() -> dict[str, tuple[int, Decimal]]:
    return {f"{s.month:%Y-%m}": (s.customers_end, s.revenue)
            for s in MonthlySnapshot.objects.filter(scope_dimension="company")}


@pytest.mark.worker
def test_a_real_worker_recomputes_the_snapshots_after_an_import(start_worker: Callable[[], Any]) -> None:
    worker = start_worker()
    _import(rows=[("A", dt.date(2024, 1, 3), "100"), ("B", dt.date(2024, 2, 3), "50")], name="first.csv")
    run = _wait_for(lambda: RecomputeRun.objects.filter(trigger="import", status="succeeded").first(),
                    what="the recompute after the import", worker=worker)
    assert run.scopes_done == 5 and run.duration_seconds is not None and run.celery_task_id
    assert _company() == {"2024-01": (1, Decimal("100.00")), "2024-02": (2, Decimal("50.00"))}
    assert MonthlySnapshot.objects.filter(scope_dimension="region", scope_value="North").count() == 2


@pytest.mark.worker
def test_a_recompute_killed_half_way_leaves_the_previous_snapshots_and_a_rerun_completes(
    start_worker: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    _import(rows=[("A", dt.date(2024, 1, 3), "100")], name="first.csv", request=False)
    snapshots_recompute(trigger="test")  # the previous snapshots, computed here
    before = _company()
    assert before == {"2024-01": (1, Decimal("100.00"))}

    pause = tmp_path / "paused"
    monkeypatch.setenv(PAUSE_ENV, str(pause))
    monkeypatch.setenv("CLV_RECOMPUTE_PAUSE_SECONDS", "300")
    worker = start_worker()
    _import(rows=[("B", dt.date(2024, 1, 9), "70"), ("C", dt.date(2024, 2, 9), "30")], name="second.csv")
    # The worker has written the company's new rows inside its transaction and waits there.
    _wait_for(pause.exists, what="the recompute to reach its write", worker=worker)
    worker.kill()
    assert _company() == before
    killed = RecomputeRun.objects.filter(trigger="import").latest("pk")
    assert killed.status == RecomputeRun.Status.RUNNING and killed.scopes_done == 0

    monkeypatch.delenv(PAUSE_ENV)
    worker = start_worker()
    with transaction.atomic():
        snapshots_request_recompute(trigger="rerun")
    _wait_for(lambda: RecomputeRun.objects.filter(trigger="rerun", status="succeeded").exists(),
              what="the rerun", worker=worker)
    assert _company() == {"2024-01": (2, Decimal("170.00")), "2024-02": (3, Decimal("30.00"))}


@pytest.mark.worker
def test_two_workers_share_a_partitioned_recompute_and_give_the_single_pass_numbers(
    start_worker: Callable[..., Any], settings: Any
) -> None:
    """CLV_RECOMPUTE_PARTITIONS=2 on two real workers: the stage is built as two partition tasks
    and their sum, and every snapshot equals the single pass computed here."""
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    rows = [(f"C{i}", dt.date(2024, 1 + i % 5, 1 + i % 27), str(10 + 7 * i)) for i in range(30)]
    _import(rows=rows, name="many.csv", request=False)
    Customer.objects.filter(external_id="C3").update(referred_by="C8")
    snapshots_recompute(trigger="single", partitions=1)
    fields = ["month", "scope_dimension", "scope_value", "customers_end", "new_customers", "revenue", "clv",
              "customer_equity", "referred_new_customers"]
    single = sorted(MonthlySnapshot.objects.values_list(*fields))
    assert sum(row[-1] for row in single) > 0  # the referral, across the two partitions, counts

    env = {"CLV_RECOMPUTE_PARTITIONS": "2"}
    workers = [start_worker(env=env), start_worker(env=env)]
    with transaction.atomic():
        snapshots_request_recompute(trigger="partitioned")
    run = _wait_for(lambda: RecomputeRun.objects.filter(trigger="partitioned").exclude(status="running").first(),
                    what="the partitioned recompute", worker=workers[0])
    assert run.status == RecomputeRun.Status.SUCCEEDED, run.message
    assert sorted(MonthlySnapshot.objects.values_list(*fields)) == single
    logs = "".join(worker.log() for worker in workers)
    assert logs.count("stage partition 1 of 2") == 1 and logs.count("stage partition 2 of 2") == 1
    assert logs.count("2 stage partitions summed") == 1
