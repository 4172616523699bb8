"""What a file does to the segments of the customers it names: reported on the import, never refused.

- **Moves**: a stored customer whose region, product line, business unit or channel the file
  changes moves to another segment with their whole history (every month of the board, and a
  restatement of each closed month: METRICS.md, Closing a month). Per dimension: how many
  customers moved and the largest flows (from, to, customers); a blank stored value is the
  `unassigned` segment.
- **Conflicts**: a customer given two different non-blank values of one dimension in one file
  keeps the last one (docs/csv-formats.md). Per dimension: how many customers, and examples
  with their values in the order of the file's lines.

Both read the table of the file's customers that the upsert is made from (loading.customers_upsert:
one row per customer, the value each keeps and a `two_<dimension>` flag from `conflict_flags`),
before the upsert, in the import's transaction: set-based, one grouped pass over the file.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from customers.models import UNASSIGNED, SegmentDimension

# Flows and examples kept per dimension on the import (the counts are always whole).
MOVE_EXAMPLES = 5


def _dimensions(attributes: tuple[str, ...]) -> list[str]:
    return [d for d in SegmentDimension.values if d in attributes]


def conflict_flags(attributes: tuple[str, ...]) -> list[str]:
    """Aggregates of a pass grouped by customer: 1 where the customer's lines give two different
    non-blank values of a dimension (no sort: the smallest and the largest differ)."""
    return [f"CASE WHEN min(NULLIF({d}, '')) <> max(NULLIF({d}, '')) THEN 1 ELSE 0 END AS two_{d}"
            for d in _dimensions(attributes)]


def segment_moves(*, connection: BaseDatabaseWrapper, grouped: str, attributes: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per dimension the file changes: {"dimension", "customers", "changes": [[from, to, customers], ...]}
    (the largest flows first, at most MOVE_EXAMPLES). Read before the upsert, which sets a stored
    value to the file's wherever the file's is not blank."""
    found: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        for dimension in _dimensions(attributes):
            cursor.execute(
                f"SELECT c.{dimension}, g.{dimension}, count(*) FROM {grouped} g "
                f"JOIN customers_customer c ON c.external_id = g.customer_ext "
                f"WHERE g.{dimension} <> '' AND g.{dimension} <> c.{dimension} GROUP BY c.{dimension}, g.{dimension}"
            )
            flows = sorted(((old or UNASSIGNED, new, int(n)) for old, new, n in cursor.fetchall()),
                           key=lambda f: (-f[2], f[0], f[1]))
            if flows:
                found.append({"dimension": dimension, "customers": sum(f[2] for f in flows),
                              "changes": [list(f) for f in flows[:MOVE_EXAMPLES]]})
    return found


def segment_conflicts(
    *, connection: BaseDatabaseWrapper, table: str, grouped: str, attributes: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Per dimension: {"dimension", "customers", "examples": [[customer, [value, ...]], ...]}
    for the customers the file (staged in `table`) gives two or more non-blank values, in the
    order of their first line (the last line's value is the one kept)."""
    dimensions = _dimensions(attributes)
    if not dimensions:
        return []
    found: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(f'coalesce(sum(two_{d}), 0)' for d in dimensions)} FROM {grouped}")
        counts = dict(zip(dimensions, (int(n) for n in cursor.fetchone()), strict=True))
        for dimension in (d for d in dimensions if counts[d]):
            cursor.execute(
                f"SELECT s.customer_ext, s.{dimension} FROM {table} s JOIN (SELECT customer_ext FROM {grouped} "
                f"WHERE two_{dimension} = 1 ORDER BY customer_ext LIMIT %s) e ON e.customer_ext = s.customer_ext "
                f"WHERE s.{dimension} <> '' GROUP BY s.customer_ext, s.{dimension} ORDER BY s.customer_ext, min(s.line)",
                [MOVE_EXAMPLES],
            )
            values: dict[str, list[str]] = {}
            for customer, value in cursor.fetchall():
                values.setdefault(str(customer), []).append(str(value))
            found.append({"dimension": dimension, "customers": counts[dimension],
                          "examples": [[c, v] for c, v in values.items()]})
    return found
