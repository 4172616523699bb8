"""Writing a plain transactions file straight into its table, while it is read (PostgreSQL).

Most large transaction exports are one line per order, in order-id order, with no customer
attributes: the whole-file steps of the staging table (summing an order's lines, checking
that they name one customer, the last non-blank attribute of each customer, segment-value
aliases) have nothing to do for them. Such a file is written block by block, inside the
import's one transaction, while the next block is read and checked:

1. the customers the block names are looked up, the new ones created (a bounded cache keeps
   the ids of customers already seen, so memory does not grow with the file);
2. the stored orders the block replaces are deleted: the block's order ids rise, so they are
   one range of the unique index (the column is byte-ordered: migration customers 0008), and
   the range is looked into only when it holds a stored order;
3. the block is copied (COPY) into customers_transaction with the customer ids put in.

A large file written into a table that holds few rows beside it has the table's indexes set
aside before its first block and built again after its last (bulkload.py).

The moment the file stops fitting (its order ids, in the order of its lines, stop rising;
columnar.py checks), `NotDirect` is raised: the caller rolls the transaction back and imports
the file through the staging table (loading.py). Nothing is committed here.
"""

from __future__ import annotations

import datetime as dt
import io
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .bulkload import IndexesSetAside, indexes_set_aside
from .loading import CHUNK_ROWS, WriteResult

# Customer ids kept between blocks. A file naming more customers than this looks the rest up
# again (a cleared cache costs lookups, not correctness): about 100 bytes an entry.
CUSTOMER_CACHE = 500_000
_COLUMNS = ("customer_ext", "order_id", "order_date", "revenue", "cost")
_SCHEMA = pa.schema([(name, pa.string()) for name in _COLUMNS])


