"""The import service end to end on the database: every rule of the three kinds of file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clv_dashboard.messages import message_part
from customers.models import CostEntry, Customer, ImportJob, Transaction
from customers.services import ImportRefused, import_create, import_rerun, import_undo
from customers.services import imports as imports_service
from customers.services import parsing as p

Run = Callable[..., ImportJob]

TX = "customer_id,order_id,order_date,revenue,cost\n"


def revenue_by_order() -> dict[str, Decimal]:
    return dict(Transaction.objects.values_list("order_id", "revenue"))


def test_a_plain_transactions_file_loads(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,2024-01-05,100.00,60.00\nC2,O2,2024-02-10,50,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_total == job.rows_written == 2
    assert job.result["customers_created"] == 2
    t = Transaction.objects.get(order_id="O2")
    assert (t.customer.external_id, t.order_date, t.revenue, t.cost) == ("C2", dt.date(2024, 2, 10), Decimal("50"), None)
    assert t.import_job == job
    assert job.detected["encoding"] == "UTF-8" and job.detected["delimiter"] == "comma"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gbk", b""), ("gb18030", b"")],
    ids=["utf8", "utf8-bom", "gbk", "gb18030"],
)
def test_chinese_headers_in_each_encoding(run_import: Run, encoding: str, prefix: bytes) -> None:
    text = ("客户编号,订单号,订单日期,销售额,成本,地区,产品线,事业部,渠道\n"
            "客户甲,D-1,2024/3/5,\"￥1,234.50\",(12.50),华东,家电,零售事业部,线上\n")
    job = run_import("transactions", prefix + text.encode(encoding))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    t = Transaction.objects.get()
    assert (t.order_id, t.order_date, t.revenue, t.cost) == ("D-1", dt.date(2024, 3, 5), Decimal("1234.50"),
                                                             Decimal("-12.50"))
    c = t.customer
    assert (c.external_id, c.region, c.product_line, c.business_unit, c.acquisition_channel) == (
        "客户甲", "华东", "家电", "零售事业部", "线上")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("customer_id;order_id;order_date;revenue\nC1;O1;31.03.2024;1.234,50\nC2;O2;1.4.2024;12,5\n", "semicolon"),
        ("customer_id\torder_id\torder_date\trevenue\nC1\tO1\t20240331\t1 234,50\nC2\tO2\t20240401\t12.50\n", "tab"),
        ("customer_id  order_id  date  revenue\n C1  O1  2024-03-31  1234.50\n C2  O2  2024-04-01  12.5\n", "whitespace"),
    ],
)
def test_delimiters_and_number_forms(run_import: Run, text: str, delimiter: str) -> None:
    job = run_import("transactions", text)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["delimiter"] == delimiter
    assert revenue_by_order() == {"O1": Decimal("1234.50"), "O2": Decimal("12.50")}
    assert Transaction.objects.get(order_id="O1").order_date == dt.date(2024, 3, 31)


def test_line_items_sharing_an_order_id_are_summed_into_one_order(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,2024-01-05,10.10,4\nC1,O1,2024-01-05,20.20,6\nC1,O2,2024-01-06,5,\n"
                     "C1,O1,2024-01-07,-5.00,-1\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 2
    o1 = Transaction.objects.get(order_id="O1")
    assert (o1.revenue, o1.cost, o1.order_date) == (Decimal("25.30"), Decimal("9.00"), dt.date(2024, 1, 5))
    assert job.rows_written == 4


def test_an_order_whose_lines_lack_some_costs_has_no_cost(run_import: Run) -> None:
    run_import("transactions", TX + "C1,O1,2024-01-05,10,4\nC1,O1,2024-01-05,20,\n")
    assert Transaction.objects.get().cost is None


def test_reuploading_a_file_with_order_ids_does_not_double_count(run_import: Run) -> None:
    text = TX + "C1,O1,2024-01-05,100,60\nC2,O2,2024-01-06,50,20\n"
    first = run_import("transactions", text)
    second = run_import("transactions", text)
    assert second.status == ImportJob.Status.SUCCEEDED, second.message
    assert Transaction.objects.count() == 2
    assert sum(revenue_by_order().values()) == Decimal("150")
    assert second.result["transactions_replaced"] == 2 and second.result["transactions_inserted"] == 0
    assert set(Transaction.objects.values_list("import_job", flat=True)) == {second.pk}
    assert first.pk != second.pk


def test_overlapping_exports_replace_the_stored_orders(run_import: Run) -> None:
    run_import("transactions", TX + "C1,O1,2024-01-05,100,60\nC2,O2,2024-01-06,50,20\n")
    job = run_import("transactions", TX + "C2,O2,2024-01-06,55,20\nC3,O3,2024-02-01,70,30\n")
    assert revenue_by_order() == {"O1": Decimal("100"), "O2": Decimal("55"), "O3": Decimal("70")}
    assert (job.result["transactions_inserted"], job.result["transactions_replaced"]) == (1, 1)


def test_an_identical_file_without_order_ids_is_refused_naming_the_earlier_import(run_import: Run) -> None:
    text = "customer_id,date,revenue\nC1,2024-01-05,100\nC1,2024-01-05,100\n"
    first = run_import("transactions", text, name="shop.csv")
    assert first.status == ImportJob.Status.SUCCEEDED
    assert Transaction.objects.count() == 2  # two rows, two transactions
    second = run_import("transactions", text, name="shop-again.csv")
    assert second.status == ImportJob.Status.REJECTED
    assert f'import #{first.pk} "shop.csv"' in second.message
    assert Transaction.objects.count() == 2
    # Once the first is undone, the same file may be loaded again.
    import_undo(job=first)
    third = run_import("transactions", text)
    assert third.status == ImportJob.Status.SUCCEEDED
    assert Transaction.objects.count() == 2


def test_an_invalid_row_rejects_the_whole_file_by_default(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,2024-01-05,100,60\nC2,O2,2024-02-30,abc,\n,O3,2024-01-01,1,\n")
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(imports_service.ERR_INVALID_ROWS).format(count=2)
    assert Transaction.objects.count() == 0 and Customer.objects.count() == 0
    assert job.rows_invalid == 2
    assert job.error_report[:3] == [
        {"line": 3, "column": "order_date", "value": "2024-02-30", "reason": str(p.REASON_DATE),
         "parts": [message_part(p.REASON_DATE)]},
        {"line": 3, "column": "revenue", "value": "abc", "reason": str(p.REASON_AMOUNT),
         "parts": [message_part(p.REASON_AMOUNT)]},
        {"line": 4, "column": "customer_id", "value": "", "reason": str(p.REASON_REQUIRED),
         "parts": [message_part(p.REASON_REQUIRED)]},
    ]
    report = (settings.MEDIA_ROOT / job.error_report_file).read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "line,column,value,reason"
    assert report[1].startswith("3,order_date,2024-02-30,")
    assert len(report) == 4


def test_skip_invalid_loads_the_valid_rows_and_lists_the_skipped_ones(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,2024-01-05,100,60\nC2,O2,2024-02-30,5,\nC3,O3,2024-01-07,7,\n",
                     skip_invalid=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert set(revenue_by_order()) == {"O1", "O3"}
    assert (job.rows_total, job.rows_written, job.rows_skipped) == (3, 2, 1)
    assert job.error_report[0]["line"] == 3
    assert "1 invalid row(s) skipped" in job.message


def test_an_order_with_lines_for_different_customers_is_an_error(run_import: Run) -> None:
    text = TX + "C1,O1,2024-01-05,100,60\nC2,O1,2024-01-05,5,1\nC3,O3,2024-01-07,7,\n"
    job = run_import("transactions", text)
    assert job.status == ImportJob.Status.REJECTED
    assert [e["line"] for e in job.error_report] == [2, 3]
    assert job.error_report[0]["reason"] == str(p.REASON_ORDER_CUSTOMERS).format(order_id="O1", customers="C1, C2")
    job = run_import("transactions", text, skip_invalid=True)
    assert job.status == ImportJob.Status.SUCCEEDED
    assert set(revenue_by_order()) == {"O3"}


def test_ambiguous_day_month_dates_are_refused_until_an_order_is_chosen(run_import: Run) -> None:
    text = TX + "C1,O1,01/02/2024,10,\nC1,O2,03/04/2024,10,\n"
    job = run_import("transactions", text)
    assert job.status == ImportJob.Status.REJECTED
    assert "could be day/month or month/day" in job.message
    assert Transaction.objects.count() == 0
    job = import_rerun(job=job, date_order=p.MONTH_FIRST, enqueue=False)
    claimed = imports_service.import_claim(job_id=job.pk)
    assert claimed is not None
    job = imports_service.import_run(job=claimed)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.get(order_id="O1").order_date == dt.date(2024, 1, 2)


def test_a_file_that_settles_the_order_month_first_is_read_month_first(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,01/02/2024,10,\nC1,O2,12/25/2024,10,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.get(order_id="O1").order_date == dt.date(2024, 1, 2)
    assert job.detected["date_order"] == p.MONTH_FIRST


def test_a_missing_required_column_rejects_the_file(run_import: Run) -> None:
    job = run_import("transactions", "customer_id,date,dollar_value\nC1,2024-01-01,5\n")
    assert job.status == ImportJob.Status.REJECTED
    assert job.message.startswith("Required column(s) missing: revenue")
    job = import_rerun(job=job, mapping={"revenue": "dollar_value"}, enqueue=False)
    claimed = imports_service.import_claim(job_id=job.pk)
    assert claimed is not None
    job = imports_service.import_run(job=claimed)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message


def test_customer_attributes_in_transactions_create_and_update_customers(run_import: Run) -> None:
    Customer.objects.create(external_id="C1", region="North", product_line="Tools")
    run_import("transactions", "customer_id,order_id,date,revenue,region,channel\n"
               "C1,O1,2024-01-05,1,South,\nC1,O2,2024-01-06,1,,Web\nC2,O3,2024-01-06,1,East,Shop\n")
    c1 = Customer.objects.get(external_id="C1")
    assert (c1.region, c1.product_line, c1.acquisition_channel) == ("South", "Tools", "Web")
    assert Customer.objects.get(external_id="C2").region == "East"


def test_a_customers_file_sets_names_and_segments_and_blank_cells_keep_values(run_import: Run) -> None:
    Customer.objects.create(external_id="C1", name="Old", region="North", business_unit="B2B")
    job = run_import("customers", "客户编号,客户名称,区域,事业部\nC1,Acme,,Retail\nC2,Beta,South,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    c1, c2 = Customer.objects.order_by("external_id")
    assert (c1.name, c1.region, c1.business_unit) == ("Acme", "North", "Retail")
    assert (c2.name, c2.region) == ("Beta", "South")
    assert (job.result["customers_created"], job.result["customers_updated"]) == (1, 1)
    with pytest.raises(ImportRefused):
        import_undo(job=job)


def test_a_costs_file_with_chinese_kinds_and_segments(run_import: Run) -> None:
    job = run_import("costs", "月份,类型,金额,维度,维度值\n2024-01,获客,\"1,000.00\",,\n2024/1,留存,500,区域,华东\n"
                     "202401,获客,250,,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    entries = {(e.month, e.kind, e.segment_dimension, e.segment_value): e.amount for e in CostEntry.objects.all()}
    assert entries == {
        (dt.date(2024, 1, 1), "acquisition", "", ""): Decimal("1250.00"),
        (dt.date(2024, 1, 1), "retention", "region", "华东"): Decimal("500.00"),
    }
    again = run_import("costs", "month,kind,amount\n2024-01,acquisition,900\n")
    assert CostEntry.objects.get(kind="acquisition").amount == Decimal("900")
    assert (again.result["costs_inserted"], again.result["costs_replaced"]) == (0, 1)


def test_costs_rows_are_checked(run_import: Run) -> None:
    job = run_import("costs", "month,kind,amount,segment_dimension,segment_value\n2024-01,marketing,5,,\n"
                     "2024-01,acquisition,-5,,\n2024-01,retention,5,colour,red\n2024-01,retention,5,region,\n")
    assert job.status == ImportJob.Status.REJECTED
    reasons = [e["reason"] for e in job.error_report]
    assert reasons == [str(p.REASON_COST_KIND), str(p.REASON_COST_NEGATIVE), str(p.REASON_DIMENSION),
                       str(p.REASON_DIMENSION_WITHOUT_VALUE)]


def test_undo_removes_the_import_but_not_orders_a_later_import_replaced(run_import: Run) -> None:
    first = run_import("transactions", TX + "C1,O1,2024-01-05,100,60\nC2,O2,2024-03-06,50,20\n")
    second = run_import("transactions", TX + "C2,O2,2024-03-06,55,20\n")
    costs = run_import("costs", "month,kind,amount\n2024-02,acquisition,900\n")
    import_undo(job=first)
    assert revenue_by_order() == {"O2": Decimal("55")}
    first.refresh_from_db()
    assert first.status == ImportJob.Status.UNDONE
    assert first.result["undone_transactions"] == 1
    with pytest.raises(ImportRefused):
        import_undo(job=first)
    import_undo(job=costs)
    assert CostEntry.objects.count() == 0
    assert second.transactions.count() == 1


def test_a_successful_import_and_an_undo_ask_for_a_recompute_from_the_earliest_month(
    run_import: Run, recompute_calls: list[dict[str, Any]]
) -> None:
    calls = recompute_calls
    run_import("transactions", TX + "C1,O1,2024-05-05,100,60\n")
    job = run_import("transactions", TX + "C1,O1,2024-07-05,100,60\nC1,O9,2024-06-30,1,\n")
    assert calls[-1] == {"from_month": dt.date(2024, 5, 1), "trigger": "import"}  # O1 moved out of May
    import_undo(job=job)
    assert calls[-1] == {"from_month": dt.date(2024, 6, 1), "trigger": "undo"}
    rejected = run_import("transactions", TX + "C1,O1,bad,100,60\n")
    assert rejected.status == ImportJob.Status.REJECTED and len(calls) == 3


def test_progress_is_saved_at_most_about_a_hundred_times(run_import: Run) -> None:
    rows = "".join(f"C{i % 500},O{i},2024-01-{i % 28 + 1:02d},{i % 90}.50,1\n" for i in range(60_000))
    with CaptureQueriesContext(connection) as queries:
        job = run_import("transactions", TX + rows)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    updates = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "customers_importjob"')]
    assert 5 < len(updates) <= 105
    assert Transaction.objects.count() == 60_000


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data.pdf", b"customer_id\n", imports_service.ERR_FILE_TYPE),
        ("data.csv", b"\x00\x01\x02binary\x00", imports_service.ERR_BINARY),
    ],
)
def test_uploads_are_checked_by_name_and_content(db: None, name: str, content: bytes, message: Any) -> None:
    with pytest.raises(ImportRefused) as exc:
        import_create(kind="transactions", chunks=[content], original_name=name, enqueue=False)
    assert str(exc.value) == str(message).format(name=name)
    assert ImportJob.objects.count() == 0
    uploads = settings.MEDIA_ROOT / "imports" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_the_size_limit_is_enforced_while_storing(db: None, settings: Any) -> None:
    settings.CLV_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ImportRefused, match="larger than the limit"):
        import_create(kind="transactions", chunks=[b"a" * 600, b"b" * 600], original_name="big.csv", enqueue=False)
    assert not any((settings.MEDIA_ROOT / "imports" / "uploads").iterdir())


def test_uploads_are_stored_under_generated_names_outside_the_static_root(run_import: Run) -> None:
    job = run_import("transactions", TX + "C1,O1,2024-01-05,100,60\n", name="../../etc/evil.csv")
    stored = settings.MEDIA_ROOT / job.stored_file
    assert stored.is_file() and stored.name != "evil.csv" and stored.suffix == ".csv"
    assert str(settings.STATIC_ROOT) not in str(stored.resolve())
    assert stored.resolve().is_relative_to(settings.MEDIA_ROOT.resolve())


def test_a_file_in_order_id_order_skips_the_line_item_search_and_a_late_repeat_is_still_summed(
    run_import: Run
) -> None:
    rising = "".join(f"C{i % 50},SO{i:06d},2024-01-05,1.00,\n" for i in range(3000))
    with CaptureQueriesContext(connection) as queries:
        job = run_import("transactions", TX + rising)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert not [q for q in queries.captured_queries if "HAVING count(*) > 1" in q["sql"]]
    assert Transaction.objects.count() == 3000
    # The same orders again with the first order's second line at the very end: found, summed,
    # and the file's orders replace the stored ones.
    job = run_import("transactions", TX + rising.replace("2024-01-05", "2024-01-06") + "C0,SO000000,2024-01-06,2.50,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 3000
    assert Transaction.objects.get(order_id="SO000000").revenue == Decimal("3.50")
