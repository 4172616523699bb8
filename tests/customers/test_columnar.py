"""The columnar reader reads a file exactly as the row-by-row reader does: the same rows staged,
the same errors on the same lines; and it hands back the files it cannot number line by line."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from customers.models import ImportJob, Transaction
from customers.services import columnar as c
from customers.services import parsing as p
from customers.services.imports import READER_COLUMNAR, READER_ROWS

Read = tuple[int, list[tuple[Any, ...]], list[p.RowError]]

CUSTOMERS = ["C001", "  C002 ", "客户7", "", "x" * 101, "x" * 100, "\u00a0C3", "C4\x1c", "C,5", 'C"6', "C 7", "\u3000C8"]
ORDERS = ["", "O-{i}", "o" * 101, " O {i} "]
DATES = [
    "2024-03-05", "2024/3/5", "2024.3.5", "20240305", "2024-03-05 10:30", "2024-3-5T08:00:00", "2024-02-29",
    "2023-02-29", "2024-13-01", "05.03.2024", "13/04/2024", "4/13/2024", "1899-12-31", "2100-12-31", "not a date",
    "", " 2024-03-05 ", "2024年3月5日", "2024 年 3 月 5 日", "2024年3月5日 10:30", "2024年13月5日", "202403051",
    "２０２４-０３-０５", "2024-03-05 25:61", "2030-06-30", "2030-07-01", "2030/7/1",
]
LATEST = "2030-06-30"  # the last order date accepted (an import's: tomorrow); later ones are errors


def _parser() -> p.DateParser:
    parser = p.DateParser()
    parser.latest = LATEST
    return parser
AMOUNTS = [
    "12.50", "-3", "1,234.50", "1,234", "-1,234.5", "¥1 234,50", "(12.50)", "12.505", "", "abc", "12,5",
    "1234567890123456", "12345678901234567", "1,234,567,890,123.45", " 7.10 ", "$5", "1.234.567,89", "+4",
    "１２.５０", "¥1,234.50", "-¥12.50", "¥-12.50", "$ 5", "￥3.00", "€1.234,50", "USD 5", "5元", "--5", "-$1,234",
    "£12,34", "¥1,23",
]
REGIONS = ["North", "", "华东", "r" * 101, " West ", "\x1fEast"]


def _random_rows(rng: random.Random, count: int, *, odd_spaces: bool = True) -> list[list[str]]:
    """Rows mixing clean values and every odd form; without `odd_spaces`, none of the control
    characters that only Python strips (the reader then skips that check)."""
    customers = CUSTOMERS if odd_spaces else [v for v in CUSTOMERS if "\x1c" not in v]
    regions = REGIONS if odd_spaces else [v for v in REGIONS if "\x1f" not in v]
    rows = []
    for i in range(count):
        if rng.random() < 0.03:
            rows.append(["", "", "", "", "", ""])  # a blank row: skipped, not counted
            continue
        # Mostly clean rows, as in a real export, with every odd form mixed in.
        clean = rng.random() < 0.6
        rows.append([
            f"C{rng.randint(1, 50):03d}" if clean else rng.choice(customers),
            (f"O-{i}" if clean else rng.choice(ORDERS).format(i=i)),
            "2024-03-05" if clean else rng.choice(DATES),
            f"{rng.randint(1, 99999) / 100:.2f}" if clean else rng.choice(AMOUNTS),
            rng.choice(["", "1.00"]) if clean else rng.choice(AMOUNTS),
            rng.choice(regions),
        ])
    return rows


def _write(path: Path, header: list[str], rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8",
           line_end: str = "\n") -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def _plan(path: Path, kind: str) -> tuple[p.SourceFile, p.ColumnPlan]:
    source = p.source_open(path=path)
    return source, p.columns_resolve(kind=kind, header=source.header)


_STAGED_NUMBER = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
_STAGED_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _normal(row: tuple[Any, ...], kind: str) -> tuple[Any, ...]:
    """A staged row with its amounts as Decimals, after checking that its amounts and date are in
    the plain ASCII forms the staging table's COPY reads."""
    if kind != "transactions":
        return row
    line, customer, order, date, revenue, cost, *attrs = row
    assert _STAGED_DATE.fullmatch(date) and _STAGED_NUMBER.fullmatch(revenue), row
    assert cost in ("", None) or _STAGED_NUMBER.fullmatch(cost), row
    return (line, customer, order, date, Decimal(revenue).quantize(Decimal("0.01")),
            Decimal(cost).quantize(Decimal("0.01")) if cost not in ("", None) else None, *attrs)


