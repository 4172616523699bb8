"""Cells that are safe to open in a spreadsheet.

A spreadsheet runs a text cell that starts with one of FORMULA_PREFIXES as a formula (CSV or
formula injection): an uploaded customer name or segment value such as `=HYPERLINK(...)` would
run on the analyst's machine. Every CSV or workbook the application writes passes its text cells
through spreadsheet_safe; numbers stay numbers.
"""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; anything else passes."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
