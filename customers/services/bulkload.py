"""A large import into a table that holds few transactions: its indexes built after the rows
(PostgreSQL).

Every row written into customers_transaction updates its four secondary indexes (customer and
date, date, import job, order id), a random page of each per row. Building them once the rows
are in costs one sort each. Measured on the 2-core machine, 1,000,000 rows into an empty table:
COPY with the indexes 6.9 - 8.0 s; COPY without them 1.7 - 2.1 s, then 1.3 s to build all four
(docs/scaling.md, "Indexes built after the rows"). A build sorts every row of the table, the
stored ones too, while the upkeep costs only the new rows, about four times as much per row:
building wins while the table holds fewer than about three times the file's rows. The rule used
keeps well inside that:

- the file is at least `CLV_IMPORT_INDEX_BUILD_MIN_MB` (small files gain little and would lock
  the table for nothing), and
- the table holds no row, or its heap takes at most `STORED_BYTES_PER_FILE_BYTE` times the
  file's size (a stored row takes about 1.7 times its CSV line: the table then holds at most
  about as many rows as the file brings; dead rows not yet vacuumed count too, so the rule errs
  towards keeping the indexes).

The order-id index finds the stored orders a file replaces, so it is kept while the table holds
any row; in an empty table nothing can be replaced and it is built after too.

Dropping an index takes the table's ACCESS EXCLUSIVE lock until the import commits: a page or a
recompute reading transactions meanwhile waits for the commit. The lock is asked for with a
short `lock_timeout` (`CLV_IMPORT_INDEX_LOCK_WAIT_SECONDS`): if a reader holds the table (a
recompute running, say), the import keeps the indexes and writes as before, rather than wait or
make the pages wait behind it. Everything happens inside the import's transaction: a failure or
a kill before the commit rolls the drop back with the rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from clv_dashboard.bulk import indexes_dropped, lock_wait_ended

TABLE = "customers_transaction"
ORDER_ID_INDEX = "transaction_order_id_unique"
# The table's heap may take at most this many times the file's bytes (see above).
STORED_BYTES_PER_FILE_BYTE = 2
# Memory for each index build (PostgreSQL's default, 64 MB, sorts 10,000,000 rows on disk).
BUILD_MEMORY = "256MB"


@dataclass
class IndexesSetAside:
    """The indexes dropped for the write, and how to build them again."""

    rebuild: list[str]
    order_ids: bool  # the order-id index was dropped too: the table held no row
    seconds_building: float | None = None

    def build(self, cursor: Any) -> None:
        """Build the dropped indexes again (the rows written; same transaction)."""
        started = time.monotonic()
        _pending_checks_run(cursor)
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [BUILD_MEMORY])
        for sql in self.rebuild:
            cursor.execute(sql)
        self.seconds_building = round(time.monotonic() - started, 2)


def indexes_set_aside(*, cursor: Any, file_bytes: int) -> IndexesSetAside | None:
    """Drop the transactions table's secondary indexes for a write of a file of `file_bytes`,
    when the rule above says building them after is cheaper and the table's lock is free within
    the wait allowed; None (nothing dropped) otherwise. `cursor` is a cursor of the importing
    transaction, Django's or the driver's."""
    if file_bytes < settings.CLV_IMPORT_INDEX_BUILD_MIN_MB * 1024 * 1024:
        return None
    cursor.execute(f"SELECT pg_relation_size('{TABLE}'), EXISTS (SELECT 1 FROM {TABLE})")
    heap_bytes, stored = cursor.fetchone()
    if stored and heap_bytes > STORED_BYTES_PER_FILE_BYTE * file_bytes:
        return None
    if not _table_locked(cursor):
        return None
    _pending_checks_run(cursor)
    return IndexesSetAside(rebuild=indexes_dropped(cursor=cursor, table=TABLE, keep=(ORDER_ID_INDEX,) if stored else ()),
                           order_ids=not stored)


def _table_locked(cursor: Any) -> bool:
    """Take the table's ACCESS EXCLUSIVE lock if it is free within the wait allowed; False,
    with the transaction as it was, if not."""
    cursor.execute("SELECT current_setting('lock_timeout')")
    (previous,) = cursor.fetchone()
    wait_ms = max(1, int(settings.CLV_IMPORT_INDEX_LOCK_WAIT_SECONDS * 1000))
    cursor.execute("SAVEPOINT transactions_indexes")
    try:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{wait_ms}ms"])
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    except Exception as exc:
        if not lock_wait_ended(exc):
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT transactions_indexes")  # the lock_timeout with it
        cursor.execute("RELEASE SAVEPOINT transactions_indexes")
        return False
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    cursor.execute("RELEASE SAVEPOINT transactions_indexes")
    return True


def _pending_checks_run(cursor: Any) -> None:
    """Run the foreign-key checks this transaction has deferred to its commit (PostgreSQL
    refuses to drop or build an index of a table that has some pending): the rows written so
    far are checked now instead, and later ones are deferred again (every deferrable constraint
    of the schema is INITIALLY DEFERRED: Django's foreign keys). The import skips these checks
    where its database role may (loading.foreign_key_checks_defer_to_the_join)."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