def read_rows(path: Path, kind: str) -> Read:
    source, plan = _plan(path, kind)
    validate = p.row_validator(plan=plan, dates=_parser())
    total, staged, errors = 0, [], []
    for line, values in source.rows():
        total += 1
        row, row_errors = validate(line, values)
        errors += row_errors
        if isinstance(row, tuple) and not row_errors:  # transactions and customers: one row each
            staged.append(_normal(row, kind))
    return total, sorted(staged), errors


def read_columnar(path: Path, kind: str, block_bytes: int = c.BLOCK_BYTES) -> Read:
    source, plan = _plan(path, kind)
    assert c.columnar_applies(source=source, plan=plan)
    validate = p.row_validator(plan=plan, dates=_parser())
    reader = c.ColumnarReader(source=source, plan=plan, block_bytes=block_bytes, latest=LATEST)
    total, staged, errors = 0, [], []
    for block in reader.blocks():
        total += block.staged.num_rows
        staged += [_normal(tuple(r.values()), kind) for r in block.staged.to_pylist()]
        for line, values in block.leftovers:
            if p.row_is_blank(values):
                continue
            total += 1
            row, row_errors = validate(line, values)
            errors += row_errors
            if isinstance(row, tuple) and not row_errors:
                staged.append(_normal(row, kind))
    reader.finish()
    return total, sorted(staged), sorted(errors, key=lambda e: e.line)


@pytest.mark.parametrize(
    ("seed", "delimiter", "encoding", "line_end", "odd_spaces"),
    [
        (1, ",", "utf-8", "\n", True), (2, ";", "utf-8-sig", "\r\n", True), (3, "\t", "gb18030", "\n", True),
        (4, "|", "utf-8", "\r\n", True), (5, ",", "utf-8", "\n", False), (6, "\t", "gb18030", "\r\n", False),
    ],
    ids=["comma-utf8", "semicolon-bom-crlf", "tab-gb18030", "pipe-crlf", "no-odd-spaces", "gb18030-no-odd-spaces"],
)
def test_the_columnar_reader_stages_and_refuses_exactly_what_the_row_reader_does(
    tmp_path: Path, seed: int, delimiter: str, encoding: str, line_end: str, odd_spaces: bool
) -> None:
    rows = _random_rows(random.Random(seed), 3000, odd_spaces=odd_spaces)
    header = ["customer_id", "order_id", "order_date", "revenue", "cost", "region"]
    path = _write(tmp_path / "t.csv", header, rows, delimiter=delimiter, encoding=encoding, line_end=line_end)
    # Small blocks, so the rows cross many block boundaries.
    by_column = read_columnar(path, "transactions", block_bytes=16 << 10)
    by_row = read_rows(path, "transactions")
    assert by_column == by_row
    total, staged, errors = by_column
    assert 1000 < len(staged) < total and errors  # the mix really has valid and invalid rows


