"""An .xlsx/.xlsm sheet read row by row, in memory that does not grow with the number of rows.

python-calamine (used for .xls and .ods) decodes a whole sheet before it gives the first row;
for a sheet of a million rows that is half a gigabyte. This reader decompresses the sheet's XML
in chunks and matches its rows and cells with regular expressions (C loops), so it holds one
chunk and one row at a time. What it keeps whole is the workbook's table of shared strings
(each distinct text once, as Excel stores it) and the styles (which cells are dates).

The XML of a sheet is regular (SpreadsheetML, ECMA-376 §18.3): `<row r="7">` holding
`<c r="D7" t="s" s="3"><f>…</f><v>…</v></c>` or `<c t="inlineStr"><is><t>…</t></is></c>`;
elements may carry a namespace prefix (`<x:c>`), which the patterns allow.
"""

from __future__ import annotations

import codecs
import datetime as dt
import html
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

_P = r"(?:[A-Za-z_][\w.-]*:)?"
_ROW_OR_CELL = re.compile(
    rf"<{_P}row\b([^>]*?)(/?)>|</{_P}row>|<{_P}c\b([^>]*?)(?:/>|>(.*?)</{_P}c>)", re.S)
# The plain shapes (no prefix, the usual attribute order), matched whole in C.
_PLAIN_ROW = re.compile(r'<row r="(\d+)"[^>]*?(?<!/)>(.*?)</row>', re.S)
_PLAIN_CELL = re.compile(r'<c r="([A-Z]+)\d+"(?: s="(\d+)")?(?: t="(\w+)")?(?: s="(\d+)")?(?:/>|>(?:<v>([^<]*)</v>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>)')
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?$")
_ROW_END = re.compile(rf"</{_P}row>|<{_P}row\b[^>]*/>")
_ATTR = re.compile(r'\b(r|t|s)="([^"]*)"')
_VALUE = re.compile(rf"<{_P}v(?:\s[^>]*)?>(.*?)</{_P}v>", re.S)
_FORMULA = re.compile(rf"<{_P}f\b")
_TEXT = re.compile(rf"<{_P}t(?:\s[^>]*)?>(.*?)</{_P}t>", re.S)
_PHONETIC = re.compile(rf"<{_P}rPh\b.*?</{_P}rPh>", re.S)
_SI = re.compile(rf"<{_P}si>(.*?)</{_P}si>|<{_P}si\s*/>", re.S)
_SI_END = re.compile(rf"</{_P}si>|<{_P}si\s*/>")
_MERGE = re.compile(rf'<{_P}mergeCell\b[^>]*\bref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_ROW_NUMBER = re.compile(r'\br="(\d+)"')

# Built-in number formats that are dates or times (ECMA-376 §18.8.30), with the East Asian ones
# Excel uses in Chinese locales (27-36, 50-58).
_DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_DATE_LETTERS = re.compile(r"[ymdhsYMDHS年月日时分秒]")
CHUNK = 1 << 20


def column_index(letters: str) -> int:
    """A -> 0, Z -> 25, AA -> 26."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def is_date_format(code: str) -> bool:
    """Whether a number format code shows a date or a time (text in quotes and colours aside)."""
    return bool(_DATE_LETTERS.search(_FORMAT_NOISE.sub("", code))) and "General" not in code


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _excel_datetime(serial: float, date1904: bool) -> dt.datetime | float:
    # Excel's serial dates have no time zone: naive by nature.
    base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)  # noqa: DTZ001
    try:
        return base + dt.timedelta(seconds=round(serial * 86400))
    except OverflowError:
        return serial


@dataclass(frozen=True)
class SheetEntry:
    name: str
    visible: bool
    member: str


def workbook_sheets(archive: zipfile.ZipFile) -> tuple[list[SheetEntry], bool]:
    """The sheets in workbook order (name, visible, path in the archive) and the 1904 date flag."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{pkg}Relationship")}
    sheets = []
    for node in workbook.iter(f"{main}sheet"):
        target = targets.get(node.get(f"{rel_ns}id"), "").lstrip("/")
        member = target if target.startswith("xl/") else f"xl/{target}"
        sheets.append(SheetEntry(node.get("name", ""), node.get("state", "visible") == "visible", member))
    pr = workbook.find(f"{main}workbookPr")
    date1904 = pr is not None and pr.get("date1904", "0") in ("1", "true")
    return sheets, date1904


