"""Checking a big export column by column, in C, with Apache Arrow.

Most rows of a large export are in a few plain forms: ISO, year-first, compact or 年月日
dates; plain amounts, with thousands commas or after a currency sign; short ids. `ColumnarReader` reads the file in blocks with
Arrow's CSV reader, checks whole columns at once and gives, for each block,

- the rows it vouches for, already normalised to the staging columns (an Arrow table), and
- every other row, as (line, raw values), for the row validator of `parsing.row_validator`:
  a row in an unusual form (a currency sign, a day-first date, a missing value) is read
  exactly as the row-by-row reader reads it, and an invalid row gets the same error.

Line numbers are the file's lines only when every record is one line. The reader counts the
file's lines as it reads; `finish()` raises `NotColumnar` when the count does not match (a
quoted line break, a blank line inside the file) and a block raises it when a row has the
wrong number of fields or the file holds a NUL byte. The import then reads the file again
with the row-by-row reader, which reports such files line by line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from django.conf import settings

from .parsing import (
    CODE_FIELDS,
    FIELDS,
    NOT_REVENUE_KEYS,
    STAGED_COLUMNS,
    TIME_OF_DAY,
    ColumnPlan,
    CountingReader,
    SourceFile,
    currencies_accepted,
    currency_code,
)

COLUMNAR_KINDS = ("transactions", "customers")
BLOCK_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")
_ENCODINGS = {"utf-8": "utf8", "utf-8-sig": "utf8", "gb18030": "gb18030", "cp1252": "cp1252"}
_ATTRIBUTES = ("name", "region", "product_line", "business_unit", "acquisition_channel", "referred_by")

# Python's str.strip() also removes these; Arrow's whitespace trim does not. A value that
# starts or ends with one goes to the row validator.
_EDGE_SPACE = r"^[\x1c-\x1f\x{85}]|[\x1c-\x1f\x{85}]$"
_PLAIN_AMOUNT = r"^-?\d{1,16}(?:\.\d{1,2})?$"
_THOUSANDS_AMOUNT = r"^-?\d{1,3}(?:,\d{3}){1,4}(?:\.\d{1,2})?$"
# The board's own currency sign before the number: ¥1,234.50, -¥5, ￥ 3.00 under CNY (other forms,
# and another currency's sign, which the import notes: the row validator).
_SIGNS = {"CNY": "¥￥", "USD": "$", "EUR": "€", "GBP": "£"}
_SIGNED_AMOUNT = r"^(?P<sign>-?)[{signs}]\s*(?P<number>\d{{1,16}}(?:\.\d{{1,2}})?|\d{{1,3}}(?:,\d{{3}}){{1,4}}(?:\.\d{{1,2}})?)$"


def _signed_amount() -> str | None:
    signs = _SIGNS.get(currency_code(str(settings.CLV_CURRENCY)))
    return _SIGNED_AMOUNT.format(signs=signs) if signs else None
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIME = rf"(?:{TIME_OF_DAY})?"
_YEAR_FIRST = rf"^(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}}){_TIME}$"
_COMPACT = rf"^(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_TIME}$"
_CHINESE = r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?$"


class NotColumnar(Exception):
    """The file needs the row-by-row reader: its records are not one per line, or a row has the
    wrong number of fields."""


def columnar_applies(*, source: SourceFile, plan: ColumnPlan) -> bool:
    """Whether the columnar reader can read this file (otherwise: the row-by-row reader, which
    also multiplies an amount column in a scale such as 万元)."""
    return (
        plan.kind in COLUMNAR_KINDS
        and not plan.scales
        and not plan.revenue_from_quantity
        and not source.excel_text
        and not (plan.profile is not None and plan.profile.first_line_totals)
        and source.delimiter in _DELIMITERS
        and source.encoding in _ENCODINGS
        and source.header_line == 1
    )


@dataclass
class Block:
    staged: pa.Table  # the rows vouched for, in STAGED_COLUMNS[kind] order
    leftovers: list[tuple[int, list[str]]]  # (line, raw values) for the row validator
    bytes_read: int


def _first_row_width(source: SourceFile) -> int:
    lines = source.sample_lines()
    if len(lines) < 2:
        return 0
    return len(next(csv.reader(lines[1:2], delimiter=source.delimiter), []))


def _trailing_blank_lines(path: Path, size: int) -> int:
    """Empty lines at the end of the file (Arrow skips them; they hold no record)."""
    with open(path, "rb") as f:
        f.seek(max(size - 65536, 0))
        tail = f.read()
    lines = tail.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the last line's terminator
    blank = 0
    for line in reversed(lines):
        if line not in (b"", b"\r"):
            break
        blank += 1
    return blank


class ColumnarReader:
    def __init__(self, *, source: SourceFile, plan: ColumnPlan, block_bytes: int | None = None,
                 latest: str | None = None) -> None:
        self.source = source
        self.plan = plan
        self.latest = latest  # the last order date vouched for (ISO); a later one is the row validator's
        # Rows may carry more fields than the header (a trailing delimiter): the extra ones must
        # then be blank, as the row validator requires.
        self.width = max(_first_row_width(source), len(plan.header))
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.records = 0
        self._bad_row: Any = None
        self._counter: CountingReader | None = None
        specs = {s.name: s for s in FIELDS[plan.kind]}
        self._limits = {name: specs[name].max_length for name in plan.indexes}
        # Whether every staged order id so far is greater (byte by byte) than the one before it:
        # then no order id is on two lines, and the import need not look for line items.
        self.order_ids_ascending = plan.kind == "transactions" and "order_id" in plan.indexes
        self._last_order_id: str | None = None

    def _invalid_row(self, row: Any) -> str:
        if self._bad_row is None:
            self._bad_row = row
        return "skip"

    def blocks(self) -> Iterator[Block]:
        names = [f"f{i}" for i in range(self.width)]
        raw = self.source.path.open("rb")
        self._counter = CountingReader(raw)
        try:
            reader = pcsv.open_csv(
                io.BufferedReader(self._counter, 1 << 20),
                read_options=pcsv.ReadOptions(
                    skip_rows=1, column_names=names, block_size=self.block_bytes, use_threads=True,
                    encoding=_ENCODINGS[self.source.encoding],
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.source.delimiter, quote_char='"', double_quote=True, newlines_in_values=False,
                    ignore_empty_lines=True, invalid_row_handler=self._invalid_row,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                self._refuse_unclean()
                first_line = 2 + self.records
                self.records += batch.num_rows
                yield self._check(batch, first_line)
            self._refuse_unclean()
        except pa.ArrowInvalid as exc:
            raise NotColumnar(str(exc)) from exc
        finally:
            raw.close()

    def _refuse_unclean(self) -> None:
        """NotColumnar once a row had the wrong number of fields or a NUL byte was read."""
        if self._bad_row is not None or (self._counter is not None and self._counter.nuls):
            raise NotColumnar("a row with the wrong number of fields, or a NUL byte")

    def finish(self) -> None:
        """Raise NotColumnar unless every record was exactly one line of the file."""
        counter = self._counter
        assert counter is not None
        lines = counter.line_feeds + (1 if counter.last not in (b"", b"\n") else 0)
        expected = lines - 1 - _trailing_blank_lines(self.source.path, self.source.size)
        if self.records != expected:
            raise NotColumnar(f"{self.records} records in {lines} lines")

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter else 0

    @property
    def bytes_odd_spaces(self) -> int:
        """Characters read so far that only Python counts as spaces (in UTF-8)."""
        return self._counter.odd_spaces if self._counter else 0

    # --- One block ----------------------------------------------------------------------------

    def _check(self, batch: pa.RecordBatch, first_line: int) -> Block:
        n = batch.num_rows
        raw = [batch.column(i) for i in range(self.width)]
        odd_spaces = self.source.encoding not in ("utf-8", "utf-8-sig") or self.bytes_odd_spaces > 0
        trimmed = [_trim(c, odd_spaces=odd_spaces) for c in raw]
        filled = [pc.greater(pc.utf8_length(c), 0) for c in trimmed]
        nonblank = _any(filled)
        ok = nonblank
        values: dict[str, pa.Array] = {}
        for name, index in self.plan.indexes.items():
            column = trimmed[index]
            if name in CODE_FIELDS and pc.any(pc.starts_with(column, "'")).as_py():
                column = pc.replace_substring_regex(column, r"^'([0-9+])", r"\1")  # parsing.code_text
            if odd_spaces:
                ok = pc.and_(ok, pc.invert(pc.match_substring_regex(column, _EDGE_SPACE)))
            ok = pc.and_(ok, pc.less_equal(pc.utf8_length(column), self._limits[name]))
            values[name] = column
        for index in range(len(self.plan.header), self.width):
            ok = pc.and_(ok, pc.invert(filled[index]))
        ok = pc.and_(ok, filled[self.plan.indexes["customer_id"]])
        # The header again (files joined one after another): the row validator's to tell apart.
        header_id = self.plan.header[self.plan.indexes["customer_id"]]
        ok = pc.and_(ok, pc.invert(pc.is_in(values["customer_id"], pa.array([header_id, "\ufeff" + header_id]))))

        if self.plan.kind == "transactions":
            if "order_status" in values:
                # A cancelled, unpaid or refunded order's line: the row validator's to leave out
                # (parsing.row_not_revenue; the same key as parsing.status_key).
                key = pc.replace_substring_regex(pc.utf8_lower(pc.utf8_normalize(values["order_status"], form="NFKC")),
                                                 r"[\s_-]+", "")
                ok = pc.and_(ok, pc.invert(pc.is_in(key, pa.array(NOT_REVENUE_KEYS))))
            if "currency" in values:
                # Another currency than the board's: the row validator's to refuse (parsing.row_currency_error).
                ok = pc.and_(ok, pc.is_in(values["currency"], pa.array(currencies_accepted())))
            dates, dates_ok = _dates(values["order_date"])
            if self.latest is not None:
                dates_ok = pc.and_(dates_ok, pc.less_equal(dates, self.latest))
            revenue, revenue_ok = _amounts(values["revenue"], required=True)
            ok = pc.and_(pc.and_(ok, dates_ok), revenue_ok)
            if "cost" in values:
                cost, cost_ok = _amounts(values["cost"], required=False)
                ok = pc.and_(ok, cost_ok)
            else:
                cost = pa.nulls(n, pa.string())
            leading = [values["customer_id"], values.get("order_id", _blank(n)), dates, revenue, cost]
        else:
            leading = [values["customer_id"]]
        columns = [pa.array(range(first_line, first_line + n), pa.int64()), *leading]
        columns += [values.get(name, _blank(n)) for name in _ATTRIBUTES]
        ok = pc.fill_null(ok, False)
        staged = pa.table(columns, names=list(STAGED_COLUMNS[self.plan.kind])).filter(ok)

        leftovers: list[tuple[int, list[str]]] = []
        rest = pc.and_(nonblank, pc.invert(ok))
        if pc.any(rest).as_py():
            positions = pc.indices_nonzero(rest).to_pylist()
            picked = [c.take(pa.array(positions)).to_pylist() for c in raw]
            leftovers = [(first_line + p, [col[k] for col in picked]) for k, p in enumerate(positions)]
        if self.order_ids_ascending:
            self._order_ids_follow(staged, leftovers)
        return Block(staged=staged, leftovers=leftovers, bytes_read=self.bytes_read)

    def _order_ids_follow(self, staged: pa.Table, leftovers: list[tuple[int, list[str]]]) -> None:
        """Keep order_ids_ascending true while the block's order ids (blank ones aside), in the
        file's line order, rise strictly from the last block's. A row left to the row validator
        counts in its line's place, with the order id that validator would keep (stripped)."""
        index = self.plan.indexes["order_id"]
        lines, ids = staged.column("line"), staged.column("order_id")
        extra = [(line, values[index].strip()) for line, values in leftovers
                 if index < len(values) and (values[index] or "").strip()]
        if extra:
            merged = pa.table({
                "line": pa.concat_arrays([lines.combine_chunks(), pa.array([line for line, _ in extra], pa.int64())]),
                "id": pa.concat_arrays([ids.combine_chunks(), pa.array([i for _, i in extra], pa.string())]),
            }).sort_by("line")
            ids = merged.column("id")
        flat = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        flat = flat.filter(pc.greater(pc.utf8_length(flat), 0))
        if not len(flat):
            return
        rising = len(flat) < 2 or pc.all(pc.less(flat[:-1], flat[1:])).as_py()
        after_last = self._last_order_id is None or flat[0].as_py() > self._last_order_id
        self.order_ids_ascending = bool(rising and after_last)
        self._last_order_id = flat[-1].as_py()


