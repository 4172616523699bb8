"""A large import into a table that holds few transactions has the table's indexes built after
its rows (customers/services/bulkload.py): the same rows as with the indexes kept, every index
back as it was with its uniqueness, the stored orders a file replaces still found, nothing
changed by a refused or re-read file, and the indexes kept when a reader holds the table."""

from __future__ import annotations

import random
import time
from typing import Any

import psycopg2
import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Customer, ImportJob, Transaction
from customers.services import bulkload
from customers.services import imports as imports_service
from tests.customers.test_direct import TX, Run, rising, stored

pytestmark = pytest.mark.postgres


@pytest.fixture
def build_after(settings: Any) -> None:
    """Every file counts as large (the rule's size threshold at 0)."""
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 0


def _indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
                       [bulkload.TABLE])
        return cursor.fetchall()


def _constraints() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "ORDER BY conname", [bulkload.TABLE])
        return cursor.fetchall()


def _rows() -> list[tuple[Any, ...]]:
    return [row[:-1] for row in stored()]  # the job aside


def _rows_with_the_indexes_kept(run_import: Run, settings: Any, content: str) -> list[tuple[Any, ...]]:
    """The rows `content` gives imported into empty tables with the indexes kept up to date."""
    Transaction.objects.all().delete()
    Customer.objects.all().delete()
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 1024
    kept = run_import("transactions", content)
    assert kept.status == ImportJob.Status.SUCCEEDED, kept.message
    assert "seconds_building_indexes" not in kept.result
    return _rows()


def test_a_large_file_into_an_empty_table_is_written_with_the_indexes_built_after(
    run_import: Run, small_blocks: None, settings: Any
) -> None:
    schema = (_indexes(), _constraints())
    content = TX + rising(900)
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 0
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["writer"] == imports_service.WRITER_DIRECT
    assert job.result["seconds_building_indexes"] >= 0
    assert job.result["transactions_inserted"] == 900 and job.result["customers_created"] == 37
    assert (_indexes(), _constraints()) == schema
    # The order-id index built again still refuses a second order of the same id.
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(customer=Customer.objects.get(external_id="C000"), order_id="SO000005",
                                   order_date="2024-03-05", revenue=1)
    built_after = _rows()
    assert _rows_with_the_indexes_kept(run_import, settings, content) == built_after


@pytest.mark.django_db
@pytest.mark.parametrize("holds_rows", [False, True])
def test_the_order_id_index_is_kept_while_the_table_holds_rows(settings: Any, holds_rows: bool) -> None:
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 0
    if holds_rows:
        Transaction.objects.create(customer=Customer.objects.create(external_id="C1"), order_id="SO1",
                                   order_date="2024-03-05", revenue=1)
    before = {name for name, _ in _indexes()}
    with transaction.atomic(), connection.cursor() as cursor:
        aside = bulkload.indexes_set_aside(cursor=cursor, file_bytes=1 << 20)
        assert aside is not None and aside.order_ids is not holds_rows
        during = {name for name, _ in _indexes()}
        aside.build(cursor)
    assert during == {"customers_transaction_pkey"} | ({bulkload.ORDER_ID_INDEX} if holds_rows else set())
    assert {name for name, _ in _indexes()} == before


@pytest.mark.django_db
def test_a_table_holding_more_than_the_rule_allows_keeps_its_indexes(settings: Any) -> None:
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 0
    Transaction.objects.create(customer=Customer.objects.create(external_id="C1"), order_id="SO1",
                               order_date="2024-03-05", revenue=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_relation_size('{bulkload.TABLE}')")
        (heap,) = cursor.fetchone()
        assert bulkload.indexes_set_aside(cursor=cursor, file_bytes=heap // 3) is None
        assert len(_indexes()) == 5


def test_a_file_replacing_stored_orders_replaces_them_with_the_indexes_built_after(
    run_import: Run, small_blocks: None, build_after: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever other tests left in the table's pages (dead rows count in the rule).
    monkeypatch.setattr(bulkload, "STORED_BYTES_PER_FILE_BYTE", 10**6)
    first = run_import("transactions", TX + "".join(f"C{i % 9},SO{i:06d},2024-01-10,1.00,\n" for i in range(0, 400, 2)))
    assert first.result["seconds_building_indexes"] >= 0
    named = list(range(0, 600, 3))
    job = run_import("transactions", TX + "".join(f"D{i % 5},SO{i:06d},2024-03-10,2.00,\n" for i in named))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.result["seconds_building_indexes"] >= 0  # the table holds about as many rows as the file
    replaced = [i for i in named if i % 2 == 0 and i < 400]
    assert job.result["transactions_replaced"] == len(replaced)
    assert Transaction.objects.count() == len(set(range(0, 400, 2)) | set(named))
    assert set(Transaction.objects.filter(import_job=job).values_list("order_id", flat=True)) == {
        f"SO{i:06d}" for i in named}


def test_a_shuffled_file_through_the_staging_table_gives_the_same_rows(
    run_import: Run, settings: Any
) -> None:
    lines = rising(700).splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    content = TX + "".join(lines)
    settings.CLV_IMPORT_INDEX_BUILD_MIN_MB = 0
    job = run_import("transactions", content)
    assert job.detected["writer"] == imports_service.WRITER_STAGED
    assert job.result["seconds_building_indexes"] >= 0
    again = run_import("transactions", content)  # every order replaced
    assert again.result["transactions_replaced"] == 700
    built_after = _rows()
    assert _rows_with_the_indexes_kept(run_import, settings, content) == built_after


def test_a_refused_file_and_a_file_read_again_leave_the_indexes_as_they_were(
    run_import: Run, small_blocks: None, build_after: None
) -> None:
    schema = (_indexes(), _constraints())
    refused = run_import("transactions", TX + rising(500) + "C001,SO100000,not a date,1.00,\n")
    assert refused.status == ImportJob.Status.REJECTED
    assert (_indexes(), _constraints()) == schema and Transaction.objects.count() == 0
    # Order ids that stop rising half way: the direct write is rolled back, the staging table's runs.
    again = run_import("transactions", TX + rising(600) + "C033,SO000010,2024-03-05,4.00,\n")
    assert again.status == ImportJob.Status.SUCCEEDED, again.message
    assert again.detected["writer"] == imports_service.WRITER_STAGED
    assert (_indexes(), _constraints()) == schema and Transaction.objects.count() == 600


@pytest.mark.django_db(transaction=True)
def test_a_reader_holding_the_table_keeps_the_indexes_and_the_import_does_not_wait_for_it(
    run_import: Run, build_after: None, settings: Any
) -> None:
    settings.CLV_IMPORT_INDEX_LOCK_WAIT_SECONDS = 0.2
    params = connection.get_connection_params()
    reader = psycopg2.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")})
    try:
        with reader.cursor() as cursor:  # a transaction left open on the table, as a long report's
            cursor.execute(f"SELECT count(*) FROM {bulkload.TABLE}")
        started = time.monotonic()
        job = run_import("transactions", TX + rising(300))
        elapsed = time.monotonic() - started
    finally:
        reader.close()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert "seconds_building_indexes" not in job.result
    assert Transaction.objects.count() == 300
    assert elapsed < 10
