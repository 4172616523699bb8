"""Excel workbooks (.xlsx, .xlsm, .xls, and .ods): one sheet turned into the CSV the importer reads.

A workbook is recognised by its bytes (a ZIP or an OLE2 container), never by its name or the
browser's word. The import then converts the chosen sheet into a UTF-8 CSV file beside the
upload, row by row, and reads that file exactly as an uploaded CSV: the same validation, the
same staging and the same write. So that every message can name the sheet's own cells, the CSV
keeps the sheet's rows one to a line: line N of the CSV is row N + `row_offset` of the sheet
(rows above the header are left out, blank rows inside become rows of empty fields, a line
break inside a cell becomes a space), and column i is the sheet's column `col_offset + i`.

1. The sheet: the one named (hidden sheets too), else the first visible worksheet whose first
   rows name fields of the file's kind (a cover or instructions sheet before it is passed over,
   and the import says so), else the first visible worksheet.
2. The header row: the first of the sheet's first rows that names fields of the file's kind
   (a title or blank rows above it are skipped); merged header cells give their text to every
   column they cover, and a merged group label above a header ("Order" over "id" and "date")
   is joined to the names below it when that makes a known name.
3. Values: text as it is; numbers in their shortest exact form (12, 12.5); Excel dates as ISO
   dates (2024-03-31, a time of day kept); booleans as TRUE/FALSE.
4. A formula cell gives its cached value; an .xlsx whose formula cells have none (a file
   written by a program that does not calculate) is refused with the first such cell's address.

An .xlsx/.xlsm sheet is streamed (xlsx_stream: its XML decompressed in chunks, one row held at
a time, so memory does not grow with the rows); an .xls or .ods sheet is read by python-calamine
(Rust), which decodes a sheet whole (an .xls sheet holds 65,536 rows at most).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from django.utils.translation import gettext_lazy as _

from .parsing import _norm, header_forms, known_names, refused
from .xlsx_stream import XlsxBook

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HEADER_SCAN_ROWS = 30

ERR_WORKBOOK_UNREADABLE = _(
    "The file looks like a workbook but cannot be read as one ({detail}). Open it in Excel, save it again "
    "as .xlsx and upload it again."
)
ERR_WORKBOOK_NO_SHEET = _("The workbook has no sheet named \"{sheet}\". Its sheets: {sheets}.")
ERR_WORKBOOK_NO_VISIBLE_SHEET = _("The workbook has no visible worksheet. Name the sheet to read (its sheets: {sheets}).")
ERR_WORKBOOK_EMPTY_SHEET = _("Sheet \"{sheet}\" is empty: it needs a header row and at least one data row.")
ERR_WORKBOOK_FORMULA = _(
    "Cell {cell} holds a formula without a saved result ({count} such cell(s) in the sheet), so its value "
    "is unknown. Open the workbook in Excel (it calculates the formulas), save it and upload it again."
)

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_LINE_BREAKS = re.compile(r"[\r\n]+")


def workbook_kind(head: bytes) -> str | None:
    """"zip" (xlsx, xlsm, ods) or "ole" (xls) when the bytes start like a workbook, else None."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    return None


def is_workbook(path: Path) -> bool:
    with path.open("rb") as f:
        return workbook_kind(f.read(8)) is not None


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_text(value: Any) -> str:
    """A cell's value as the CSV reader expects it (see the module, 3)."""
    if type(value) is str:
        return _LINE_BREAKS.sub(" ", value) if ("\n" in value or "\r" in value) else value
    if value is None:
        return ""
    if isinstance(value, str):
        return _LINE_BREAKS.sub(" ", value) if ("\n" in value or "\r" in value) else value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


@dataclass
class SheetInfo:
    name: str
    visible: bool
    worksheet: bool


@dataclass
class ConvertedSheet:
    """The CSV written for one sheet, and how its lines and columns map back to the sheet."""

    path: Path
    sheet: str
    sheets: list[SheetInfo]
    row_offset: int  # CSV line N is sheet row N + row_offset
    col_offset: int  # CSV column i is sheet column col_offset + i (0-based)
    rows: int = 0
    merged_header: bool = False
    header_row: int = 1
    title_rows: list[str] = field(default_factory=list)
    # No sheet chosen: the visible sheets before this one, whose first rows name no field.
    passed_over: list[str] = field(default_factory=list)

    def cell(self, *, line: int, column: int | None) -> str:
        """The sheet's address of a CSV line and column: Orders!D7, or Orders!7 for a whole row."""
        row = line + self.row_offset
        if column is None or column < 0:
            return f"{self.sheet}!{row}"
        return f"{self.sheet}!{column_letter(column + self.col_offset)}{row}"

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "sheets": [s.name for s in self.sheets if s.visible and s.worksheet],
                "hidden_sheets": [s.name for s in self.sheets if not s.visible],
                "row_offset": self.row_offset, "col_offset": self.col_offset, "header_row": self.header_row,
                "merged_header": self.merged_header, "title_rows": self.title_rows, "passed_over": self.passed_over}


