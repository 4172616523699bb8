"""A plain transactions file in order-id order is written straight into its table while it is
read (customers/services/direct.py): the same rows as through the staging table, the stored
orders it replaces replaced and no others, and a file that stops fitting half way read again
through the staging table with nothing of the first attempt left."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg2
import pytest
from django.db import connection, transaction

from customers.models import Customer, ImportJob, Transaction
from customers.services import direct
from customers.services import imports as imports_service

Run = Callable[..., ImportJob]

pytestmark = pytest.mark.postgres

TX = "customer_id,order_id,order_date,revenue,cost\n"


def rising(n: int, *, start: int = 0, customers: int = 37, day: str = "2024-03-05", cents: int = 0) -> str:
    return "".join(
        f"C{(i * 7) % customers:03d},SO{i:06d},{day},{i % 90 + 1}.{cents:02d},{i % 40}.25\n" for i in range(start, start + n)
    )


def stored() -> list[tuple[Any, ...]]:
    """The stored orders, by what they mean (ids aside)."""
    return sorted(Transaction.objects.values_list("customer__external_id", "order_id", "order_date", "revenue", "cost",
                                                  "import_job_id"))


def staged_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports_service, "direct_applies", lambda **_: False)


def test_a_rising_file_is_written_while_read_with_the_rows_of_the_staged_write(
    run_import: Run, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last two rows are for the row validator (a day-first date, a sign after a space): in
    # their lines' place, they are written with the block.
    content = (TX + rising(900) + "C999,,2024-02-01,5.00,\n" + "C998,,2024-02-02,\"1,234.50\",1\n"
               + "C997,SO000900,05/03/2024,7.00,2.5\n" + "C996,SO000901,2024-03-06,¥ 1 234.5,\n")
    job = run_import("transactions", content, date_order="dmy")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["writer"] == imports_service.WRITER_DIRECT
    assert job.result["transactions_inserted"] == 904 and job.result["customers_created"] == 41
    assert job.result["rows_written"] == 904
    direct_rows = [row[:-1] for row in stored()]
    customers = sorted(Customer.objects.values_list("external_id", "name", "region", "referred_by"))
    assert Transaction.objects.get(customer__external_id="C998").revenue == Decimal("1234.50")
    late = Transaction.objects.get(order_id="SO000900")
    assert (late.order_date, late.revenue, late.cost) == (dt.date(2024, 3, 5), Decimal("7.00"), Decimal("2.50"))
    assert Transaction.objects.get(order_id="SO000901").revenue == Decimal("1234.50")

    Transaction.objects.all().delete()
    Customer.objects.all().delete()
    staged_only(monkeypatch)
    again = run_import("transactions", content, date_order="dmy")
    assert again.detected["writer"] == imports_service.WRITER_STAGED
    assert [row[:-1] for row in stored()] == direct_rows
    assert sorted(Customer.objects.values_list("external_id", "name", "region", "referred_by")) == customers
    assert {k: again.result[k] for k in ("rows_written", "customers_created", "transactions_inserted")} == {
        k: job.result[k] for k in ("rows_written", "customers_created", "transactions_inserted")}


def test_stored_orders_are_replaced_only_where_the_file_names_them(
    run_import: Run, small_blocks: None, recompute_calls: list[dict[str, Any]]
) -> None:
    # Stored: every other order of 0..399, dated in January.
    first = run_import("transactions", TX + "".join(
        f"C{i % 9},SO{i:06d},2024-01-10,1.00,\n" for i in range(0, 400, 2)))
    assert first.status == ImportJob.Status.SUCCEEDED
    # The file: every third order of 0..599, dated in March. Its range covers stored orders it
    # does not name (SO000002, SO000004, ...): they stay as they were.
    named = list(range(0, 600, 3))
    job = run_import("transactions", TX + "".join(f"D{i % 5},SO{i:06d},2024-03-10,2.00,\n" for i in named))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["writer"] == imports_service.WRITER_DIRECT
    replaced = [i for i in named if i % 2 == 0 and i < 400]
    assert job.result["transactions_replaced"] == len(replaced)
    assert job.result["transactions_inserted"] == len(named) - len(replaced)
    orders = {o: (c, r, j) for c, o, _, r, _, j in stored()}
    assert len(orders) == len(set(range(0, 400, 2)) | set(named))
    for i in range(0, 400, 2):
        expected = ("D", Decimal("2.00"), job.pk) if i in named else ("C", Decimal("1.00"), first.pk)
        customer, revenue, job_id = orders[f"SO{i:06d}"]
        assert (customer[0], revenue, job_id) == expected
    # The earliest month touched is the replaced orders' January, not the file's March.
    assert recompute_calls[-1] == {"from_month": dt.date(2024, 1, 1), "trigger": "import"}
    # The same file again: every order replaced, nothing added.
    again = run_import("transactions", TX + "".join(f"D{i % 5},SO{i:06d},2024-03-10,2.00,\n" for i in named))
    assert (again.result["transactions_replaced"], again.result["transactions_inserted"]) == (len(named), 0)
    assert Transaction.objects.count() == len(orders)


def test_stored_customers_keep_their_ids_and_segments(run_import: Run, small_blocks: None) -> None:
    customers = run_import("customers", "customer_id,region\nC001,East\nC002,West\n")
    assert customers.status == ImportJob.Status.SUCCEEDED
    ids = dict(Customer.objects.values_list("external_id", "id"))
    job = run_import("transactions", TX + rising(300, customers=5))
    assert job.detected["writer"] == imports_service.WRITER_DIRECT
    assert job.result["customers_created"] == 3
    assert dict(Customer.objects.filter(external_id__in=ids).values_list("external_id", "id")) == ids
    assert dict(Customer.objects.values_list("external_id", "region"))["C001"] == "East"
    assert Transaction.objects.filter(customer_id=ids["C002"]).count() == 60


def test_a_customer_cache_that_fills_up_is_emptied_and_looked_up_again(
    run_import: Run, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "CUSTOMER_CACHE", 10)
    job = run_import("transactions", TX + rising(1200, customers=300))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.result["customers_created"] == 300 == Customer.objects.count()
    counts = Transaction.objects.values("customer__external_id").distinct().count()
    assert counts == 300 and Transaction.objects.count() == 1200


@pytest.mark.parametrize(
    "tail",
    [
        "C033,SO000010,2024-03-06,4.00,\n",  # an order id again (a line item): summed
        "C001,SO000000X,2024-03-06,4.00,\n",  # a new order id below the last one
        "C001,SO0000055,05/03/2024,4.00,\n",  # a row for the row validator, its order id out of place
    ],
)
def test_a_file_that_stops_rising_half_way_is_read_again_through_the_staging_table(
    run_import: Run, small_blocks: None, tail: str
) -> None:
    job = run_import("transactions", TX + rising(600) + tail, date_order="dmy")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["writer"] == imports_service.WRITER_STAGED
    assert job.result["customers_created"] == Customer.objects.count() == 37
    assert Transaction.objects.filter(import_job=job).count() == job.result["transactions_inserted"]
    if "SO000010," in tail:
        assert Transaction.objects.count() == 600
        assert Transaction.objects.get(order_id="SO000010").revenue == Decimal("11.00") + Decimal("4.00")
    else:
        assert Transaction.objects.count() == 601


def test_an_invalid_row_late_in_the_file_leaves_nothing_and_skipping_loads_the_rest(
    run_import: Run, small_blocks: None
) -> None:
    content = TX + rising(500) + "C001,SO100000,not a date,1.00,\n" + rising(100, start=100_001)
    refused = run_import("transactions", content)
    assert refused.status == ImportJob.Status.REJECTED
    assert refused.rows_invalid == 1 and refused.error_report[0]["line"] == 502
    assert Transaction.objects.count() == 0 and Customer.objects.count() == 0
    loaded = run_import("transactions", content, skip_invalid=True)
    assert loaded.status == ImportJob.Status.SUCCEEDED, loaded.message
    assert loaded.detected["writer"] == imports_service.WRITER_DIRECT
    assert Transaction.objects.count() == 600 and loaded.rows_skipped == 1


def test_a_file_without_order_ids_identical_to_a_loaded_one_is_refused_and_leaves_nothing(
    run_import: Run, small_blocks: None
) -> None:
    content = TX + "".join(f"C{i % 11},,2024-03-{i % 28 + 1:02d},{i}.00,\n" for i in range(400))
    first = run_import("transactions", content)
    assert first.status == ImportJob.Status.SUCCEEDED and first.detected["writer"] == imports_service.WRITER_DIRECT
    second = run_import("transactions", content, name="again.csv")
    assert second.status == ImportJob.Status.REJECTED and f"import #{first.pk}" in second.message
    assert Transaction.objects.count() == 400


@pytest.mark.django_db(transaction=True)
def test_a_customer_created_elsewhere_during_the_import_is_used_not_duplicated(
    run_import: Run, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imports are serialised, other writers are not: a customer another session creates and
    commits between two blocks is found by the next block, which does not create it again."""
    settings = connection.settings_dict
    calls = {"n": 0}
    resolve = direct.DirectWriter._customers_resolve

    def resolve_after_another_session(self: direct.DirectWriter, cursor: Any, customers: list[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
                                     port=settings["PORT"] or None, password=settings["PASSWORD"] or None)
            with other, other.cursor() as c:
                c.execute("INSERT INTO customers_customer (external_id, name, region, product_line, business_unit, "
                          "acquisition_channel, created_at, updated_at) VALUES ('N500', 'Made elsewhere', '', '', '', "
                          "'', now(), now())")
            other.close()
        resolve(self, cursor, customers)

    monkeypatch.setattr(direct.DirectWriter, "_customers_resolve", resolve_after_another_session)
    content = TX + rising(200, customers=3) + "".join(f"N{500 + i % 2},SO{90_000 + i},2024-03-05,1.00,\n"
                                                      for i in range(300))
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["writer"] == imports_service.WRITER_DIRECT and calls["n"] >= 2
    made = Customer.objects.get(external_id="N500")
    assert made.name == "Made elsewhere" and made.transactions.count() == 150
    assert job.result["customers_created"] == 3 + 1  # N500 was not this import's


def test_progress_is_seen_by_others_while_the_write_transaction_is_open(transactional_db: None) -> None:
    job = ImportJob.objects.create(kind="transactions", original_name="x.csv", status=ImportJob.Status.RUNNING)
    beside = imports_service._ProgressBeside()
    settings = connection.settings_dict
    with transaction.atomic():
        Customer.objects.create(external_id="uncommitted")
        beside.save(job, progress=42, rows_parsed=1000)
        beside.close()
        other = psycopg2.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
                                 port=settings["PORT"] or None, password=settings["PASSWORD"] or None)
        with other.cursor() as c:
            c.execute("SELECT progress, rows_parsed, (SELECT count(*) FROM customers_customer) "
                      "FROM customers_importjob WHERE id = %s", [job.pk])
            seen = c.fetchone()
        other.close()
        with connection.cursor() as c:
            # The saving thread's own connection is closed with it (a closed connection's server
            # process may take a moment to leave the list).
            for _ in range(50):
                # The session whose last statement was this job's progress update.
                c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid() AND query LIKE 'UPDATE \"customers_importjob\"%%' "
                          "AND query LIKE %s", [f'%"customers_importjob"."id" = {job.pk}%'])
                others = c.fetchone()[0]
                if not others:
                    break
                time.sleep(0.1)
        transaction.set_rollback(True)
    assert seen == (42, 1000, 0)
    assert others == 0