def test_customers_files_read_the_same_both_ways(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = [[rng.choice(CUSTOMERS), rng.choice(["", "Acme", "n" * 201, "甲公司"]), rng.choice(REGIONS)]
            for _ in range(2000)]
    path = _write(tmp_path / "c.csv", ["customer_id", "name", "region"], rows)
    assert read_columnar(path, "customers") == read_rows(path, "customers")


def test_a_trailing_delimiter_on_every_row_is_read_column_by_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("customer_id,order_date,revenue\nC1,2024-01-02,5,\nC2,2024-01-03,6,\nC3,2024-01-04,7,x\n")
    total, staged, errors = read_columnar(path, "transactions")
    assert (total, [r[1] for r in staged]) == (3, ["C1", "C2"])
    assert [(e.line, e.reason) for e in errors] == [
        (4, str(p.REASON_EXTRA_FIELDS).format(count=4, expected=3))
    ]
    assert read_rows(path, "transactions") == (total, staged, errors)


def test_trailing_blank_lines_keep_the_columnar_reader(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"customer_id,order_date,revenue\r\nC1,2024-01-02,5\r\nC2,bad,6\r\n\r\n\r\n")
    assert read_columnar(path, "transactions") == read_rows(path, "transactions")


@pytest.mark.parametrize(
    "content",
    [
        b'customer_id,order_date,revenue,name\nC1,2024-01-02,5,"two\nlines"\nC2,2024-01-03,6,x\n',
        b"customer_id,order_date,revenue\nC1,2024-01-02,5\n\nC2,2024-01-03,6\n",
        b"customer_id,order_date,revenue\nC1,2024-01-02,5\nC2,2024-01-03\nC3,2024-01-04,7\n",
        b"customer_id,order_date,revenue\nC1,2024-01-02,5\nC2,2024-01-03,6,7,8\n",
        b"customer_id,order_date,revenue\rC1,2024-01-02,5\rC2,2024-01-03,6\r",
    ],
    ids=["quoted-line-break", "blank-line-inside", "short-row", "long-row", "cr-only"],
)
def test_files_it_cannot_number_line_by_line_are_handed_back(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(c.NotColumnar):
        read_columnar(path, "transactions")


def test_a_nul_byte_hands_the_file_back(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"customer_id,order_date,revenue\n" + b"C1,2024-01-02,5\n" * 1000 + b"C2,2024-01-0\x003,6\n")
    with pytest.raises(c.NotColumnar):
        read_columnar(path, "transactions")


def test_whitespace_separated_and_utf16_files_are_read_row_by_row(tmp_path: Path) -> None:
    spaced = tmp_path / "s.txt"
    spaced.write_text("customer_id order_date revenue\nC1 2024-01-02 5\n")
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("customer_id,order_date,revenue\nC1,2024-01-02,5\n".encode("utf-16"))
    for path in (spaced, utf16):
        source, plan = _plan(path, "transactions")
        assert not c.columnar_applies(source=source, plan=plan)


def test_the_counting_reader_finds_odd_spaces_split_between_two_reads() -> None:
    counter = p.CountingReader(io.BytesIO(b"a\xc2" + b"\x85b\n\x1c\x00"))
    buffer = bytearray(2)
    while counter.readinto(buffer):
        pass
    assert (counter.count, counter.line_feeds, counter.nuls, counter.odd_spaces) == (7, 1, 1, 2)


# --- Through the import service --------------------------------------------------------------


@pytest.mark.django_db
def test_an_import_uses_the_columnar_reader_and_loads_what_the_row_reader_would(
    run_import: Callable[..., ImportJob],
) -> None:
    lines = ["customer_id,order_id,order_date,revenue,cost,region"]
    lines += [f"C{i % 7},O{i},2024-0{1 + i % 9}-1{i % 10},{i}.25,{'' if i % 3 else '1.5'},R{i % 2}" for i in range(500)]
    lines += ['C1,O900,2024/2/3,"1,234.50",,', "C2,O901,13.02.2024,¥7,1,"]
    job = run_import("transactions", "\n".join(lines) + "\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == READER_COLUMNAR
    assert job.rows_written == 502
    assert str(Transaction.objects.get(order_id="O900").revenue) == "1234.50"
    assert Transaction.objects.get(order_id="O901").order_date.isoformat() == "2024-02-13"
    assert Transaction.objects.filter(cost__isnull=True).count() == 334


@pytest.mark.django_db
def test_an_import_the_columnar_reader_hands_back_is_read_row_by_row(run_import: Callable[..., ImportJob]) -> None:
    content = 'customer_id,order_id,order_date,revenue,name\nC1,O1,2024-01-02,5,"two\nlines"\nC2,O2,2024-01-03,6,x\n'
    job = run_import("transactions", content)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == READER_ROWS
    assert sorted(Transaction.objects.values_list("order_id", flat=True)) == ["O1", "O2"]


@pytest.mark.django_db
def test_errors_found_column_by_column_name_the_right_lines(run_import: Callable[..., ImportJob]) -> None:
    rows = [f"C{i},O{i},2024-01-{1 + i % 28:02d},{i}.00" for i in range(2000)]
    rows[1234] = "C1234,O1234,2024-02-30,5.00"
    rows[1500] = ",O1500,2024-01-01,5.00"
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\n" + "\n".join(rows) + "\n")
    assert job.status == ImportJob.Status.REJECTED
    assert job.detected["reader"] == READER_COLUMNAR
    assert [(e["line"], e["value"]) for e in job.error_report] == [(1236, "2024-02-30"), (1502, "")]
    assert Transaction.objects.count() == 0


@pytest.mark.django_db
def test_skipping_invalid_rows_read_column_by_column(run_import: Callable[..., ImportJob]) -> None:
    rows = [f"C{i % 50},O{i},2024-03-{1 + i % 28:02d},{i}.00,R{i % 3}" for i in range(3000)]
    rows[10] = "C10,O10,2024-03-11,ten,R1"
    rows[2999] = "C49,O2999,31.02.2024,5.00,R2"
    job = run_import("transactions", "customer_id,order_id,order_date,revenue,region\n" + "\n".join(rows) + "\n",
                     skip_invalid=True)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == READER_COLUMNAR
    assert (job.rows_written, job.rows_skipped) == (2998, 2)
    assert [(e["line"], e["column"], e["value"]) for e in job.error_report] == [
        (12, "revenue", "ten"), (3001, "order_date", "31.02.2024")
    ]
    assert not Transaction.objects.filter(order_id__in=["O10", "O2999"]).exists()
    assert Transaction.objects.count() == 2998


def _ascending(path: Path, block_bytes: int = 1 << 10) -> bool:
    source, plan = _plan(path, "transactions")
    reader = c.ColumnarReader(source=source, plan=plan, block_bytes=block_bytes)
    for _ in reader.blocks():
        pass
    reader.finish()
    return reader.order_ids_ascending


@pytest.mark.parametrize(
    ("orders", "ascending"),
    [
        ([f"SO{i:06d}" for i in range(400)], True),  # across many blocks
        ([f"SO{i:06d}" if i % 7 else "" for i in range(400)], True),  # blank order ids do not count
        ([f"SO{i:06d}" for i in range(400)] + ["SO000399"], False),  # the last order again, a block later
        ([f"SO{i:06d}" for i in range(200)] + ["SO000005"] + [f"SO{i:06d}" for i in range(200, 400)], False),
        ([f"SO{i:06d}" for i in range(400)][::-1], False),  # descending: no promise, the database checks
        ([str(i) for i in range(400)], False),  # 10 before 9 byte by byte: not rising, so not promised
        (["a", "b", "b"], False),
    ],
    ids=["rising", "rising-with-blanks", "repeat-across-blocks", "repeat-far-back", "descending", "numbers",
         "repeat-within-a-block"],
)
def test_the_reader_promises_no_repeated_order_id_only_when_the_ids_rise_strictly(
    tmp_path: Path, orders: list[str], ascending: bool
) -> None:
    rows = [[f"C{i % 13}", order, "2024-03-05", "1.00", ""] for i, order in enumerate(orders)]
    path = _write(tmp_path / "t.csv", ["customer_id", "order_id", "order_date", "revenue", "cost"], rows)
    assert _ascending(path) is ascending


def test_a_row_left_to_the_row_validator_counts_in_its_lines_place(tmp_path: Path) -> None:
    # "¥1 234,50" is not a columnar amount: that row goes to the row validator. Its order id
    # (stripped, as the validator keeps it) must still rise from the row before and to the next.
    header = ["customer_id", "order_id", "order_date", "revenue", "cost"]
    rows = [[f"C{i}", f"SO{i:06d}", "2024-03-05", "¥1 234,50" if i == 50 else "1.00", ""] for i in range(100)]
    assert _ascending(_write(tmp_path / "t.csv", header, rows))
    rows[50][1] = " SO000050 "
    assert _ascending(_write(tmp_path / "t.csv", header, rows))
    rows[50][1] = "SO000049"  # the line before's id again
    assert _ascending(_write(tmp_path / "t.csv", header, rows)) is False
    rows[50][1] = "SO000051"  # the next line's id
    assert _ascending(_write(tmp_path / "t.csv", header, rows)) is False
    rows[50][1], rows[99][3] = "SO000050", "¥2"  # the last row of the file, out of order
    rows[99][1] = "SO000001"
    assert _ascending(_write(tmp_path / "t.csv", header, rows)) is False