def _open(path: Path) -> Any:
    import python_calamine

    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types and plain ones for bad zips
        raise refused(ERR_WORKBOOK_UNREADABLE, detail=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from exc


def sheets_list(workbook: Any) -> list[SheetInfo]:
    import python_calamine

    infos = []
    for meta in workbook.sheets_metadata:
        infos.append(SheetInfo(name=meta.name, visible=meta.visible == python_calamine.SheetVisibleEnum.Visible,
                               worksheet=meta.typ == python_calamine.SheetTypeEnum.WorkSheet))
    return infos


def sheet_names(*, path: Path) -> list[SheetInfo]:
    workbook = _open(path)
    try:
        return sheets_list(workbook)
    finally:
        workbook.close()


def _sheet_choose(infos: list[SheetInfo], wanted: str) -> str:
    names = ", ".join(f'"{s.name}"' for s in infos) or "-"
    if wanted:
        for info in infos:
            if info.name == wanted:
                return info.name
        for info in infos:  # case and width aside, as the header names are
            if _norm(info.name) == _norm(wanted):
                return info.name
        raise refused(ERR_WORKBOOK_NO_SHEET, sheet=wanted, sheets=names)
    for info in infos:
        if info.visible and info.worksheet:
            return info.name
    raise refused(ERR_WORKBOOK_NO_VISIBLE_SHEET, sheets=names)


def _known_names(kind: str, mapping: dict[str, str]) -> set[str]:
    known = known_names(kind)
    known.update(_norm(column) for column in mapping.values())
    return known


def _header_pick(rows: list[list[str]], known: set[str]) -> tuple[int, list[str], bool]:
    """The header among the first rows, with group labels joined (see _header_join): the row
    naming the most distinct known fields (two at least), the first of equals; failing that, the
    first of the widest rows (a title is one cell). The last value: whether it names fields."""
    best, best_known, best_header = -1, 1, []
    for i, row in enumerate(rows):
        header = [v.strip() for v in row]
        if i > 0:
            header = _header_join(header, rows[i - 1], known)
        hits = len({form for v in header if v for form in header_forms(v) if form in known})
        if hits > best_known:
            best, best_known, best_header = i, hits, header
    if best >= 0:
        return best, best_header, True
    widths = [sum(1 for v in row if v.strip()) for row in rows]
    widest = max(widths, default=0)
    pick = next((i for i, w in enumerate(widths) if w == widest), 0)
    return pick, [v.strip() for v in rows[pick]], False


def _merged_fill(rows: list[list[str]], merged: Iterable[Any], start_row: int, start_col: int) -> tuple[list[list[str]], bool]:
    """Every cell of a merged range gets the range's text (rows are relative to the sheet's start)."""
    touched = False
    for rng in merged:
        try:
            (r1, c1), (r2, c2) = rng
        except (TypeError, ValueError):
            continue
        r1, r2, c1, c2 = r1 - start_row, r2 - start_row, c1 - start_col, c2 - start_col
        if r1 < 0 or r1 >= len(rows) or c1 < 0:
            continue
        text = rows[r1][c1] if c1 < len(rows[r1]) else ""
        for r in range(r1, min(r2, len(rows) - 1) + 1):
            for c in range(c1, c2 + 1):
                while c >= len(rows[r]):
                    rows[r].append("")
                if not rows[r][c]:
                    rows[r][c] = text
                    touched = True
    return rows, touched


def _header_join(header: list[str], above: list[str], known: set[str]) -> list[str]:
    """A group label above a header cell joined to it when that makes a known name."""
    out = []
    for i, name in enumerate(header):
        group = above[i] if i < len(above) else ""
        if group and name and group != name and _norm(name) not in known and _norm(f"{group} {name}") in known:
            out.append(f"{group} {name}")
        else:
            out.append(name)
    return out


def formula_without_value(*, path: Path, sheet: str) -> tuple[str, int] | None:
    """(first address, count) of the formula cells of an .xlsx sheet that have no cached value.

    The sheet's XML is streamed: a sheet without any formula costs one decompression (a byte
    search); only a sheet with formulas is parsed."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        return None
    with archive:
        member = _sheet_member(archive, sheet)
        if member is None:
            return None
        with archive.open(member) as f:
            tail = b""
            found = False
            while chunk := f.read(1 << 20):
                if b"<f" in tail + chunk or b":f" in tail + chunk:
                    found = True
                    break
                tail = chunk[-8:]
        if not found:
            return None
        first, count = "", 0
        with archive.open(member) as f:
            for _event, element in ElementTree.iterparse(f, events=("end",)):
                if element.tag != f"{_NS_MAIN}c":
                    if element.tag == f"{_NS_MAIN}row":
                        element.clear()
                    continue
                formula = element.find(f"{_NS_MAIN}f")
                if formula is not None:
                    value = element.find(f"{_NS_MAIN}v")
                    inline = element.find(f"{_NS_MAIN}is")
                    if (value is None or value.text is None) and inline is None:
                        count += 1
                        first = first or element.get("r", "")
    return (f"{sheet}!{first}", count) if count else None


def _sheet_member(archive: zipfile.ZipFile, sheet: str) -> str | None:
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG_REL}Relationship")}
    for node in workbook.iter(f"{_NS_MAIN}sheet"):
        if node.get("name") == sheet:
            target = targets.get(node.get(f"{_NS_REL}id"), "")
            target = target.lstrip("/")
            return target if target.startswith("xl/") else f"xl/{target}"
    return None


@dataclass
class _Source:
    """A chosen sheet's rows as (0-based sheet row, values from column A), whatever the reader."""

    infos: list[SheetInfo]
    name: str
    merged: list[Any]
    rows: Iterator[tuple[int, list[str]]]
    formula_problem: Callable[[], tuple[str, int] | None]
    close: Callable[[], None]


def _source_open(path: Path, sheet: str) -> _Source:
    """.xlsx/.xlsm: the streaming reader (xlsx_stream); .xls, .ods (or an .xlsx it cannot
    read): python-calamine, which decodes the sheet whole (an .xls holds 65,536 rows at most)."""
    with path.open("rb") as f:
        kind = workbook_kind(f.read(8))
    if kind == "zip":
        try:
            book = XlsxBook.open(path)
        except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, ValueError):
            book = None
        if book is not None:
            try:
                infos = [SheetInfo(name=e.name, visible=e.visible, worksheet="worksheets/" in e.member)
                         for e in book.sheets]
                name = _sheet_choose(infos, sheet)
                data = book.sheet(name)
                merged = data.merged_ranges()
            except BaseException:
                book.close()
                raise

            def problem() -> tuple[str, int] | None:
                if not data.formulas_without_value:
                    return None
                return f"{name}!{data.first_formula_without_value}", data.formulas_without_value

            return _Source(infos=infos, name=name, merged=merged, rows=data.rows(), formula_problem=problem,
                           close=book.close)
    workbook = _open(path)
    try:
        infos = sheets_list(workbook)
        name = _sheet_choose(infos, sheet)
        found = formula_without_value(path=path, sheet=name) if kind == "zip" else None
        try:
            grid = workbook.get_sheet_by_name(name)
        except Exception as exc:
            raise refused(ERR_WORKBOOK_UNREADABLE, detail=str(exc)[:200]) from exc
    except BaseException:
        workbook.close()
        raise
    start_row, start_col = grid.start if grid.start else (0, 0)
    lead: list[Any] = [None] * start_col
    rows = ((start_row + i, [cell_text(v) for v in lead + list(row)]) for i, row in enumerate(grid.iter_rows()))
    return _Source(infos=infos, name=name, merged=list(grid.merged_cell_ranges or []), rows=rows,
                   formula_problem=lambda: found, close=workbook.close)


