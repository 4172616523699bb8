"""Files that are not UTF-8: GB18030 only when it reads as Chinese, Big5 only when it reads as
Traditional Chinese, Windows-1252 only when it
reads confidently as Western European text (and the import page says so), otherwise refused
naming the first line that is not UTF-8. Both readers (columnar and row by row) are covered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from clv_dashboard.messages import message_part
from customers.models import Customer, ImportJob
from customers.services import parsing as p
from customers.services.imports import ERR_INVALID_ROWS, READER_COLUMNAR, READER_ROWS

Run = Callable[..., ImportJob]
HEADER = "customer_id,order_id,order_date,revenue,region,name\n"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    return path


def test_a_utf8_file_with_one_latin1_line_is_refused_naming_that_line(tmp_path: Path) -> None:
    data = (HEADER + "C1,O1,2024-01-01,1,华东,Li\n").encode() + "C2,O2,2024-01-02,2,North,Müller\n".encode("latin-1")
    with pytest.raises(p.ImportRefused) as exc:
        p.encoding_examine(path=_write(tmp_path, data))
    assert str(exc.value) == str(p.ERR_ENCODING).format(line=3, snippet="2024-01-02,2,North,M?ller")
    assert "CSV UTF-8" in str(exc.value)


def test_latin1_bytes_never_load_as_gb18030_chinese(tmp_path: Path) -> None:
    # "Müller" is a valid GB18030 byte sequence (ü + l reads as one rare hanzi): the old detector's trap.
    data = (HEADER + "C1,O1,2024-01-01,1,North,Müller\n" * 50).encode("latin-1")
    assert data.decode("gb18030")  # it does decode...
    assert p.encoding_examine(path=_write(tmp_path, data)) == p.EncodingFinding("cp1252", "Müller")


@pytest.mark.parametrize(
    "text", ["客户编号,订单日期,金额,区域\nC1,2024-01-01,1,华东\n", "客户编号,订单日期,金额,姓名\nC1,2024-01-01,1,王喆\nC2,2024-01-02,2,李堃\n"],
    ids=["common-hanzi", "with-rare-name-characters"],
)
def test_gbk_chinese_is_read_as_gb18030(tmp_path: Path, text: str) -> None:
    assert p.encoding_examine(path=_write(tmp_path, text.encode("gbk"))).encoding == "gb18030"


def test_a_gbk_file_whose_characters_are_mostly_rare_is_not_taken_for_chinese(tmp_path: Path) -> None:
    rare = "".join(chr(c) for c in range(0x4E02, 0x4E40) if not _in_gb2312(chr(c)))[:20]
    data = f"a,b\n1,{rare}\n".encode("gb18030")
    with pytest.raises(p.ImportRefused) as exc:
        p.encoding_examine(path=_write(tmp_path, data))
    assert str(exc.value).startswith(str(p.ERR_ENCODING).split("{line}")[0] + "2 ")


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(
    "data",
    [b"a,b\n\xff\xff\xff\x80\x80\n", "a,b\n1,Caf\u00e9\n".encode() + "2,Müller\n".encode("latin-1"),
     "a,b\n1,Ж\n".encode("cp1251") + b"2,\xd6\xd0\xb9\xfa\x81\n"],
    ids=["garbage", "half-utf8-half-latin1", "cyrillic-cp1251"],
)
def test_files_in_no_confident_encoding_are_refused_with_the_csv_utf8_advice(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(p.ImportRefused) as exc:
        p.encoding_examine(path=_write(tmp_path, data))
    assert "CSV UTF-8" in str(exc.value) and "Line " in str(exc.value)


BIG5_ORDERS = ("客戶編號,訂單號,訂單日期,金額（元）,區域,客戶名稱\nC1,O1,2024-01-05,120.50,華東,陳大文\n"
               "C2,O2,2024年1月6日,80,臺北市信義區,林小姐\n合計,,,200.50,,\n")


def test_big5_traditional_chinese_is_read_as_big5_and_its_headers_are_known(run_import: Run) -> None:
    job = run_import("transactions", BIG5_ORDERS, encoding="cp950")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["encoding"] == "Big5 (Traditional Chinese)"
    assert job.detected["columns"] == {"customer_id": "客戶編號", "order_id": "訂單號", "order_date": "訂單日期",
                                       "revenue": "金額（元）", "region": "區域", "name": "客戶名稱"}
    assert sorted(Customer.objects.values_list("external_id", "region", "name")) == [
        ("C1", "華東", "陳大文"), ("C2", "臺北市信義區", "林小姐")]  # values kept as written
    assert "(line 4)" in job.detected["summary_note"]  # 合計 is a totals row


def test_a_gbk_file_stays_gb18030_and_big5_bytes_of_rare_characters_are_refused(tmp_path: Path) -> None:
    assert p.encoding_examine(path=_write(tmp_path, "客户编号,区域\nC1,华东\n".encode("gbk"))).encoding == "gb18030"
    # Big5's second level holds the rare characters: a file of nothing else is not taken for Big5.
    rare = bytes.fromhex("c940c941c942c943c944c945c946c947c948c949")
    with pytest.raises(p.ImportRefused):
        p.encoding_examine(path=_write(tmp_path, b"a,b\n1," + rare + b"\n"))


def test_traditional_cost_headers_and_kinds_are_known(run_import: Run) -> None:
    job = run_import("costs", "月份,類型,金額,區域\n2024-01,獲客,100,華東\n2024-01,留存,30,\n", encoding="cp950")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"] == {"month": "月份", "kind": "類型", "amount": "金額", "segment_region": "區域"}


def _western_file(rows: int = 400) -> bytes:
    body = "".join(f"C{i},O{i},2024-01-{i % 28 + 1:02d},{i}.50,Zürich,Müller José Café\n" for i in range(rows))
    return (HEADER + body).encode("cp1252")


def test_a_windows_1252_file_loads_with_the_columnar_reader_and_the_page_says_so(
    run_import: Run, analyst: object,
) -> None:
    job = run_import("transactions", _western_file())
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == READER_COLUMNAR
    assert job.detected["encoding"] == p.ENCODING_LABELS["cp1252"]
    assert job.detected["encoding_note"] == str(p.NOTE_WESTERN_ENCODING).format(example="Zürich")
    assert set(Customer.objects.values_list("region", flat=True)) == {"Zürich"}
    assert set(Customer.objects.values_list("name", flat=True)) == {"Müller José Café"}
    client = Client()
    client.force_login(analyst)  # type: ignore[arg-type]
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'id="encoding-note"' in page and "Windows-1252" in page and "Zürich" in page


def test_a_windows_1252_file_loads_with_the_row_reader_too(run_import: Run) -> None:
    # Whitespace-separated: only the row-by-row reader reads it.
    body = "".join(f"C{i} 2024-01-{i % 28 + 1:02d} {i}.50 Zürich\n" for i in range(50))
    job = run_import("transactions", ("customer_id order_date revenue region\n" + body).encode("cp1252"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == READER_ROWS
    assert job.detected["encoding_note"]
    assert set(Customer.objects.values_list("region", flat=True)) == {"Zürich"}


def test_a_refused_encoding_is_on_the_import_page_with_its_line(run_import: Run) -> None:
    data = (HEADER + "C1,O1,2024-01-01,1,华东,Li\n").encode() + "C2,O2,2024-01-02,2,North,Müller\n".encode("latin-1")
    job = run_import("transactions", data)
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(p.ERR_ENCODING).format(line=3, snippet="2024-01-02,2,North,M?ller")


def test_a_nul_byte_after_the_first_8_kb_names_its_line_and_a_clear_reason(run_import: Run) -> None:
    rows = [f"C{i},O{i},2024-01-{i % 28 + 1:02d},{i}.25,North,N{i}\n" for i in range(600)]
    rows[400] = "C400,O400,2024-01-05,4.25,Nor\x00th,N400\n"
    data = (HEADER + "".join(rows)).encode()
    assert data.index(b"\x00") > 8192
    job = run_import("transactions", data)
    assert job.status == ImportJob.Status.REJECTED
    assert job.message == str(ERR_INVALID_ROWS).format(count="1")
    assert job.error_report == [{"line": 402, "column": "region", "value": "Nor\\0th", "reason": str(p.REASON_NUL),
                                 "parts": [message_part(p.REASON_NUL)]}]
    assert "PostgreSQL" not in job.message and "0x00" not in job.message


def test_a_nul_byte_row_is_skipped_when_invalid_rows_are_skipped(run_import: Run) -> None:
    rows = [f"C{i},O{i},2024-01-{i % 28 + 1:02d},{i}.25,North,N{i}\n" for i in range(600)]
    rows[500] = "C500,O5\x0000,2024-01-05,4.25,North,N500\n"
    job = run_import("transactions", (HEADER + "".join(rows)).encode(), skip_invalid=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_written == 599 and job.rows_skipped == 1
