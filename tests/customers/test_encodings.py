"""Files that are not UTF-8: GB18030 only when it reads as Chinese, Windows-1252 only when it
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