def _text_array(values: Any) -> str:
    """A PostgreSQL array literal of these texts, in their order (ten times faster to build
    than the driver's adaptation of a list, for a block's thousands of customer ids)."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


class NotDirect(Exception):
    """The file needs the staging table: its order ids do not rise, or it carries more than
    plain transactions."""


def direct_applies(*, connection: BaseDatabaseWrapper, kind: str, has_order_ids: bool,
                   attributes: tuple[str, ...], columnar: bool) -> bool:
    """Whether a file may be written block by block: PostgreSQL, the columnar reader, a
    transactions file with an order-id column and no customer attribute, and the order-id
    column in byte order (so that rising ids are one index range)."""
    if connection.vendor != "postgresql" or kind != "transactions" or not columnar or not has_order_ids or attributes:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(c.collname, 'default'), d.datcollate FROM pg_attribute a "
            "LEFT JOIN pg_collation c ON c.oid = a.attcollation AND c.collname <> 'default' "
            "CROSS JOIN pg_database d WHERE d.datname = current_database() "
            "AND a.attrelid = 'customers_transaction'::regclass AND a.attname = 'order_id'"
        )
        row = cursor.fetchone()
    if row is None:
        return False
    collation, database = row
    return collation in ("C", "POSIX") or (collation == "default" and database in ("C", "POSIX"))


@dataclass
class _Prepared:
    data: io.BytesIO  # the block as COPY text
    rows: int
    named: pa.Array  # its non-blank order ids
    first: dt.date | None  # its earliest order date


class DirectWriter:
    """The Stager's interface (add, add_table, wait, finish, drop) for a file written straight
    into customers_transaction. Blocks are written in the background while the next is read:
    `settle()` before anything else uses the connection."""

    def __init__(self, *, connection: BaseDatabaseWrapper, job_id: int, file_bytes: int = 0) -> None:
        self.connection = connection
        self.job_id = job_id
        self.file_bytes = file_bytes
        self.rows = 0
        self.line_items: bool | None = False  # rising order ids: each on one line
        self.customers_created = 0
        self.transactions_replaced = 0
        self.has_order_ids = False
        self.earliest: dt.date | None = None
        self._now = timezone.now()
        self._ids: dict[str, int] = {}
        # Whether a stored customer may be missing from the cache (None: not asked yet). Not
        # while every stored customer was created by this writer and is still in the cache.
        self._stored_unseen: bool | None = None
        self._buffer: list[tuple[Any, ...]] = []
        self._pending: list[Future[None]] = []  # with the connection's thread, oldest first
        self._writer: ThreadPoolExecutor | None = None
        self._prepared: Future[_Prepared] | None = None
        self._preparer: ThreadPoolExecutor | None = None
        # The indexes set aside before the first block (None: not decided yet; False: kept).
        self._aside: IndexesSetAside | bool | None = None

    # --- The Stager's interface -----------------------------------------------------------------

    def create(self) -> None:
        pass

    def add(self, row: tuple[Any, ...]) -> None:
        """A row the row validator read (STAGED_COLUMNS order); written with the next block
        (the reader has checked its order id in its line's place)."""
        self._buffer.append(row)
        if len(self._buffer) >= CHUNK_ROWS:
            self._submit(self._rows_table())

    def add_table(self, table: pa.Table) -> None:
        parts = [table.select(list(_COLUMNS)).cast(_SCHEMA)] if table.num_rows else []
        if self._buffer:
            parts.insert(0, self._rows_table())
        if parts:
            self._submit(pa.concat_tables(parts) if len(parts) > 1 else parts[0])

    def wait(self, *, raise_error: bool = True) -> None:
        """Until at most one block is still with the connection's thread (so that the next one
        can be queued behind it and the database never waits for this thread); an error of the
        blocks waited for is raised here."""
        self._wait_until(1, raise_error=raise_error)

    def settle(self, *, raise_error: bool = True) -> None:
        """Until the connection's thread has nothing left to do (before anything else uses the
        connection)."""
        self._wait_until(0, raise_error=raise_error)

    def _wait_until(self, pending: int, *, raise_error: bool) -> None:
        while len(self._pending) > pending:
            writing = self._pending.pop(0)
            try:
                with self.connection.wrap_database_errors:
                    writing.result()
            except Exception:
                if raise_error:
                    raise

    def finish(self) -> None:
        if self._buffer:
            self._submit(self._rows_table())
        self._pending.append(self._executor().submit(self._copy_prepared, self.connection.connection))
        self.settle()
        if isinstance(self._aside, IndexesSetAside):
            with self.connection.cursor() as cursor:
                self._aside.build(cursor)

    def drop(self) -> None:
        self.settle(raise_error=False)
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            prepared.exception()  # ended, whatever it raised
        for pool in (self._writer, self._preparer):
            if pool is not None:
                pool.shutdown()
        self._writer = self._preparer = None

    def result(self) -> WriteResult:
        return WriteResult(
            rows_written=self.rows, customers_created=self.customers_created,
            transactions_inserted=self.rows - self.transactions_replaced,
            transactions_replaced=self.transactions_replaced, has_order_ids=self.has_order_ids, earliest=self.earliest,
            seconds_building_indexes=self._aside.seconds_building if isinstance(self._aside, IndexesSetAside) else None,
        )

    # --- One block --------------------------------------------------------------------------------
    #
    # Three threads share the work so that the database is kept busy: this one reads and checks
    # the next block while the connection's thread resolves a block's customers and then copies
    # the block before it, whose rows (customer ids put in, as CSV) a third thread prepared
    # meanwhile; a block waits in the connection thread's queue, so the database does not wait
    # for this thread either.

    def _rows_table(self) -> pa.Table:
        rows, self._buffer = self._buffer, []
        columns = [
            [str(r[1]) for r in rows], [str(r[2]) for r in rows], [str(r[3]) for r in rows], [str(r[4]) for r in rows],
            [None if r[5] in (None, "") else str(r[5]) for r in rows],
        ]
        return pa.table(columns, schema=_SCHEMA)

    def _executor(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-direct")
        return self._writer

    def _submit(self, table: pa.Table) -> None:
        self.wait()
        self.connection.ensure_connection()
        unique = pc.unique(table.column("customer_ext").combine_chunks())
        raw = self.connection.connection  # the driver's connection: Django's is bound to this thread
        self._pending.append(self._executor().submit(self._block, raw, table, unique, unique.to_pylist()))

    def _block(self, raw: Any, table: pa.Table, unique: pa.Array, names: list[str]) -> None:
        """On the connection's thread: resolve this block's customers, hand the block to be
        prepared, and copy the block before it."""
        with raw.cursor() as cursor:
            if self._aside is None:
                self._aside = indexes_set_aside(cursor=cursor, file_bytes=self.file_bytes) or False
            self._customers_resolve(cursor, names)
        ids = self._ids  # this block's customers are all here (a full cache is replaced, not emptied)
        if len(ids) > CUSTOMER_CACHE:
            self._ids, self._stored_unseen = {}, True
        if self._preparer is None:
            self._preparer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-prepare")
        before, self._prepared = self._prepared, self._preparer.submit(self._prepare, table, unique, names, ids)
        if before is not None:
            self._copy(raw, before.result())

    def _copy_prepared(self, raw: Any) -> None:
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            self._copy(raw, prepared.result())

    def _prepare(self, table: pa.Table, unique: pa.Array, names: list[str], ids: dict[str, int]) -> _Prepared:
        """The block as COPY text, with the customers' ids put in (no database work)."""
        id_of_unique = pa.array([ids[name] for name in names], pa.int64())
        customer_ids = pc.take(id_of_unique, pc.index_in(table.column("customer_ext"), value_set=unique))
        order_ids = table.column("order_id")
        named = order_ids.filter(pc.greater(pc.utf8_length(order_ids), 0))
        first = pc.min(table.column("order_date")).as_py()
        rows = pa.table(
            [customer_ids, order_ids, table.column("order_date"), table.column("revenue"), table.column("cost"),
             pa.repeat(pa.scalar(self.job_id, pa.int64()), table.num_rows)],
            names=["customer_id", "order_id", "order_date", "revenue", "cost", "import_job_id"],
        )
        data = io.BytesIO()
        pcsv.write_csv(rows, data, write_options=pcsv.WriteOptions(include_header=False, quoting_style="needed"))
        data.seek(0)
        named_array = named.combine_chunks() if isinstance(named, pa.ChunkedArray) else named
        return _Prepared(data=data, rows=table.num_rows, named=named_array,
                         first=dt.date.fromisoformat(first) if first is not None else None)

    def _copy(self, raw: Any, block: _Prepared) -> None:
        """On the connection's thread: the stored orders the block replaces deleted, then the
        block copied in."""
        with raw.cursor() as cursor:
            if len(block.named):
                self.has_order_ids = True
                # An import into an empty table replaces nothing (the file's ids rise: none twice).
                if not (isinstance(self._aside, IndexesSetAside) and self._aside.order_ids):
                    self._replaced_delete(cursor, block.named)
            if block.first is not None:
                self.earliest = block.first if self.earliest is None else min(self.earliest, block.first)
            cursor.copy_expert(
                "COPY customers_transaction (customer_id, order_id, order_date, revenue, cost, import_job_id) "
                "FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (order_id))",
                block.data, size=1 << 20,
            )
        self.rows += block.rows

    def _customers_resolve(self, cursor: Any, customers: list[str]) -> None:
        """Put the id of every customer of the block in the cache: the stored ones looked up
        (by the unique index, and only while some customer not in the cache may be stored),
        the new ones created (in customer-id order, blank attributes, as the staged write does)."""
        unknown = set(customers).difference(self._ids)
        if not unknown:
            return
        if self._stored_unseen is None:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM customers_customer)")
            self._stored_unseen = bool(cursor.fetchone()[0])
        if self._stored_unseen:
            cursor.execute("SELECT external_id, id FROM customers_customer WHERE external_id = ANY(%s::text[])",
                           [_text_array(unknown)])
            found = dict(cursor.fetchall())
            self._ids.update(found)
            unknown.difference_update(found)
        if not unknown:
            return
        new = sorted(unknown)
        cursor.execute(
            "INSERT INTO customers_customer (external_id, name, region, product_line, business_unit, "
            "acquisition_channel, created_at, updated_at) SELECT e, '', '', '', '', '', %s, %s "
            "FROM unnest(%s::text[]) e ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id",
            [self._now, self._now, _text_array(new)],
        )
        created = dict(cursor.fetchall())
        self._ids.update(created)
        self.customers_created += len(created)
        if len(created) < len(new):
            # Created by another session meanwhile (imports are serialised; the admin is not).
            missing = [c for c in new if c not in created]
            cursor.execute("SELECT external_id, id FROM customers_customer WHERE external_id = ANY(%s)", [missing])
            self._ids.update(cursor.fetchall())

    def _replaced_delete(self, cursor: Any, named: pa.Array) -> None:
        """Delete the stored orders whose ids the block carries (they are replaced by the file's).
        The file's ids rise: only the stored orders between the block's lowest and highest can
        be among them (none of this file's earlier blocks), which one probe of the unique index
        tells."""
        bounds = pc.min_max(named)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM customers_transaction WHERE order_id BETWEEN %s AND %s AND order_id <> '')",
            [low, high],
        )
        if not cursor.fetchone()[0]:
            return
        cursor.execute(
            "WITH d AS (DELETE FROM customers_transaction WHERE order_id BETWEEN %s AND %s "
            "AND order_id = ANY(%s::text[]) RETURNING order_date) SELECT count(*), min(order_date) FROM d",
            [low, high, _text_array(named.to_pylist())],
        )
        count, earliest = cursor.fetchone()
        self.transactions_replaced += int(count)
        if earliest is not None:
            self.earliest = earliest if self.earliest is None else min(self.earliest, earliest)