@dataclass
class _Head:
    """A sheet's first rows that have cells (a dense grid from the first of them) and its header."""

    first_row: int
    last_scanned: int
    start_col: int
    rows: list[list[str]]
    merged_touched: bool
    pick: int
    header: list[str]
    named: bool  # the header names fields of the file's kind


def _head_read(source: _Source, known: set[str]) -> _Head | None:
    """The head of the source's sheet (its rows iterator left after it), or None for a sheet
    without cells."""
    scanned: list[tuple[int, list[str]]] = []
    for index, texts in source.rows:
        if any(texts):
            scanned.append((index, texts))
        if len(scanned) >= HEADER_SCAN_ROWS:
            break
    if not scanned:
        return None
    first_row = scanned[0][0]
    by_index = dict(scanned)
    last_scanned = scanned[-1][0]
    start_col = min(next(i for i, v in enumerate(texts) if v) for _, texts in scanned)
    rows = [list(by_index.get(i, []))[start_col:] for i in range(first_row, last_scanned + 1)]
    rows, merged_touched = _merged_fill(rows, source.merged, first_row, start_col)
    pick, header, named = _header_pick(rows, known)
    return _Head(first_row, last_scanned, start_col, rows, merged_touched, pick, header, named)


def _sheet_with_header(path: Path, known: set[str]) -> tuple[_Source, _Head | None, list[str]]:
    """No sheet chosen: the first visible worksheet whose header names fields of the file's
    kind (a workbook often opens on a cover or instructions sheet), with the sheets passed over;
    the first visible worksheet when none does (its header is then refused as usual)."""
    first = _source_open(path, "")
    try:
        head = _head_read(first, known)
        if head is not None and head.named:
            return first, head, []
        candidates = [s.name for s in first.infos if s.visible and s.worksheet]
        for index, name in enumerate(candidates[1:], start=1):
            other = _source_open(path, name)
            try:
                other_head = _head_read(other, known)
            except BaseException:
                other.close()
                raise
            if other_head is not None and other_head.named:
                first.close()
                return other, other_head, candidates[:index]
            other.close()
    except BaseException:
        first.close()
        raise
    return first, head, []


