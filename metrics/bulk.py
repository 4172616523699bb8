"""Rewriting a whole table at once on PostgreSQL (the recompute's per-customer tables).

A DELETE of every row and an INSERT of the new ones leaves as many dead rows as the table holds,
and every insert then checks its unique keys against the dead versions of that key: at
1,000,000 customers the per-customer profitability took 28 s after one earlier run and 53 s
after four without a VACUUM. Filling an emptied table and building its keys and indexes after
took 10 s (docs/scaling.md, "At 10,000,000 transactions").

TRUNCATE locks the table until the commit: a reader waits for the end of the rewriting
transaction (its last seconds), then sees the new rows whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from clv_dashboard.bulk import indexes_dropped


def emptied_for_refill(*, cursor: Any, table: str, primary_key: bool = False) -> list[str]:
    """Empty `table` and drop its unique constraints and other indexes (and its primary key with
    `primary_key`), in the caller's transaction; return the statements that put them back, to run
    once it is filled (in the same transaction: a failure rolls all of it back)."""
    cursor.execute(f"TRUNCATE {table}")
    return [*indexes_dropped(cursor=cursor, table=table, primary_key=primary_key), f"ANALYZE {table}"]


@contextmanager
def table_refilled(*, cursor: Any, table: str, primary_key: bool = False) -> Iterator[None]:
    """Around the statements that fill `table` again, in the caller's transaction: emptied
    before them and its keys and indexes built after (emptied_for_refill) on PostgreSQL; a plain
    DELETE elsewhere (the embedded SQLite database). An error inside leaves the rebuild to the
    transaction's rollback."""
    if connection.vendor != "postgresql":
        cursor.execute(f"DELETE FROM {table}")
        yield
        return
    rebuild = emptied_for_refill(cursor=cursor, table=table, primary_key=primary_key)
    yield
    for sql in rebuild:
        cursor.execute(sql)