def _any(masks: list[pa.Array]) -> pa.Array:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.or_(result, mask)
    return result


def _trim(column: pa.Array, *, odd_spaces: bool) -> pa.Array:
    """The column without leading and trailing white space, as Arrow's Unicode trim gives it.
    A column of ASCII text in a file without the separator characters \\x1c-\\x1f (the only
    ASCII characters the Unicode trim removes and the ASCII trim keeps) takes the ASCII trim,
    about eight times faster."""
    if not odd_spaces and pc.all(pc.string_is_ascii(column)).as_py() is not False:
        return pc.ascii_trim_whitespace(column)
    return pc.utf8_trim_whitespace(column)


def _blank(n: int) -> pa.Array:
    return pa.repeat("", n)


def _amounts(column: pa.Array, *, required: bool) -> tuple[pa.Array, pa.Array]:
    """Plain amounts pass as they are; 1,234.50 loses its commas, ¥1,234.50 its sign too;
    anything else is for the row validator. A blank optional amount becomes null."""
    plain = pc.match_substring_regex(column, _PLAIN_AMOUNT)
    value, ok = column, plain
    if not pc.all(plain).as_py():
        thousands = pc.match_substring_regex(column, _THOUSANDS_AMOUNT)
        pattern = _signed_amount()
        if pattern is None:
            has_sign, value = pa.repeat(False, len(column)), column
        else:
            signed = pc.extract_regex(column, pattern)
            has_sign = pc.is_valid(signed)
            unsigned = pc.binary_join_element_wise(
                pc.struct_field(signed, "sign"), pc.struct_field(signed, "number"), ""
            )
            value = pc.if_else(has_sign, unsigned, column)
        value = pc.replace_substring(value, ",", "")
        value = pc.if_else(plain, column, value)
        ok = pc.fill_null(pc.or_(pc.or_(plain, thousands), has_sign), False)
    if not required:
        empty = pc.equal(pc.utf8_length(column), 0)
        ok = pc.or_(ok, empty)
        value = pc.if_else(empty, pa.scalar(None, pa.string()), value)
    return value, ok


