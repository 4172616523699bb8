"""Excel workbooks, built in the tests with openpyxl (and xlwt for .xls), imported end to end."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from customers.models import CostEntry, Customer, ImportJob, Transaction
from customers.services import import_rerun, import_undo
from customers.services import workbooks as wb_service
from customers.services.parsing import ERR_DATE_ORDER_AMBIGUOUS, REASON_AMOUNT, REASON_DATE

Run = Callable[..., ImportJob]


def xlsx(build: Callable[[Workbook], None]) -> bytes:
    book = Workbook()
    build(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plain_orders(book: Workbook) -> None:
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["customer_id", "order_id", "order_date", "revenue", "cost"])
    sheet.append(["C1", "O1", dt.date(2024, 3, 31), 100.5, 60])
    sheet.append(["C2", "O2", "2024/4/2", "1,234.50", "¥10.00"])
    sheet.append([1001, 5001, dt.datetime(2024, 4, 3, 15, 30), 7, None])


def run_xlsx(run_import: Run, build: Callable[[Workbook], None], *, kind: str = "transactions",
             name: str = "export.xlsx", **options: Any) -> ImportJob:
    return run_import(kind, xlsx(build), name=name, **options)


def test_a_workbook_loads_like_a_csv_with_dates_and_numbers_in_every_form(run_import: Run) -> None:
    job = run_xlsx(run_import, plain_orders)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["workbook"]["sheet"] == "Orders"
    rows = {t.order_id: (t.customer.external_id, t.order_date, t.revenue, t.cost) for t in Transaction.objects.all()}
    assert rows == {
        "O1": ("C1", dt.date(2024, 3, 31), Decimal("100.50"), Decimal("60.00")),
        "O2": ("C2", dt.date(2024, 4, 2), Decimal("1234.50"), Decimal("10.00")),
        # Numbers stored as numbers: ids as 1001 (not 1001.0), the time of day ignored.
        "5001": ("1001", dt.date(2024, 4, 3), Decimal("7.00"), None),
    }
    # The converted sheet is removed after the import; the upload stays for undo and re-run.
    uploads = Path(settings.MEDIA_ROOT) / "imports" / "uploads"
    assert [p.suffix for p in uploads.iterdir()] == [".xlsx"]


def test_a_workbook_named_csv_is_read_by_its_content(run_import: Run) -> None:
    job = run_xlsx(run_import, plain_orders, name="export.csv")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 3


def test_the_header_is_found_below_a_title_and_blank_rows(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.append(["Sales export, March 2024"])
        sheet.append([])
        sheet.append(["客户编号", "订单号", "订单日期", "金额"])
        sheet.append(["C1", "O1", "2024-03-05", 10])
        sheet.append([])
        sheet.append(["C2", "O2", "2024-03-06", "oops"])

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.REJECTED
    assert job.detected["workbook"]["header_row"] == 3
    assert job.detected["workbook"]["title_rows"] == ["Sales export, March 2024"]
    # The error names the sheet's own row and cell (row 6, column D), not the CSV line.
    assert job.error_report == [{"line": 6, "cell": "Sheet!D6", "column": "金额", "value": "oops",
                                 "reason": str(REASON_AMOUNT), "parts": job.error_report[0]["parts"]}]
    report = (Path(settings.MEDIA_ROOT) / job.error_report_file).read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "row,column,value,reason,cell"
    assert report[1].startswith("6,金额,oops,") and report[1].endswith(",Sheet!D6")


def test_merged_header_cells_and_group_labels_make_the_column_names(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.title = "Data"
        sheet.append(["Customer", "Order", None, "revenue"])
        sheet.append([None, "id", "date", None])
        sheet.merge_cells("A1:A2")  # customer, vertically merged over both header rows
        sheet.merge_cells("B1:C1")  # "Order" over "id" and "date"
        sheet.merge_cells("D1:D2")
        sheet.append(["C1", "O1", "2024-03-05", 10])
        sheet.append(["C2", "O2", "2024-03-06", 20])

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"] == {"customer_id": "Customer", "order_id": "Order id", "order_date": "date",
                                       "revenue": "revenue"}
    assert job.detected["workbook"]["merged_header"] is True
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == ["O1", "O2"]


def test_hidden_sheets_are_ignored_unless_chosen(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        hidden = book.active
        hidden.title = "Raw"
        hidden.sheet_state = "hidden"
        hidden.append(["customer_id", "order_id", "order_date", "revenue"])
        hidden.append(["H1", "OH1", "2024-01-01", 1])
        shown = book.create_sheet("Clean")
        shown.append(["customer_id", "order_id", "order_date", "revenue"])
        shown.append(["V1", "OV1", "2024-01-01", 2])
        other = book.create_sheet("Q2")
        other.append(["customer_id", "order_id", "order_date", "revenue"])
        other.append(["Q1", "OQ1", "2024-04-01", 3])

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert list(Transaction.objects.values_list("order_id", flat=True)) == ["OV1"]
    assert job.detected["workbook"]["hidden_sheets"] == ["Raw"]
    assert job.detected["workbook"]["sheets"] == ["Clean", "Q2"]

    job = run_xlsx(run_import, build, sheet="Raw")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    job = run_xlsx(run_import, build, sheet="q2")  # the name compared as header names are
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == ["OH1", "OQ1", "OV1"]


def _cover_first(book: Workbook) -> None:
    cover = book.active
    cover.title = "说明"
    cover.append(["本表为2024年销售明细，请勿修改格式"])
    cover.append(["导出人：张三", "日期：2024-04-01"])
    book.create_sheet("空白")  # an empty sheet
    data = book.create_sheet("销售明细")
    data.append(["客户编号", "订单号", "订单日期", "金额"])
    data.append(["C1", "O1", dt.date(2024, 3, 5), 100])
    data.append(["C2", "O2", "2024年3月6日", "oops"])


def test_a_cover_sheet_before_the_data_is_passed_over_and_the_import_says_so(
        run_import: Run, client_as: Callable[[str | None], object]) -> None:
    job = run_xlsx(run_import, _cover_first)
    assert job.status == ImportJob.Status.REJECTED
    assert job.detected["workbook"]["sheet"] == "销售明细"
    assert job.detected["workbook"]["passed_over"] == ["说明", "空白"]
    assert [e["cell"] for e in job.error_report] == ["销售明细!D3"]  # errors name the sheet read
    page = client_as("Analyst").get(f"/imports/{job.pk}/").content.decode()  # type: ignore[attr-defined]
    assert "passed over" in page and "“说明”, “空白”" in page
    # A sheet chosen by name is read even when it names no field (and refused as such).
    chosen = run_xlsx(run_import, _cover_first, sheet="说明")
    assert chosen.status == ImportJob.Status.REJECTED and "Required column(s) missing" in chosen.message
    assert chosen.detected["workbook"]["passed_over"] == []


def test_a_workbook_with_no_sheet_of_this_kind_is_refused_on_its_first_sheet(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        book.active.title = "说明"
        book.active.append(["说明文字"])
        book.create_sheet("其他").append(["甲", "乙"])

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.REJECTED and "Required column(s) missing" in job.message
    assert job.detected["workbook"]["sheet"] == "说明" and job.detected["workbook"]["passed_over"] == []


def test_an_ambiguous_text_date_is_reported_on_its_sheet_row(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.append(["Export"])
        sheet.append(["customer_id", "order_id", "order_date", "revenue"])
        sheet.append(["C1", "O1", "3.4.2024", 10])

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(ERR_DATE_ORDER_AMBIGUOUS).format(example="3.4.2024", line=3)


def test_an_unknown_sheet_is_refused_naming_the_sheets(run_import: Run) -> None:
    job = run_xlsx(run_import, plain_orders, sheet="March")
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(wb_service.ERR_WORKBOOK_NO_SHEET).format(sheet="March", sheets='"Orders"')


def test_a_formula_gives_its_cached_value_and_without_one_is_refused_with_its_cell(run_import: Run, tmp_path: Path) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.title = "Sheet1"
        sheet.append(["customer_id", "order_id", "order_date", "revenue"])
        sheet.append(["C1", "O1", "2024-03-05", 10])
        sheet.append(["C2", "O2", "2024-03-06", 20])
        sheet.append(["C3", "O3", "2024-03-07", 30])
        sheet.append(["C4", "O4", "2024-03-08", 40])
        sheet.append(["C5", "O5", "2024-03-09", 50])
        sheet["D7"] = "=D2*2"  # openpyxl saves a formula without its result

    job = run_xlsx(run_import, build)
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(wb_service.ERR_WORKBOOK_FORMULA).format(cell="Sheet1!D7", count=1)
    assert Transaction.objects.count() == 0

    # The same workbook as Excel saves it, with the cached result <v>20</v>: the value is read.
    import zipfile

    source = tmp_path / "f.xlsx"
    source.write_bytes(xlsx(build))
    cached = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(cached, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start = text.index('<c r="D7"')
                end = text.index("</c>", start) + len("</c>")
                text = text[:start] + '<c r="D7"><f>D2*2</f><v>20</v></c>' + text[end:]
                data = text.encode()
            zout.writestr(item, data)
    job = run_import("transactions", cached.read_bytes(), name="cached.xlsx")
    assert job.status == ImportJob.Status.REJECTED  # D7 alone has no customer: a row error, not a refusal
    assert [(e["cell"], e["column"]) for e in job.error_report] == [("Sheet1!A7", "customer_id"),
                                                                     ("Sheet1!C7", "order_date")]


def test_invalid_rows_are_skipped_and_reported_with_sheet_and_cell(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.title = "销售"
        sheet.append(["导出时间 2024-04-01"])
        sheet.append(["customer_id", "order_id", "order_date", "revenue"])
        sheet.append(["C1", "O1", "2024-03-05", 10])
        sheet.append(["C2", "O2", "not a date", 20])
        sheet.append(["C3", "O3", "2024-03-07", 30])

    job = run_xlsx(run_import, build, skip_invalid=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_written == 2 and job.rows_skipped == 1
    assert [(e["line"], e["cell"], e["reason"]) for e in job.error_report] == [(4, "销售!C4", str(REASON_DATE))]


def test_a_workbook_import_is_undone_and_run_again_like_a_csv(run_import: Run) -> None:
    job = run_xlsx(run_import, plain_orders)
    assert job.status == ImportJob.Status.SUCCEEDED
    import_undo(job=job)
    assert Transaction.objects.count() == 0

    job = run_xlsx(run_import, plain_orders, sheet="Nope")
    assert job.status == ImportJob.Status.REJECTED
    from customers.services import import_claim, import_run

    import_rerun(job=job, sheet="Orders", enqueue=False)
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    job = import_run(job=claimed)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 3


def test_a_customers_and_a_costs_workbook(run_import: Run) -> None:
    def customers(book: Workbook) -> None:
        book.active.append(["客户编号", "区域"])
        book.active.append(["C1", "East"])

    def costs(book: Workbook) -> None:
        book.active.append(["month", "kind", "amount"])
        book.active.append([dt.date(2024, 3, 1), "获客", 1500])

    assert run_xlsx(run_import, customers, kind="customers").status == ImportJob.Status.SUCCEEDED
    assert Customer.objects.get(external_id="C1").region == "East"
    job = run_xlsx(run_import, costs, kind="costs")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    entry = CostEntry.objects.get()
    assert (entry.month, entry.kind, entry.amount) == (dt.date(2024, 3, 1), "acquisition", Decimal("1500.00"))


def test_an_xls_workbook_is_read(run_import: Run) -> None:
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook()
    sheet = book.add_sheet("Legacy")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for col, name in enumerate(["customer_id", "order_id", "order_date", "revenue"]):
        sheet.write(0, col, name)
    sheet.write(1, 0, "C1")
    sheet.write(1, 1, "O1")
    sheet.write(1, 2, dt.date(2024, 2, 29), date_style)
    sheet.write(1, 3, 99.99)
    out = io.BytesIO()
    book.save(out)
    job = run_import("transactions", out.getvalue(), name="legacy.xls")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    t = Transaction.objects.get()
    assert (t.order_date, t.revenue) == (dt.date(2024, 2, 29), Decimal("99.99"))


def test_a_broken_workbook_is_refused_saying_so(run_import: Run) -> None:
    job = run_import("transactions", b"PK\x03\x04\x14\x00\x06\x00 not really a zip", name="data.xlsx")
    assert job.status == ImportJob.Status.REJECTED
    assert job.message.startswith(str(wb_service.ERR_WORKBOOK_UNREADABLE).split("(")[0])


def test_the_command_reads_the_named_sheet(db: None, tmp_path: Path, settings: Any) -> None:
    def build(book: Workbook) -> None:
        book.active.title = "Notes"
        book.active.append(["read me first"])
        data = book.create_sheet("Data")
        data.append(["customer_id", "order_id", "order_date", "revenue"])
        data.append(["C1", "O1", "2024-03-05", 10])

    path = tmp_path / "book.xlsx"
    path.write_bytes(xlsx(build))
    with pytest.raises(CommandError):
        call_command("import_csv", "transactions", str(path), "--sheet", "Notes", stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_csv", "transactions", str(path), "--sheet", "Data", stdout=out)
    assert "sheet 'Data', header on row 1" in out.getvalue()
    assert Transaction.objects.count() == 1
    # Without --sheet the notes sheet, which names no column, is passed over, and the command says so.
    out = io.StringIO()
    call_command("import_csv", "transactions", str(path), stdout=out)
    assert "sheet 'Data', header on row 1, sheets passed over (no column of this kind): Notes" in out.getvalue()


@pytest.mark.parametrize(("value", "text"), [
    (12.0, "12"), (12.5, "12.5"), (0.1, "0.1"), (-3.25, "-3.25"), (True, "TRUE"), (None, ""),
    (dt.date(2024, 1, 2), "2024-01-02"), (dt.datetime(2024, 1, 2, 0, 0), "2024-01-02"),
    (dt.datetime(2024, 1, 2, 9, 5, 7), "2024-01-02 09:05:07"), ("a\nb", "a b"),
])
def test_cell_values_are_written_as_the_csv_reader_expects(value: Any, text: str) -> None:
    assert wb_service.cell_text(value) == text


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")])
def test_column_letters(index: int, letters: str) -> None:
    assert wb_service.column_letter(index) == letters


def _excel_shaped(prefix: str = "") -> bytes:
    """A workbook in the shape Excel itself saves: shared strings (one in rich text, one escaped),
    cell styles for dates (a built-in and a Chinese custom format), a formula with its cached
    result, cells with no r attribute, and optionally every element under a namespace prefix."""
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns{":" + prefix if prefix else ""}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    strings = ["customer_id", "order_id", "order_date", "revenue", "C&amp;1", "O1", "O2", "O3"]
    shared = "".join(f"<{p}si><{p}t>{s}</{p}t></{p}si>" for s in strings)
    shared += f"<{p}si><{p}r><{p}t>C</{p}t></{p}r><{p}r><{p}t xml:space=\"preserve\">2</{p}t></{p}r></{p}si>"
    sheet = (
        f'<{p}worksheet {ns}><{p}sheetData>'
        f'<{p}row r="1" spans="1:4"><{p}c r="A1" t="s"><{p}v>0</{p}v></{p}c><{p}c r="B1" t="s"><{p}v>1</{p}v></{p}c>'
        f'<{p}c r="C1" t="s"><{p}v>2</{p}v></{p}c><{p}c r="D1" t="s"><{p}v>3</{p}v></{p}c></{p}row>'
        f'<{p}row r="2"><{p}c r="A2" t="s"><{p}v>4</{p}v></{p}c><{p}c r="B2" t="s"><{p}v>5</{p}v></{p}c>'
        f'<{p}c r="C2" s="1"><{p}v>45382</{p}v></{p}c><{p}c r="D2" s="0"><{p}v>1234.5</{p}v></{p}c></{p}row>'
        f'<{p}row r="3"><{p}c t="s"><{p}v>8</{p}v></{p}c><{p}c t="s"><{p}v>6</{p}v></{p}c>'
        f'<{p}c s="2"><{p}v>45383.75</{p}v></{p}c><{p}c><{p}f>D2*2</{p}f><{p}v>2469</{p}v></{p}c></{p}row>'
        f'<{p}row r="5"><{p}c r="A5" t="inlineStr"><{p}is><{p}t>C3</{p}t></{p}is></{p}c><{p}c r="B5" t="s"><{p}v>7</{p}v></{p}c>'
        f'<{p}c r="C5" t="str"><{p}v>2024-04-03</{p}v></{p}c><{p}c r="D5"><{p}v>1E-2</{p}v></{p}c></{p}row>'
        f'</{p}sheetData><{p}mergeCells count="0"/></{p}worksheet>'
    )
    styles = (
        f'<{p}styleSheet {ns}><{p}numFmts count="1"><{p}numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot; h:mm"/></{p}numFmts>'
        f'<{p}cellXfs count="3"><{p}xf numFmtId="0"/><{p}xf numFmtId="14"/><{p}xf numFmtId="176"/></{p}cellXfs></{p}styleSheet>'
    )
    workbook = (f'<{p}workbook {ns} {rel}><{p}sheets><{p}sheet name="订单" sheetId="1" r:id="rId1"/></{p}sheets></{p}workbook>')
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>')
    types = ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
             '</Types>')
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/styles.xml", styles)
        z.writestr("xl/sharedStrings.xml", f'<{p}sst {ns}>{shared}</{p}sst>')
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


@pytest.mark.parametrize("prefix", ["", "x"])
def test_a_workbook_in_excels_own_shape_is_streamed(run_import: Run, prefix: str) -> None:
    job = run_import("transactions", _excel_shaped(prefix), name="excel.xlsx")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    rows = sorted((t.customer.external_id, t.order_id, t.order_date, t.revenue) for t in Transaction.objects.all())
    assert rows == [
        ("C&1", "O1", dt.date(2024, 3, 31), Decimal("1234.50")),  # serial 45382, built-in date style 14
        ("C2", "O2", dt.date(2024, 4, 1), Decimal("2469.00")),  # rich text; custom 年月日 style; cached formula
        ("C3", "O3", dt.date(2024, 4, 3), Decimal("0.01")),  # inline string, a formula's text result, 1E-2
    ]


@pytest.mark.parametrize(("code", "is_date"), [
    ("yyyy-mm-dd", True), ('yyyy"年"m"月"d"日"', True), ("h:mm", True), ("0.00", False), ("#,##0", False),
    ('"Day" 0', False), ("[Red]0.00", False), ("General", False),
])
def test_date_formats_are_told_from_number_formats(code: str, is_date: bool) -> None:
    from customers.services.xlsx_stream import is_date_format

    assert is_date_format(code) is is_date


def test_converting_an_xlsx_sheet_holds_one_row_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory flat in the rows: with chunks smaller than both sheets, the traced peak for four
    times the rows stays about the same (it is a chunk and a row, not the sheet)."""
    import tracemalloc

    from customers.services import xlsx_stream

    monkeypatch.setattr(xlsx_stream, "CHUNK", 64 * 1024)

    def peak(rows: int) -> int:
        path = tmp_path / f"{rows}.xlsx"
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Orders")
        sheet.append(["customer_id", "order_id", "order_date", "revenue"])
        for i in range(rows):
            sheet.append([f"C{i % 997}", f"O{i:07d}", dt.date(2024, 1, 1) + dt.timedelta(days=i % 365), i / 4])
        book.save(path)
        tracemalloc.start()
        try:
            converted = wb_service.sheet_convert(path=path, kind="transactions", target=tmp_path / f"{rows}.csv")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            assert converted.rows == rows

    small, large = peak(5_000), peak(20_000)
    assert large < small * 1.2 + 256 * 1024, (small, large)


