"""A failure in the middle of the write leaves the database exactly as it was."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from django.db import connection

from customers.models import ImportJob, Transaction
from customers.services import import_claim, import_create, import_run
from customers.services import loading as loading_module
from tests.customers.conftest import table_rows

HEADER = "customer_id,order_id,order_date,revenue,cost,region\n"


def _run(content: str) -> ImportJob:
    job = import_create(kind="transactions", chunks=[content.encode()], original_name="f.csv", enqueue=False)
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    return import_run(job=claimed)


def _seed() -> None:
    job = _run(HEADER + "".join(f"C{i},O{i},2024-01-{i % 28 + 1:02d},{i}.25,1,North\n" for i in range(200)))
    assert job.status == ImportJob.Status.SUCCEEDED


def _second_file() -> str:
    # Replaces 100 stored orders, adds 1,000 new ones, moves customers to another region.
    return HEADER + "".join(f"C{i},O{i},2024-02-{i % 28 + 1:02d},{i}.75,2,South\n" for i in range(100, 1100))


def _half_then(action: Callable[[], None]) -> Callable[..., Any]:
    real = loading_module.transactions_write

    def write(**kwargs: Any) -> Any:
        # The customers are upserted and half of the file's rows are written, then the failure.
        loading_module.customers_upsert(connection=connection, stager=kwargs["stager"],
                                        attributes=kwargs["attributes"], result=loading_module.WriteResult())
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO customers_transaction (customer_id, order_id, order_date, revenue, cost, import_job_id) "
                f"SELECT c.id, 'half-' || s.order_id, s.order_date, s.revenue, s.cost, %s FROM {kwargs['stager'].table} s "
                "JOIN customers_customer c ON c.external_id = s.customer_ext WHERE s.line <= 500",
                [kwargs["job_id"]],
            )
            assert cursor.rowcount > 400
        action()
        return real(**kwargs)

    return write


def _kill_my_connection(pid: int | None = None) -> None:
    """Terminate this thread's database connection (or the backend `pid`) from another one."""
    s = connection.settings_dict
    pid = pid or connection.connection.get_backend_pid()
    killer = psycopg2.connect(dbname=s["NAME"], user=s["USER"], host=s["HOST"] or "127.0.0.1",
                              port=s["PORT"] or 5432, password=s.get("PASSWORD") or None)
    killer.autocommit = True
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0] is True
    killer.close()


@pytest.mark.django_db(transaction=True)
def test_an_exception_after_half_the_rows_leaves_the_database_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    _seed()
    before = table_rows()

    def fail() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(loading_module, "transactions_write", _half_then(fail))
    job = _run(_second_file())
    assert job.status == ImportJob.Status.FAILED
    assert "nothing was loaded (disk full)" in job.message
    assert table_rows() == before
    assert not Transaction.objects.filter(import_job=job).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_in_the_middle_of_the_write_leaves_the_database_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed()
    before = table_rows()
    real = loading_module.transactions_write
    monkeypatch.setattr(loading_module, "transactions_write", _half_then(_kill_my_connection))
    job = _run(_second_file())
    assert job.status == ImportJob.Status.FAILED, job.message
    assert "nothing was loaded" in job.message
    assert table_rows() == before
    # The import can simply be run again.
    monkeypatch.setattr(loading_module, "transactions_write", real)
    again = _run(_second_file())
    assert again.status == ImportJob.Status.SUCCEEDED, again.message
    assert Transaction.objects.count() == 1100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_while_a_block_is_copied_in_the_background_fails_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _seed()
    before = table_rows()
    real = loading_module.Stager._copy_with
    copies: list[int] = []

    def copy_after_a_kill(self: loading_module.Stager, raw: Any, data: Any) -> None:
        copies.append(1)
        if len(copies) == 2:  # the second block, in the background thread: the first is staged
            _kill_my_connection(raw.get_backend_pid())
        real(self, raw, data)

    monkeypatch.setattr(loading_module.Stager, "_copy_with", copy_after_a_kill)
    big = HEADER + "".join(f"C{i % 500},N{i},2024-03-{i % 28 + 1:02d},{i}.10,1,East\n" for i in range(60_000))
    job = _run(big)
    assert len(copies) == 2
    assert job.status == ImportJob.Status.FAILED, job.message
    assert "nothing was loaded" in job.message
    assert table_rows() == before
    monkeypatch.setattr(loading_module.Stager, "_copy_with", real)
    again = _run(big)
    assert again.status == ImportJob.Status.SUCCEEDED, again.message
    assert Transaction.objects.filter(import_job=again).count() == 60_000