def _date_styles(archive: zipfile.ZipFile) -> frozenset[int]:
    """The cell style indexes (s="…") whose number format is a date or time."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    try:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    except KeyError:
        return frozenset()
    custom = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in styles.iter(f"{main}numFmt")}
    xfs = styles.find(f"{main}cellXfs")
    dates = set()
    for i, xf in enumerate(xfs if xfs is not None else []):
        fmt = int(xf.get("numFmtId", "0"))
        if fmt in _DATE_FORMAT_IDS or (fmt in custom and is_date_format(custom[fmt])):
            dates.add(i)
    return frozenset(dates)


def _chunks(archive: zipfile.ZipFile, member: str, end: re.Pattern[str]) -> Iterator[str]:
    """The member's text in pieces that each end just after a match of `end` (a row, a string)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with archive.open(member) as f:
        rest = ""
        while True:
            data = f.read(CHUNK)
            if not data:
                rest += decoder.decode(b"", final=True)
                break
            text = rest + decoder.decode(data)
            last = None
            for match in end.finditer(text, max(len(rest) - 16, 0)):
                last = match
            if last is None:
                rest = text
                continue
            yield text[: last.end()]
            rest = text[last.end():]
        if rest:
            yield rest


def shared_strings(archive: zipfile.ZipFile) -> list[str]:
    try:
        archive.getinfo("xl/sharedStrings.xml")
    except KeyError:
        return []
    strings: list[str] = []
    for piece in _chunks(archive, "xl/sharedStrings.xml", _SI_END):
        for m in _SI.finditer(piece):
            body = m.group(1) or ""
            if "rPh" in body:
                body = _PHONETIC.sub("", body)
            strings.append(_unescape("".join(_TEXT.findall(body))))
    return strings


