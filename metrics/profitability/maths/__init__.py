"""The allocation rules of METRICS.md, pure: DataFrames in, dataclasses out, no ORM.

This is the reference implementation (and the path SQLite takes); PostgreSQL runs the same
rules set-based in SQL (metrics.profitability.selectors), and the tests hold the two equal.
"""

from __future__ import annotations

from .allocation import (
    DIMENSIONS,
    DRIVER_EQUAL,
    DRIVER_PURCHASE,
    ERROR_UNKNOWN_DRIVER,
    Allocation,
    active_months,
    allocate,
    cents,
)
from .whale import WhaleCurve, whale_curve

__all__ = [
    "DIMENSIONS", "DRIVER_EQUAL", "DRIVER_PURCHASE", "ERROR_UNKNOWN_DRIVER", "Allocation", "WhaleCurve",
    "active_months", "allocate", "cents", "whale_curve",
]