def test_a_file_that_settles_its_date_order_at_the_end_is_written_again_that_way(
    run_import: Run, small_blocks: None
) -> None:
    """Day or month first is unsettled until the last line (12/25): the first reading's writes
    are rolled back and the file is written again month first, each order once."""
    rows = "".join(f"C{i % 7},SO{i:06d},0{i % 9 + 1}/0{i % 8 + 1}/2024,1.00,\n" for i in range(500))
    job = run_import("transactions", TX + rows + "C1,SO000500,12/25/2024,2.00,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.detected["writer"], job.detected["date_order"]) == (imports_service.WRITER_DIRECT, "mdy")
    assert Transaction.objects.count() == 501 and Customer.objects.count() == 7
    assert Transaction.objects.get(order_id="SO000010").order_date == dt.date(2024, 2, 3)


def test_a_file_the_columnar_reader_cannot_number_is_read_row_by_row_through_the_staging_table(
    run_import: Run, small_blocks: None
) -> None:
    # A quoted line break late in the file: its records stop being one per line.
    job = run_import("transactions", TX + rising(300) + '"C0\n01",SO000300,2024-03-05,1.00,\n')
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert (job.detected["writer"], job.detected["reader"]) == (imports_service.WRITER_STAGED, "rows")
    assert Transaction.objects.count() == 301 and Customer.objects.count() == 38