def sheet_convert(*, path: Path, kind: str, sheet: str = "", mapping: dict[str, str] | None = None,
                  target: Path | None = None) -> ConvertedSheet:
    """Write the chosen sheet as a UTF-8 CSV (see the module) and say how it maps back."""
    known = _known_names(kind, mapping or {})
    if sheet:
        source = _source_open(path, sheet)
        passed_over: list[str] = []
        try:
            found = _head_read(source, known)
        except BaseException:
            source.close()
            raise
    else:
        source, found, passed_over = _sheet_with_header(path, known)
    try:
        name = source.name
        if found is None:
            problem = source.formula_problem()
            if problem:
                raise refused(ERR_WORKBOOK_FORMULA, cell=problem[0], count=problem[1])
            raise refused(ERR_WORKBOOK_EMPTY_SHEET, sheet=name)
        first_row, last_scanned, start_col = found.first_row, found.last_scanned, found.start_col
        head, pick, header = found.rows, found.pick, found.header
        merged_header = found.merged_touched and any(_in_range(rng, pick + first_row) for rng in source.merged)
        while header and not header[-1]:
            header.pop()
        width = max(len(header), 1)
        target = target or path.with_name(path.name + ".csv")
        # CSV line 1 (the header) is sheet row first_row + pick + 1: line N is row N + row_offset.
        converted = ConvertedSheet(path=target, sheet=name, sheets=source.infos, row_offset=first_row + pick,
                                   col_offset=start_col, merged_header=merged_header, header_row=first_row + pick + 1,
                                   passed_over=passed_over,
                                   title_rows=[" ".join(v for v in row if v.strip()) for row in head[:pick]
                                               if any(v.strip() for v in row)][:3])
        blank = [""] * width
        count = 0
        with target.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            for row_text in head[pick + 1:]:
                writer.writerow(_fit(row_text, width, blank))
                count += 1
            written = last_scanned
            for index, row in source.rows:
                for _gap in range(written + 1, index):
                    writer.writerow(blank)
                    count += 1
                writer.writerow(_fit(row[start_col:] if start_col else row, width, blank))
                count += 1
                written = index
        problem = source.formula_problem()
        if problem:
            raise refused(ERR_WORKBOOK_FORMULA, cell=problem[0], count=problem[1])
        converted.rows = count
        return converted
    finally:
        source.close()


def _fit(values: list[str], width: int, blank: list[str]) -> list[str]:
    """A row cut or padded to the header's width (what lies beyond it kept when not empty, for
    the validator to report)."""
    if not any(values):
        return blank
    if len(values) > width:
        return values if any(values[width:]) else values[:width]
    return values + [""] * (width - len(values)) if len(values) < width else values


def _in_range(rng: Any, row: int) -> bool:
    try:
        (r1, _c1), (r2, _c2) = rng
    except (TypeError, ValueError):
        return False
    return bool(r1 <= row <= r2)
