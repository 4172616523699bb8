"""What a file does to the segments of the customers it names: reported on the import, never refused.

- **Moves**: a stored customer whose region, product line, business unit or channel the file
  changes moves to another segment with their whole history (every month of the board, and a
  restatement of each closed month: METRICS.md, Closing a month). Per dimension: how many
  customers moved and the largest flows (from, to, customers); a blank stored value is the
  `unassigned` segment.
- **Conflicts**: a customer given two different non-blank values of one dimension in one file
  keeps the last one (docs/csv-formats.md). Per dimension: how many customers, and examples
  with their values in the order of the file's lines.

Set-based, in the import's transaction: the stored values of the customers the file names are
copied aside before the upsert (`segments_before`) and compared with what it wrote after
(`segment_moves`); conflicts are one grouped pass over the staging table (min <> max, no sort).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from customers.models import UNASSIGNED, SegmentDimension

# Flows and examples kept per dimension on the import (the counts are always whole).
MOVE_EXAMPLES = 5


def _dimensions(attributes: tuple[str, ...]) -> list[str]:
    return [d for d in SegmentDimension.values if d in attributes]


def _before_table(table: str) -> str:
    return f"{table}_seg"


def segments_before(*, connection: BaseDatabaseWrapper, table: str, attributes: tuple[str, ...]) -> bool:
    """Copy aside the stored segment values of the customers staged in `table`; False (nothing
    to compare later) when the file gives no segment attribute."""
    dimensions = _dimensions(attributes)
    if not dimensions:
        return False
    before = _before_table(table)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {before}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {before} AS SELECT c.id, {', '.join(f'c.{d}' for d in dimensions)} "
            f"FROM customers_customer c WHERE c.external_id IN (SELECT customer_ext FROM {table})"
        )
    return True


def segment_moves(*, connection: BaseDatabaseWrapper, table: str, attributes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per dimension the file changed: {"dimension", "customers", "changes": [[from, to, customers], ...]}
    (the largest flows first, at most MOVE_EXAMPLES). Drops the table `segments_before` made."""
    before = _before_table(table)
    found: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        for dimension in _dimensions(attributes):
            cursor.execute(
                f"SELECT b.{dimension}, c.{dimension}, count(*) FROM {before} b JOIN customers_customer c ON c.id = b.id "
                f"WHERE c.{dimension} <> b.{dimension} GROUP BY b.{dimension}, c.{dimension}"
            )
            flows = sorted(((old or UNASSIGNED, new or UNASSIGNED, int(n)) for old, new, n in cursor.fetchall()),
                           key=lambda f: (-f[2], f[0], f[1]))
            if flows:
                found.append({"dimension": dimension, "customers": sum(f[2] for f in flows),
                              "changes": [list(f) for f in flows[:MOVE_EXAMPLES]]})
        cursor.execute(f"DROP TABLE IF EXISTS {before}")
    return found


def segment_conflicts(*, connection: BaseDatabaseWrapper, table: str, attributes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per dimension: {"dimension", "customers", "examples": [[customer, [value, ...]], ...]}
    for the customers the file gives two or more non-blank values (in the order of their first
    line; the last line's value is the one kept)."""
    dimensions = _dimensions(attributes)
    if not dimensions:
        return []
    differs = [f"min(NULLIF({d}, '')) <> max(NULLIF({d}, ''))" for d in dimensions]
    flags = ", ".join(f"CASE WHEN {x} THEN 1 ELSE 0 END AS {d}" for x, d in zip(differs, dimensions, strict=True))
    conflicted = f"{table}_two"
    found: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {conflicted}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {conflicted} AS SELECT customer_ext, {flags} FROM {table} "
            f"GROUP BY customer_ext HAVING {' OR '.join(differs)}"
        )
        cursor.execute(f"SELECT {', '.join(f'coalesce(sum({d}), 0)' for d in dimensions)} FROM {conflicted}")
        counts = dict(zip(dimensions, (int(n) for n in cursor.fetchone()), strict=True))
        for dimension in (d for d in dimensions if counts[d]):
            cursor.execute(
                f"SELECT s.customer_ext, s.{dimension} FROM {table} s JOIN (SELECT customer_ext FROM {conflicted} "
                f"WHERE {dimension} = 1 ORDER BY customer_ext LIMIT %s) e ON e.customer_ext = s.customer_ext "
                f"WHERE s.{dimension} <> '' GROUP BY s.customer_ext, s.{dimension} ORDER BY s.customer_ext, min(s.line)",
                [MOVE_EXAMPLES],
            )
            values: dict[str, list[str]] = {}
            for customer, value in cursor.fetchall():
                values.setdefault(str(customer), []).append(str(value))
            found.append({"dimension": dimension, "customers": counts[dimension],
                          "examples": [[c, v] for c, v in values.items()]})
        cursor.execute(f"DROP TABLE IF EXISTS {conflicted}")
    return found