def _dates(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """ISO dates for YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYYMMDD (a time part ignored) and
    2024年3月5日, in the years 1900-2100; other forms (and impossible dates) are for the row
    validator."""
    iso = column
    found = pc.match_substring_regex(column, _ISO_DATE)
    if not pc.all(found).as_py():
        year = month = day = pa.nulls(len(column), pa.string())
        for pattern in (_YEAR_FIRST, _COMPACT, _CHINESE):  # no value fits two of them
            form = pc.extract_regex(column, pattern)
            fits = pc.is_valid(form)
            year = pc.if_else(fits, pc.struct_field(form, "y"), year)
            month = pc.if_else(fits, pc.struct_field(form, "m"), month)
            day = pc.if_else(fits, pc.struct_field(form, "d"), day)
        found = pc.is_valid(year)
        iso = pc.binary_join_element_wise(
            year, pc.utf8_lpad(month, width=2, padding="0"), pc.utf8_lpad(day, width=2, padding="0"), "-"
        )
    # strptime rolls 2023-02-30 over into March: a date is real when it prints back the same.
    parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    real = pc.equal(pc.cast(pc.cast(parsed, pa.date32()), pa.string()), iso)
    year_number = pc.year(parsed)
    in_range = pc.and_(pc.greater_equal(year_number, 1900), pc.less_equal(year_number, 2100))
    ok = pc.fill_null(pc.and_(pc.and_(found, real), in_range), False)
    return iso, ok
