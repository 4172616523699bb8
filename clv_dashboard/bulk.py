"""Setting a table's keys and indexes aside while many rows are written (PostgreSQL).

Keeping a B-tree up to date costs a random page per row written; building it once the rows are
in costs a sort. At a million rows the second is several times cheaper (docs/scaling.md), which
is why the recompute's whole-table rewrites (metrics.bulk) and large imports
(customers.services.bulkload) drop a table's indexes, write, and build them again, all in one
transaction: a failure before the commit rolls the drop back with the rows.

Dropping an index takes the table's ACCESS EXCLUSIVE lock until the commit: whoever waits for
it with a lock_timeout gets the error `lock_wait_ended` recognises."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's lock_not_available: the lock_timeout ran out


def lock_wait_ended(exception: BaseException) -> bool:
    """Whether `exception` (the driver's, or Django's around it) is a query that gave up waiting
    for a lock (lock_timeout)."""
    return _LOCK_NOT_AVAILABLE in (getattr(exception, "pgcode", None), getattr(exception.__cause__, "pgcode", None))


def indexes_dropped(*, cursor: Any, table: str, primary_key: bool = False, keep: Collection[str] = ()) -> list[str]:
    """Drop `table`'s unique constraints and other indexes (its primary key too with
    `primary_key`), except those named in `keep`, in the caller's transaction; return the
    statements that build them again, to run once the rows are written."""
    kinds = ["u", "p"] if primary_key else ["u"]
    cursor.execute(
        """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype = ANY(%s) ORDER BY contype, conname""", [table, kinds])
    constraints = [(name, definition) for name, definition in cursor.fetchall() if name not in keep]
    cursor.execute(
        """SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname""", [table])
    indexes = [(name, definition) for name, definition in cursor.fetchall() if name not in keep]
    for name, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return ([f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints]
            + [definition for _name, definition in indexes])