class XlsxSheet:
    """One sheet of an open .xlsx archive, read row by row."""

    def __init__(self, archive: zipfile.ZipFile, entry: SheetEntry, *, strings: list[str], date_styles: frozenset[int],
                 date1904: bool) -> None:
        self.archive, self.entry = archive, entry
        self.strings, self.date_styles, self.date1904 = strings, date_styles, date1904
        # Formula cells without a cached value: their count and the first one's address.
        self.formulas_without_value = 0
        self.first_formula_without_value = ""

    def merged_ranges(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """((first row, first column), (last row, last column)), 0-based; the list ends the sheet's
        XML, so this is one pass of decompression without parsing the rows."""
        found = []
        for piece in _chunks(self.archive, self.entry.member, _ROW_END):
            if "mergeCell" not in piece:
                continue
            for m in _MERGE.finditer(piece):
                found.append(((int(m.group(2)) - 1, column_index(m.group(1))),
                              (int(m.group(4)) - 1, column_index(m.group(3)))))
        return found

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(0-based row index, the row's values as text (workbooks.cell_text) by 0-based column)
        for each row that has cells.

        A row whose cells are all in the plain shape Excel and most writers use
        (`<c r="B7" s="3" t="s"><v>12</v></c>`) is matched whole by one findall; any other row
        goes through the general patterns."""
        from .workbooks import cell_text as text_of

        strings, date_styles, date1904 = self.strings, self.date_styles, self.date1904
        columns: dict[str, int] = {}
        dates: dict[str, str] = {}
        for piece in _chunks(self.archive, self.entry.member, _ROW_END):
            position = 0
            for row in _PLAIN_ROW.finditer(piece):
                body = row.group(2)
                cells = _PLAIN_CELL.findall(body)
                if body.count("<c") != len(cells):
                    continue  # read by the general patterns below, with the rest of the piece
                if position < row.start():
                    yield from self._rows_general(piece[position:row.start()])
                position = row.end()
                values: list[Any] = []
                for letters, style, kind, style2, raw, inline in cells:
                    column = columns.get(letters)
                    if column is None:
                        column = columns[letters] = column_index(letters)
                    if inline:
                        value: Any = text_of(_unescape(inline))
                    elif not raw:
                        continue
                    elif kind == "s":
                        value = text_of(strings[int(raw)])
                    elif not kind or kind == "n":
                        st = style or style2
                        if st and int(st) in date_styles:
                            value = dates.get(raw)
                            if value is None:
                                value = dates[raw] = text_of(_excel_datetime(float(raw), date1904))
                        elif len(raw) <= 15 and _PLAIN_NUMBER.match(raw):
                            value = raw[:-2] if raw.endswith(".0") else raw
                        else:
                            value = text_of(float(raw))
                    elif kind == "b":
                        value = "TRUE" if raw == "1" else "FALSE"
                    else:
                        value = text_of(_unescape(raw))
                    if value == "":
                        continue
                    if len(values) < column:
                        values.extend([""] * (column - len(values)))
                    if len(values) == column:
                        values.append(value)
                    else:
                        values[column] = value
                if values:
                    yield int(row.group(1)) - 1, values
            if position < len(piece):
                yield from self._rows_general(piece[position:])

    def _rows_general(self, piece: str) -> Iterator[tuple[int, list[Any]]]:
        from .workbooks import cell_text as text_of

        for index, values in self._rows_general_values(piece):
            yield index, [text_of(v) for v in values]

    def _rows_general_values(self, piece: str) -> Iterator[tuple[int, list[Any]]]:
        row_index = -1
        values: list[Any] = []
        column = -1
        in_row = False
        strings, date_styles, date1904 = self.strings, self.date_styles, self.date1904
        for m in _ROW_OR_CELL.finditer(piece):
            row_attrs, empty_row, cell_attrs, body = m.group(1), m.group(2), m.group(3), m.group(4)
            if cell_attrs is None and row_attrs is None:  # </row>
                if in_row and values:
                    yield row_index, values
                in_row, values = False, []
                continue
            if row_attrs is not None:
                number = _ROW_NUMBER.search(row_attrs)
                row_index = int(number.group(1)) - 1 if number else row_index + 1
                column, values, in_row = -1, [], not empty_row
                continue
            attrs = dict(_ATTR.findall(cell_attrs))
            ref = attrs.get("r")
            if ref:
                cm = _CELL_REF.match(ref)
                column = column_index(cm.group(1)) if cm else column + 1
            else:
                column += 1
            value = self._value(attrs, body or "", strings, date_styles, date1904, row_index, column)
            if value is None or value == "":
                continue
            while len(values) < column:
                values.append(None)
            if len(values) == column:
                values.append(value)
            else:
                values[column] = value
        if in_row and values:
            yield row_index, values

    def _value(self, attrs: dict[str, str], body: str, strings: list[str], date_styles: frozenset[int],
               date1904: bool, row: int, column: int) -> Any:
        kind = attrs.get("t", "n")
        if kind == "inlineStr":
            return _unescape("".join(_TEXT.findall(_PHONETIC.sub("", body) if "rPh" in body else body)))
        vm = _VALUE.search(body) if body else None
        if vm is None:
            if body and _FORMULA.search(body):
                self.formulas_without_value += 1
                if not self.first_formula_without_value:
                    from .workbooks import column_letter

                    self.first_formula_without_value = f"{column_letter(column)}{row + 1}"
            return None
        raw = vm.group(1)
        if kind == "s":
            try:
                return strings[int(raw)]
            except (ValueError, IndexError):
                return ""
        if kind in ("str", "e", "d"):
            return _unescape(raw)
        if kind == "b":
            return raw.strip() in ("1", "true")
        try:
            number = float(raw)
        except ValueError:
            return _unescape(raw)
        style = attrs.get("s")
        if style and int(style) in date_styles:
            return _excel_datetime(number, date1904)
        return number


@dataclass
class XlsxBook:
    archive: zipfile.ZipFile
    sheets: list[SheetEntry]
    date1904: bool

    @classmethod
    def open(cls, path: Any) -> XlsxBook:
        archive = zipfile.ZipFile(path)
        try:
            sheets, date1904 = workbook_sheets(archive)
        except Exception:
            archive.close()
            raise
        return cls(archive=archive, sheets=sheets, date1904=date1904)

    def sheet(self, name: str) -> XlsxSheet:
        entry = next(s for s in self.sheets if s.name == name)
        return XlsxSheet(self.archive, entry, strings=shared_strings(self.archive),
                         date_styles=_date_styles(self.archive), date1904=self.date1904)

    def close(self) -> None:
        self.archive.close()