def test_a_sheet_converted_by_an_attempt_whose_worker_died_is_removed(run_import: Run, settings: Any) -> None:
    """A worker killed while converting or loading a sheet leaves its CSV beside the upload (its
    `finally` never ran): the next attempt removes it, and so does the sweep that gives the job up."""
    import datetime as dt_

    from django.utils import timezone

    from customers.services import import_claim, import_run
    from customers.services.imports import job_source_path
    from customers.services.recovery import imports_sweep

    job = run_xlsx(run_import, plain_orders, sheet="Nope")  # refused: nothing converted stays
    upload = job_source_path(job)
    left = upload.with_name(f"{upload.name}.{job.pk}.deadbeef.csv")
    left.write_text("customer_id,order_date,revenue\n")
    other = upload.with_name(f"{upload.name}.{job.pk + 1000}.deadbeef.csv")  # another job's: kept
    other.write_text("x\n")
    import_rerun(job=job, sheet="Orders", enqueue=False)
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    assert import_run(job=claimed).status == ImportJob.Status.SUCCEEDED
    assert not left.exists() and other.exists()

    # Dead again and again: the sweep gives the job up and removes what its attempt left.
    left.write_text("customer_id,order_date,revenue\n")
    long_ago = timezone.now() - dt_.timedelta(hours=1)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, heartbeat_at=long_ago,
                                               attempts=settings.CLV_IMPORT_MAX_ATTEMPTS)
    assert imports_sweep().failed_dead == 1
    assert not left.exists() and other.exists()
