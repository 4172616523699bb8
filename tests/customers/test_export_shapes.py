"""Files as back offices and shops export them, end to end: a Taobao-style order export in GBK
with timestamps and its own column names, and dates exported from Excel as day numbers (read as
dates, and said so on the import page and by the command)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from customers.models import CostEntry, Customer, ImportJob, Transaction
from customers.services import import_claim, import_create, import_run
from customers.services.parsing import REASON_CURRENCY, REASON_DATE_FUTURE

Run = Callable[..., ImportJob]

TAOBAO = (
    "订单编号,买家会员名,付款时间,买家实际支付金额（元）,订单来源,宝贝标题\n"
    "1001,淘宝用户甲,2024-03-05 14:23:11,\"1,299.00\",手机淘宝,电饭煲\n"
    "1002,淘宝用户乙,2024/3/31 下午11:59:59,88.50,天猫,保温杯\n"
    "1003,淘宝用户甲,2024-04-01T00:00:05+08:00,-88.50,手机淘宝,退款\n"
)


def test_a_taobao_order_export_in_gbk_loads_with_its_own_column_names(run_import: Run) -> None:
    job = run_import("transactions", TAOBAO, encoding="gbk")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["encoding"] == "GB18030/GBK"
    assert job.detected["columns"] == {"customer_id": "买家会员名", "order_id": "订单编号", "order_date": "付款时间",
                                       "revenue": "买家实际支付金额（元）", "acquisition_channel": "订单来源"}
    assert job.detected["ignored"] == ["宝贝标题"]
    rows = sorted(Transaction.objects.values_list("order_id", "customer__external_id", "order_date", "revenue"))
    assert rows == [
        ("1001", "淘宝用户甲", dt.date(2024, 3, 5), Decimal("1299.00")),
        ("1002", "淘宝用户乙", dt.date(2024, 3, 31), Decimal("88.50")),  # the date as written, not the next day
        ("1003", "淘宝用户甲", dt.date(2024, 4, 1), Decimal("-88.50")),
    ]
    assert dict(Customer.objects.values_list("external_id", "acquisition_channel")) == {
        "淘宝用户甲": "手机淘宝", "淘宝用户乙": "天猫"}
    assert "date_note" not in job.detected


def _page_shows(client_as: Callable[[str | None], object], job: ImportJob, element_id: str, text: str) -> None:
    page = client_as("Analyst").get(f"/imports/{job.pk}/").content.decode()  # type: ignore[attr-defined]
    assert f'id="{element_id}"' in page and text in page


DAY_NUMBERS = "customer_id,order_id,order_date,revenue\nC1,O1,2024-03-04,10\nC2,O2,45356,20\nC1,O3,45383.5,5\n"


def test_excel_day_numbers_are_read_as_dates_and_the_import_says_so(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("transactions", DAY_NUMBERS)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert dict(Transaction.objects.values_list("order_id", "order_date")) == {
        "O1": dt.date(2024, 3, 4), "O2": dt.date(2024, 3, 5), "O3": dt.date(2024, 4, 1)}
    note = job.detected["date_note"]
    assert '"45356" on line 3' in note and "2024-03-05" in note
    _page_shows(client_as, job, "date-note", "Excel day numbers")


def test_the_notes_are_in_the_language_of_the_upload(db: None) -> None:
    job = import_create(kind="transactions", chunks=[(DAY_NUMBERS + "合计,,,35\n").encode()], original_name="d.csv",
                        enqueue=False, language="zh-hans")
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    done = import_run(job=claimed)
    assert done.status == ImportJob.Status.SUCCEEDED, done.message
    assert "Excel 日期序号" in done.detected["date_note"] and "第 3 行" in done.detected["date_note"]
    assert done.detected["summary_note"].startswith("未读取 1 个合计行") and "第 5 行" in done.detected["summary_note"]


def test_the_command_prints_the_day_number_note(db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "days.csv"
    path.write_text(DAY_NUMBERS, encoding="utf-8")
    call_command("import_csv", "transactions", str(path))
    out = capsys.readouterr().out
    assert "note: Some dates are Excel day numbers" in out and '"45356" on line 3' in out


def test_a_cost_file_with_excel_month_formats(run_import: Run) -> None:
    job = run_import("costs", "month,kind,amount\nMar-24,acquisition,100\nApril 2024,retention,50\n45444,acquisition,7\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(CostEntry.objects.values_list("month", "kind", "amount")) == [
        (dt.date(2024, 3, 1), "acquisition", Decimal("100.00")),
        (dt.date(2024, 4, 1), "retention", Decimal("50.00")),
        (dt.date(2024, 6, 1), "acquisition", Decimal("7.00")),
    ]


@pytest.mark.parametrize("footer", ["合计,,,1299.00,,\n", ",合计：,,\"1,299.00\",,\n", "Grand Total,,,1299.00,,\n"])
def test_a_totals_row_under_the_data_is_not_read_and_is_listed(run_import: Run, footer: str) -> None:
    content = ("订单编号,买家会员名,付款时间,实付金额,订单来源,备注\n"
               "1001,甲,2024-03-05,1000.00,天猫,\n" "1002,乙,2024-03-06,299.00,天猫,\n" + footer)
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_total == 2 and job.rows_invalid == 0
    assert Transaction.objects.count() == 2 and not Customer.objects.filter(external_id__contains="合计").exists()
    assert job.detected["summary_note"].startswith("1 total row(s) not read") and "(line 4)" in job.detected["summary_note"]


def test_subtotals_between_groups_are_listed_and_a_customer_named_total_with_a_date_is_data(run_import: Run) -> None:
    content = ("customer_id,order_date,revenue\n" "A,2024-03-05,1\n" "小计,,1\n" "B,2024-03-06,2\n" "小计,,2\n"
               "Total,2024-03-07,3\n")
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["A", "B", "Total"]
    assert "2 total row(s)" in job.detected["summary_note"] and "(line 3, 5)" in job.detected["summary_note"]


def test_a_totals_row_of_a_cost_file_is_not_read(run_import: Run) -> None:
    job = run_import("costs", "月份,类型,金额\n2024-03,获客,100\n2024-04,留存,50\n合计,,150\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert CostEntry.objects.count() == 2 and "(line 4)" in job.detected["summary_note"]


def _workbook(rows: list[list[Any]]) -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_a_totals_row_in_a_workbook_is_named_by_its_sheet_row(run_import: Run) -> None:
    content = _workbook([["销售明细"], ["客户编号", "订单日期", "金额"], ["C1", dt.date(2024, 3, 5), 10], ["合计", None, 10]])
    job = run_import("transactions", content, name="sales.xlsx")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 1 and "(line 4)" in job.detected["summary_note"]


def test_a_workbook_in_ten_thousands_with_a_note_under_it(run_import: Run) -> None:
    content = _workbook([["营销费用"], ["月份", "费用类型", "金额（万元）"], ["2024-03", "获客", 12.5],
                         ["2024-04", "留存", 3], ["制表人：张三"]])
    job = run_import("costs", content, name="costs.xlsx")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(CostEntry.objects.values_list("month", "amount")) == [
        (dt.date(2024, 3, 1), Decimal("125000.00")), (dt.date(2024, 4, 1), Decimal("30000.00"))]
    assert "(line 5)" in job.detected["lone_cell_note"] and "10,000" in job.detected["scale_note"]


SCALED_COSTS = "月份,费用类型,金额(万元)\n2024-03,获客,12.5\n2024-03,留存,0.75\n2024-04,获客,\"1,000\"\n"
SCALED_ORDERS = "客户编号,订单编号,订单日期,销售额/千元,成本(元)\nC1,O1,2024-03-05,1.2345,100\nC2,O2,2024-03-06,-0.5,\n"


def test_amounts_in_ten_thousands_are_stored_in_yuan_and_the_import_says_so(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("costs", SCALED_COSTS)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(CostEntry.objects.values_list("month", "kind", "amount")) == [
        (dt.date(2024, 3, 1), "acquisition", Decimal("125000.00")),
        (dt.date(2024, 3, 1), "retention", Decimal("7500.00")),
        (dt.date(2024, 4, 1), "acquisition", Decimal("10000000.00")),
    ]
    note = job.detected["scale_note"]
    assert '"金额(万元)" is in 万元' in note and "multiplied by 10,000" in note and "15,000.00" in note
    _page_shows(client_as, job, "scale-note", "multiplied by 10,000")

    orders = run_import("transactions", SCALED_ORDERS)
    assert orders.status == ImportJob.Status.SUCCEEDED, orders.message
    assert dict(Transaction.objects.values_list("order_id", "revenue")) == {
        "O1": Decimal("1234.50"), "O2": Decimal("-500.00")}
    assert Transaction.objects.get(order_id="O1").cost == Decimal("100.00")  # the cost column is in yuan
    assert '"销售额/千元" is in 千元' in orders.detected["scale_note"]


def test_the_scale_note_is_in_the_language_of_the_upload_and_printed_by_the_command(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = import_create(kind="costs", chunks=[SCALED_COSTS.encode()], original_name="c.csv", enqueue=False,
                        language="zh-hans")
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    done = import_run(job=claimed)
    assert done.detected["scale_note"].startswith("列“金额(万元)”的单位是 万元：其金额已乘以 10,000")
    path = tmp_path / "orders.csv"
    path.write_text(SCALED_ORDERS, encoding="utf-8")
    call_command("import_csv", "transactions", str(path))
    out = capsys.readouterr().out
    assert 'note: Column "销售额/千元" is in 千元: its amounts were multiplied by 1,000' in out



FOOTED = ("客户编号,订单编号,订单日期,金额\nC1,O1,2024-03-05,10\nC2,O2,2024-03-06,20\n合计,,,30\n"
          "制表人：张三,,,\n,,,打印日期 2024-04-01 10:00\n")


def test_a_note_under_the_data_is_not_read_and_the_import_lists_it(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("transactions", FOOTED)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_total == 2 and Transaction.objects.count() == 2
    note = job.detected["lone_cell_note"]
    assert note.startswith("2 line(s) with a single filled cell not read") and '"制表人：张三"' in note
    assert "(line 5, 6)" in note and "(line 4)" in job.detected["summary_note"]
    _page_shows(client_as, job, "lone-cell-note", "制表人：张三")
    # A cost file's footer too.
    costs = run_import("costs", "month,kind,amount\n2024-03,acquisition,100\nSource: ERP export,,\n")
    assert costs.status == ImportJob.Status.SUCCEEDED, costs.message
    assert "Source: ERP export" in costs.detected["lone_cell_note"]


def test_a_lone_code_or_amount_in_a_column_that_is_read_stays_an_error(run_import: Run) -> None:
    for tail in ("C9,,,\n", ",,,30\n"):
        job = run_import("transactions", "客户编号,订单编号,订单日期,金额\nC1,O1,2024-03-05,10\n" + tail)
        assert job.status == ImportJob.Status.REJECTED, tail
        assert job.rows_invalid == 1 and "lone_cell_note" not in job.detected


SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Currency,Subtotal,Shipping,Taxes,Total,"
                  "Created at,Lineitem quantity,Lineitem name,Lineitem price,Billing Name,Refunded Amount,Id,"
                  "Receipt Number\n")
SHOPIFY = SHOPIFY_HEADER + (
    "#1001,ann@example.com,paid,2024-03-05 09:50:26 +0800,fulfilled,CNY,90.00,10.00,0.00,100.00,"
    "2024-03-05 09:50:26 +0800,1,Tea,60.00,Ann Lee,0.00,5001,\n"
    "#1001,ann@example.com,,,,,,,,,2024-03-05 09:50:26 +0800,1,Cup,30.00,,,,\n"
    "#1002,bo@example.com,partially_refunded,2024-03-06 10:00:00 +0800,,CNY,40.00,0.00,0.00,40.00,"
    "2024-03-06 10:00:00 +0800,2,Tea,20.00,Bo Chen,20.00,5002,\n"
    "#1003,ann@example.com,paid,2024-04-01 08:00:00 +0800,,CNY,15.00,0.00,0.00,15.00,"
    "2024-04-01 08:00:00 +0800,1,Cup,15.00,Ann Lee,,5003,\n"
    "#1003,,,,,,,,,,,1,Spoon,5.00,,,,\n"
)


def test_a_shopify_orders_export_is_read_an_order_per_name_with_its_first_lines_total(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("transactions", SHOPIFY)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"] == {"order_id": "Name", "customer_id": "Email", "order_date": "Created at",
                                       "revenue": "Total", "order_status": "Financial Status", "currency": "Currency",
                                       "name": "Billing Name"}
    assert job.detected["profile"] == "shopify" and "Refunded Amount" not in job.detected["ignored"]
    assert sorted(Transaction.objects.values_list("order_id", "customer__external_id", "order_date", "revenue")) == [
        ("#1001", "ann@example.com", dt.date(2024, 3, 5), Decimal("100.00")),
        ("#1002", "bo@example.com", dt.date(2024, 3, 6), Decimal("20.00")),  # its Total less its refund
        ("#1003", "ann@example.com", dt.date(2024, 4, 1), Decimal("15.00")),
    ]
    assert dict(Customer.objects.values_list("external_id", "name")) == {"ann@example.com": "Ann Lee",
                                                                        "bo@example.com": "Bo Chen"}
    _page_shows(client_as, job, "profile-note", "Shopify orders export")


def test_a_voided_or_refunded_shopify_order_is_left_out_with_all_its_lines(run_import: Run) -> None:
    voided = ("#1004,cy@example.com,voided,2024-04-02 08:00:00 +0800,,CNY,30.00,0.00,0.00,30.00,"
              "2024-04-02 08:00:00 +0800,1,Tea,30.00,Cy Wu,0.00,5004,\n#1004,,,,,,,,,,,1,Cup,5.00,,,,\n")
    job = run_import("transactions", SHOPIFY + voided)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == ["#1001", "#1002", "#1003"]
    assert "2 line(s) not read" in job.detected["not_revenue_note"] and "(voided 2)" in job.detected["not_revenue_note"]


TAOBAO_STATUSES = (
    "订单编号,买家会员名,付款时间,买家实际支付金额,订单状态\n"
    "1001,甲,2024-03-05 10:00:00,100.00,交易成功\n"
    "1002,乙,2024-03-05 11:00:00,50.00,交易关闭\n"
    "1003,丙,2024-03-06 12:00:00,70.00,等待买家付款\n"
    "1004,甲,2024-03-07 12:00:00,30.00,卖家已发货\n"
    "1005,丁,2024-03-08 12:00:00,20.00, Cancelled \n"
    "1006,乙,2024-03-09 12:00:00,10.00,\n"
    "1007,甲,2024-03-10 12:00:00,-30.00,已退款\n"  # a refund's own line: read whatever its status
)


@pytest.mark.parametrize("reader", ["columnar", "rows"])
def test_lines_of_cancelled_unpaid_or_refunded_orders_are_not_revenue_and_the_import_says_so(
        run_import: Run, client_as: Callable[[str | None], object], reader: str) -> None:
    # Old Mac line ends send the file to the row reader; the columnar reader reads it otherwise.
    job = run_import("transactions", TAOBAO_STATUSES.replace("\n", "\r") if reader == "rows" else TAOBAO_STATUSES)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"]["order_status"] == "订单状态"
    assert job.detected["reader"] == reader
    expected = ["1001", "1004", "1006", "1007"]  # success, shipped, no status, and a refund: read
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == expected
    note = job.detected["not_revenue_note"]
    assert note.startswith("3 line(s) not read") and "交易关闭 1" in note and "等待买家付款 1" in note and "Cancelled 1" in note
    assert job.rows_total == len(expected) and job.rows_invalid == 0
    _page_shows(client_as, job, "not-revenue-note", "等待买家付款 1")


def test_a_file_with_the_same_columns_but_not_shopifys_keeps_the_general_rules(run_import: Run) -> None:
    # Without Shopify's own columns, Name is the customer's name and a blank amount is an error.
    job = run_import("transactions", "Customer ID,Name,Order ID,Date,Total\nC1,Ann,O1,2024-03-05,10\nC1,Ann,O1,2024-03-05,\n")
    assert job.status == ImportJob.Status.REJECTED
    assert "profile" not in job.detected and job.rows_invalid == 1


def test_a_shopify_refund_that_is_not_an_amount_is_an_error_of_its_own_column(run_import: Run) -> None:
    bad = SHOPIFY.replace("Bo Chen,20.00,", "Bo Chen,twenty,")
    job = run_import("transactions", bad)
    assert job.status == ImportJob.Status.REJECTED
    assert [(e["line"], e["column"], e["value"]) for e in job.error_report] == [(4, "Refunded Amount", "twenty")]



TITLED = ("销售明细表,,\n导出时间：2024-04-01 10:00,,\n\n客户编号,订单日期,金额\nC1,2024-03-05,10\nC2,2024-03-06,20\n"
          "合计,,30\n")


def test_a_csv_with_title_lines_above_its_header_is_read_from_the_header(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("transactions", TITLED)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["header"] == ["客户编号", "订单日期", "金额"] and job.detected["header_line"] == 4
    assert job.detected["title_rows"] == ["销售明细表", "导出时间：2024-04-01 10:00"]
    assert sorted(Transaction.objects.values_list("customer__external_id", "revenue")) == [
        ("C1", Decimal("10.00")), ("C2", Decimal("20.00"))]
    assert "(line 7)" in job.detected["summary_note"]  # lines keep the file's numbers
    _page_shows(client_as, job, "title-rows", "Header on line 4")
    # A bad row below such a header is reported on its own line of the file.
    bad = run_import("transactions", TITLED.replace("C2,2024-03-06,20", "C2,not a date,20"))
    assert [(e["line"], e["column"]) for e in bad.error_report] == [(6, "订单日期")]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_excels_sep_line_names_the_delimiter_and_is_not_the_header(run_import: Run, delimiter: str) -> None:
    rows = [["customer_id", "order_id", "order_date", "revenue"], ["C1", "O1", "2024-03-05", "10,50"],
            ["C2", "O2", "2024-03-06", "20"]]
    quoted = [[f'"{v}"' if delimiter in v else v for v in row] for row in rows]
    content = f"sep={delimiter}\n" + "".join(delimiter.join(row) + "\n" for row in quoted)
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["header"] == rows[0] and "title_rows" not in job.detected
    assert sorted(Transaction.objects.values_list("customer__external_id", "revenue")) == [
        ("C1", Decimal("10.50")), ("C2", Decimal("20.00"))]
    bad = run_import("transactions", content.replace("2024-03-06", "not a date"))
    assert [e["line"] for e in bad.error_report] == [4]  # the file's own line numbers


JOINED = ("customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,10\nC2,O2,2024-01-06,20\n"
          "\ufeffcustomer_id,order_id,order_date,revenue\nC1,O3,2024-02-05,30\n"
          "customer_id,order_id,order_date,revenue,,\nC3,O4,2024-03-05,40\n")


def test_files_joined_one_after_another_skip_the_repeated_headers_and_say_so(
    run_import: Run, client_as: Callable[[str | None], object]
) -> None:
    job = run_import("transactions", JOINED)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Transaction.objects.values_list("order_id", "revenue")) == [
        ("O1", Decimal("10.00")), ("O2", Decimal("20.00")), ("O3", Decimal("30.00")), ("O4", Decimal("40.00"))]
    assert job.rows_total == 4 and job.rows_invalid == 0
    assert "2 repeated header line(s) not read" in job.detected["repeated_header_note"]
    assert "(line 4, 6)" in job.detected["repeated_header_note"]
    _page_shows(client_as, job, "repeated-header-note", "(line 4, 6)")
    # A row that only starts like the header is data, and reported as such.
    bad = run_import("transactions", JOINED.replace("\ufeffcustomer_id,order_id,order_date,revenue",
                                                    "customer_id,order_id,date,revenue"))
    assert [(e["line"], e["column"]) for e in bad.error_report] == [(4, "order_date"), (4, "revenue")]


@pytest.mark.parametrize("kind", ["customers", "costs"])
def test_a_customers_or_costs_file_joined_to_another_keeps_its_header_out_of_the_data(
        run_import: Run, kind: str) -> None:
    part = ("客户编号,区域\nC1,华东\nC2,华北\n" if kind == "customers"
            else "月份,类型,金额\n2024-01,获客,100\n2024-02,留存,20\n")
    job = run_import(kind, part + part.replace("C1", "C7").replace("2024-01", "2024-03"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert "(line 4)" in job.detected["repeated_header_note"]
    if kind == "customers":
        assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["C1", "C2", "C7"]
    else:
        assert CostEntry.objects.count() == 3


def test_a_file_typed_with_full_width_commas_loads(run_import: Run) -> None:
    job = run_import("transactions", "客户编号，订单号，订单日期，金额\nC1，O1，2024-03-05，10\nC2，O2，2024年3月6日，２０\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["delimiter"] == "full-width comma"
    assert sorted(Transaction.objects.values_list("customer__external_id", "revenue")) == [
        ("C1", Decimal("10.00")), ("C2", Decimal("20.00"))]


def test_monthly_totals_per_customer_load_on_the_months_first_day_and_the_import_says_so(
        run_import: Run, client_as: Callable[[str | None], object]) -> None:
    job = run_import("transactions", "客户编号,月份,金额\nC1,2024-03,100\nC2,2024年4月,50\nC1,2024-04-15,5\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"]["order_date"] == "月份"
    assert sorted(Transaction.objects.values_list("customer__external_id", "order_date")) == [
        ("C1", dt.date(2024, 3, 1)), ("C1", dt.date(2024, 4, 15)), ("C2", dt.date(2024, 4, 1))]
    assert '"2024-03" on line 2, read as 2024-03-01' in job.detected["month_date_note"]
    _page_shows(client_as, job, "month-date-note", "first day of its month")
    # A file with a date column and a month column takes the date.
    both = run_import("transactions", "客户编号,月份,付款时间,金额\nC3,2024-05,2024-05-20 10:00,10\n")
    assert both.detected["columns"]["order_date"] == "付款时间" and "month_date_note" not in both.detected


def test_an_order_dated_in_the_future_is_an_error_naming_the_last_date_accepted(run_import: Run) -> None:
    from customers.services.imports import latest_order_date

    latest = latest_order_date()
    assert latest == timezone.localdate() + dt.timedelta(days=1)
    later = latest + dt.timedelta(days=1)
    content = (f"customer_id,order_date,revenue\nC1,{latest.isoformat()},10\nC2,{later.isoformat()},20\n"
               f"C3,{later.year + 16}-03-05,30\nC4,{later:%d.%m.%Y},40\n")
    job = run_import("transactions", content, date_order="dmy")
    assert job.status == ImportJob.Status.REJECTED
    reason = str(REASON_DATE_FUTURE).format(today=latest.isoformat())
    assert [(e["line"], e["column"], e["reason"]) for e in job.error_report] == [
        (3, "order_date", reason), (4, "order_date", reason), (5, "order_date", reason)]
    # Costs may be planned ahead: a cost month in the future is accepted.
    costs = run_import("costs", f"month,kind,amount\n{later.year + 1}-01,acquisition,5\n")
    assert costs.status == ImportJob.Status.SUCCEEDED, costs.message


MIXED_CURRENCIES = ("customer_id,order_id,order_date,revenue,币种\nC1,O1,2024-03-05,100,CNY\nC2,O2,2024-03-05,700,USD\n"
                    "C3,O3,2024-03-06,50,人民币\nC4,O4,2024-03-06,60,\nC5,O5,2024-03-07,70,rmb\nC6,O6,2024-03-07,80,港币\n")


@pytest.mark.parametrize("reader", ["columnar", "rows"])
def test_a_row_in_another_currency_than_the_boards_is_refused_not_added(run_import: Run, reader: str) -> None:
    content = MIXED_CURRENCIES.replace("\n", "\r") if reader == "rows" else MIXED_CURRENCIES
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.REJECTED and job.detected["reader"] == reader
    assert job.detected["columns"]["currency"] == "币种"
    reason = str(REASON_CURRENCY).format(currency="CNY")
    assert [(e["line"], e["column"], e["value"], e["reason"]) for e in job.error_report] == [
        (3, "币种", "USD", reason), (7, "币种", "港币", reason)]
    skipped = run_import("transactions", content, skip_invalid=True)
    assert skipped.status == ImportJob.Status.SUCCEEDED, skipped.message
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == ["O1", "O3", "O4", "O5"]


def test_a_cost_in_another_currency_is_refused_and_the_boards_currency_is_a_setting(
        run_import: Run, settings: Any) -> None:
    job = run_import("costs", "month,kind,amount,currency\n2024-01,acquisition,100,USD\n2024-01,retention,5,CNY\n")
    assert job.status == ImportJob.Status.REJECTED
    assert [(e["line"], e["value"]) for e in job.error_report] == [(2, "USD")]
    settings.CLV_CURRENCY = "USD"
    job = run_import("costs", "month,kind,amount,currency\n2024-01,acquisition,100,US$\n2024-01,retention,5,CNY\n")
    assert [(e["line"], e["value"]) for e in job.error_report] == [(3, "CNY")]


def test_without_an_amount_column_a_lines_revenue_is_its_quantity_times_its_unit_price(
        run_import: Run, client_as: Callable[[str | None], object]) -> None:
    content = ("客户编号,订单号,订单日期,数量,单价,商品\nC1,SO1,2024-03-05,2,\"1,299.50\",电饭煲\n"
               "C1,SO1,2024-03-05,1,￥0.335,袋子\nC2,SO2,2024-03-06,-1,88,退货\nC3,SO3,2024-03-07,１,10,x\n")
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"]["quantity"] == "数量" and job.detected["columns"]["unit_price"] == "单价"
    assert sorted(Transaction.objects.values_list("order_id", "revenue")) == [
        ("SO1", Decimal("2599.34")),  # 2 x 1,299.50 + 1 x 0.335 (rounded half up: 0.34), the lines summed
        ("SO2", Decimal("-88.00")), ("SO3", Decimal("10.00"))]
    assert '"数量" x "单价"' in job.detected["revenue_note"]
    _page_shows(client_as, job, "revenue-note", "quantity times its unit price")
    bad = run_import("transactions", "客户编号,订单日期,数量,单价\nC4,2024-03-07,abc,10\nC5,2024-03-07,,10\nC6,2024-03-07,1,\n")
    assert [(e["line"], e["column"], e["value"]) for e in bad.error_report] == [
        (2, "数量", "abc"), (3, "数量", ""), (4, "单价", "")]
    # With an amount column the quantity and the price are not read.
    both = run_import("transactions", "客户编号,订单日期,数量,单价,金额\nC7,2024-03-08,2,10,15\n")
    assert both.status == ImportJob.Status.SUCCEEDED and "quantity" not in both.detected["columns"]
    assert Transaction.objects.get(customer__external_id="C7").revenue == Decimal("15.00")
    assert both.detected["ignored"] == ["数量", "单价"] and "revenue_note" not in both.detected


def test_a_file_with_old_mac_line_ends_loads_every_row(run_import: Run) -> None:
    job = run_import("transactions", "customer_id,order_date,revenue\rC1,2024-03-05,10\rC2,2024-03-06,20\r")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Transaction.objects.values_list("customer__external_id", "revenue")) == [
        ("C1", Decimal("10.00")), ("C2", Decimal("20.00"))]


def test_a_header_on_the_first_line_is_kept_even_when_a_row_below_holds_known_names(run_import: Run) -> None:
    # The hand-mapped header names nothing known by default; a data row holds words that are.
    content = "who,when,how much\ncustomer_id,2024-03-05,10\n"
    job = run_import("transactions", content, mapping={"customer_id": "who", "order_date": "when", "revenue": "how much"})
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert "title_rows" not in job.detected and Transaction.objects.get().customer.external_id == "customer_id"


def test_codes_written_as_excel_text_formulas_are_read_as_their_text(run_import: Run) -> None:
    content = ('客户编号,订单编号,订单日期,金额\n="00123",="202403050001234567",2024-03-05,10\n'
               '="00456",="202403060001234568",="2024-03-06",="20.50"\nC7,O7,2024-03-07,5\n')
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Transaction.objects.values_list("customer__external_id", "order_id", "order_date", "revenue")) == [
        ("00123", "202403050001234567", dt.date(2024, 3, 5), Decimal("10.00")),
        ("00456", "202403060001234568", dt.date(2024, 3, 6), Decimal("20.50")),
        ("C7", "O7", dt.date(2024, 3, 7), Decimal("5.00")),
    ]
    assert "00123" in job.detected["excel_text_note"]


@pytest.mark.parametrize("reader", ["columnar", "rows"])
def test_excels_text_mark_before_a_code_is_not_part_of_it(run_import: Run, small_blocks: None, reader: str) -> None:
    # '13800138000: a phone number kept as text in a cell; the same customer as 13800138000.
    body = "".join(f"'1380013800{i % 2},'00{i:04d},2024-03-05,10\n" for i in range(60))
    extra = '="13800138001",X3,2024-03-08,1\n' if reader == "rows" else ""  # an Excel formula: the row reader
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\n" + extra + body
                     + "13800138000,X1,2024-03-06,5\n'Alias,X2,2024-03-07,1\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == reader
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["'Alias", "13800138000", "13800138001"]
    assert Transaction.objects.filter(order_id="000001").count() == 1
    customers = run_import("customers", "customer_id,region,referred_by\n'13800138000,East,'13800138001\n")
    assert customers.status == ImportJob.Status.SUCCEEDED, customers.message
    assert Customer.objects.get(external_id="13800138000").referred_by == "13800138001"
