"""Moving validated rows into the database: a staging table, then set-based SQL.

PostgreSQL: the validated rows are streamed with COPY into a temporary staging table (no
WAL, no indexes), then each target table is filled by set-based statements (INSERT ...
SELECT, ON CONFLICT for customers and costs; stored orders the file replaces are deleted
first). SQLite (the demo): the same staging table filled with executemany, and the same
statements in SQLite's dialect. Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pcsv
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from . import moves
from .bulkload import indexes_set_aside
from .parsing import STAGED_COLUMNS

CHUNK_ROWS = 20_000
ATTRIBUTES = ("name", "region", "product_line", "business_unit", "acquisition_channel", "referred_by")
# Stored as NULL when no file has given one (the other attributes are blank instead).
NULLABLE_ATTRIBUTES = ("referred_by",)
# Examples of each kind of referral that cannot count, kept on the import.
REFERRAL_EXAMPLES = 5

_TYPES = {
    "line": "bigint", "customer_ext": "text", "order_id": "text", "order_date": "date", "revenue": "numeric(18,2)",
    "cost": "numeric(18,2)", "month": "date", "kind": "text", "amount": "numeric(18,2)",
}
_NULLABLE = {"cost"}


def _is_pg(connection: BaseDatabaseWrapper) -> bool:
    return connection.vendor == "postgresql"


class Stager:
    """A session-scoped temporary table holding one file's validated rows.

    On PostgreSQL a block of rows from the columnar reader is copied in the background while
    the next block is read: `wait()` before anything else uses the connection (every method
    here does; the caller does before its own queries)."""

    def __init__(self, *, connection: BaseDatabaseWrapper, kind: str, job_id: int) -> None:
        self.connection = connection
        self.kind = kind
        self.table = f"imp_stage_{job_id}"
        self.columns = STAGED_COLUMNS[kind]
        self.rows = 0
        self.line_items: bool | None = None  # see staged_line_items
        self._buffer: list[tuple[Any, ...]] = []
        self._copying: Future[None] | None = None
        self._copier: ThreadPoolExecutor | None = None

    def create(self) -> None:
        self.wait(raise_error=False)
        self.rows, self.line_items, self._buffer = 0, None, []
        cols = ", ".join(f"{c} {_TYPES.get(c, 'text')}" for c in self.columns)
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE TEMPORARY TABLE {self.table} ({cols})")

    def add(self, row: tuple[Any, ...]) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        self.wait()
        rows, self._buffer = self._buffer, []
        self.rows += len(rows)
        if _is_pg(self.connection):
            data = io.StringIO()
            csv.writer(data, lineterminator="\n").writerows(rows)
            self._copy(data)
        else:
            self._insert(rows)

    def add_table(self, table: pa.Table) -> None:
        """Rows the columnar reader vouched for (columns in this table's order); on PostgreSQL
        copied in the background, after the previous block's copy has finished."""
        if not table.num_rows:
            return
        self.wait()
        self.rows += table.num_rows
        if _is_pg(self.connection):
            data = io.BytesIO()
            pcsv.write_csv(table, data, write_options=pcsv.WriteOptions(include_header=False, quoting_style="needed"))
            if self._copier is None:
                self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy")
            raw = self.connection.connection  # the driver's connection: Django's is bound to this thread
            self._copying = self._copier.submit(self._copy_with, raw, data)
        else:
            self._insert(list(zip(*(column.to_pylist() for column in table.columns), strict=True)))

    def wait(self, *, raise_error: bool = True) -> None:
        """Until the background copy (if any) has finished; its error is raised here."""
        copying, self._copying = self._copying, None
        if copying is None:
            return
        try:
            with self.connection.wrap_database_errors:
                copying.result()
        except Exception:
            if raise_error:
                raise

    def _copy(self, data: IO[Any]) -> None:
        self.connection.ensure_connection()
        with self.connection.wrap_database_errors:
            self._copy_with(self.connection.connection, data)

    def _copy_with(self, raw: Any, data: IO[Any]) -> None:
        """COPY CSV text into the table: a blank text cell is '', a blank number NULL."""
        data.seek(0)
        not_null = ", ".join(c for c in self.columns if _TYPES.get(c, "text") == "text")
        with raw.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN "
                f"WITH (FORMAT csv, FORCE_NOT_NULL ({not_null}))",
                data,
                size=1 << 20,
            )

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        nullable = [i for i, c in enumerate(self.columns) if c in _NULLABLE]
        if nullable:
            rows = [tuple(None if i in nullable and v == "" else v for i, v in enumerate(r)) for r in rows]
        marks = ", ".join(["%s"] * len(self.columns))
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.flush()
        self.wait()
        with self.connection.cursor() as cursor:
            if _is_pg(self.connection):
                cursor.execute(f"ANALYZE {self.table}")
            elif self.kind != "costs":
                # For SQLite's correlated "last non-blank attribute" lookups (PostgreSQL hashes).
                cursor.execute(f"CREATE INDEX {self.table}_cust ON {self.table} (customer_ext)")

    def drop(self) -> None:
        self.wait(raise_error=False)
        if self._copier is not None:
            self._copier.shutdown()
            self._copier = None
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


@dataclass
class WriteResult:
    rows_written: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    transactions_inserted: int = 0
    transactions_replaced: int = 0
    costs_inserted: int = 0
    costs_replaced: int = 0
    has_order_ids: bool = False
    earliest: dt.date | None = None
    seconds_building_indexes: float | None = None  # set aside for the write and built after (bulkload.py)
    extra: dict[str, Any] = field(default_factory=dict)
    # Stored customers the file moved to another segment, and customers it gave two values of
    # one dimension (moves.py): kept on the import only when there are any.
    segment_moves: list[dict[str, Any]] = field(default_factory=list)
    segment_conflicts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows_written": self.rows_written,
            "customers_created": self.customers_created,
            "customers_updated": self.customers_updated,
            "transactions_inserted": self.transactions_inserted,
            "transactions_replaced": self.transactions_replaced,
            "costs_inserted": self.costs_inserted,
            "costs_replaced": self.costs_replaced,
        }
        if self.seconds_building_indexes is not None:
            out["seconds_building_indexes"] = self.seconds_building_indexes
        if self.segment_moves:
            out["segment_moves"] = self.segment_moves
        if self.segment_conflicts:
            out["segment_conflicts"] = self.segment_conflicts
        return out


def _one(connection: BaseDatabaseWrapper, sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _earliest(*values: dt.date | None) -> dt.date | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def order_conflicts(*, connection: BaseDatabaseWrapper, stager: Stager) -> Iterator[tuple[int, str, str, str]]:
    """(line, order id, customer, all customers) for lines of an order that name different customers."""
    t = stager.table
    agg = (
        "string_agg(DISTINCT customer_ext, ', ' ORDER BY customer_ext)" if _is_pg(connection)
        else "replace(group_concat(DISTINCT customer_ext), ',', ', ')"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.line, s.order_id, s.customer_ext, a.customers FROM {t} s JOIN ("
            f"  SELECT order_id, {agg} AS customers FROM {t} WHERE order_id <> ''"
            f"  GROUP BY order_id HAVING min(customer_ext) <> max(customer_ext)) a ON a.order_id = s.order_id "
            f"ORDER BY s.line"
        )
        yield from cursor


def order_conflicts_remove(*, connection: BaseDatabaseWrapper, stager: Stager) -> int:
    t = stager.table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {t} WHERE order_id IN (SELECT order_id FROM {t} WHERE order_id <> '' "
            f"GROUP BY order_id HAVING min(customer_ext) <> max(customer_ext))"
        )
        return int(cursor.rowcount)


def staged_has_order_ids(*, connection: BaseDatabaseWrapper, stager: Stager) -> bool:
    return bool(_one(connection, f"SELECT count(*) FROM (SELECT 1 FROM {stager.table} WHERE order_id <> '' LIMIT 1) x"))


def staged_line_items(*, connection: BaseDatabaseWrapper, stager: Stager) -> bool:
    """Whether an order id is on more than one line of the file (line items to sum, and to check
    for lines naming different customers). Most files have one line per order: they skip both.
    The columnar reader settles it without a query when the file's order ids rise strictly."""
    if stager.line_items is None:
        stager.line_items = bool(_one(
            connection,
            f"SELECT count(*) FROM (SELECT 1 FROM {stager.table} WHERE order_id <> '' "
            "GROUP BY order_id HAVING count(*) > 1 LIMIT 1) x",
        ))
    return stager.line_items


def customers_upsert(
    *, connection: BaseDatabaseWrapper, stager: Stager, attributes: tuple[str, ...], result: WriteResult
) -> None:
    """Create the customers the file names; update the attributes the file gives (a blank cell
    never clears a stored value; within the file the last non-blank value wins). The customers
    this moves between segments, and those given two values in the file, go on `result`."""
    t = stager.table
    pg = _is_pg(connection)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    if not attributes:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customers_customer (external_id, name, region, product_line, business_unit, "
                f"acquisition_channel, created_at, updated_at) "
                f"SELECT s.customer_ext, '', '', '', '', '', %s, %s FROM (SELECT DISTINCT customer_ext FROM {t}) s "
                "WHERE NOT EXISTS (SELECT 1 FROM customers_customer c WHERE c.external_id = s.customer_ext) "
                "ORDER BY s.customer_ext ON CONFLICT (external_id) DO NOTHING",
                [now, now],
            )
            result.customers_created = int(cursor.rowcount)
        return
    selects = []
    for attr in ATTRIBUTES:
        blank = "NULL" if attr in NULLABLE_ATTRIBUTES else "''"
        if attr not in attributes:
            selects.append(f"{blank} AS {attr}")
        elif pg:
            selects.append(f"coalesce((array_agg({attr} ORDER BY line DESC) FILTER (WHERE {attr} <> ''))[1], {blank}) AS {attr}")
        else:
            selects.append(
                f"coalesce((SELECT s2.{attr} FROM {t} s2 WHERE s2.customer_ext = s.customer_ext AND s2.{attr} <> '' "
                f"ORDER BY s2.line DESC LIMIT 1), {blank}) AS {attr}"
            )
    # One grouped pass: each customer's values as the file gives them, and which dimensions it
    # gives two values of; the reports (moves.py) and the upsert read it.
    grouped = f"{t}_customers"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {grouped}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {grouped} AS SELECT s.customer_ext, "
            f"{', '.join(selects + moves.conflict_flags(attributes))} FROM {t} s GROUP BY s.customer_ext"
        )
    result.customers_created = int(_one(
        connection,
        f"SELECT count(*) FROM {grouped} g LEFT JOIN customers_customer c ON c.external_id = g.customer_ext "
        "WHERE c.id IS NULL",
    ) or 0)
    result.segment_moves = moves.segment_moves(connection=connection, grouped=grouped, attributes=attributes)
    result.segment_conflicts = moves.segment_conflicts(connection=connection, table=t, grouped=grouped,
                                                       attributes=attributes)
    target = "customers_customer"
    # A NULL (nothing given) is blank here: CASE and <> treat it as "no value in the file".
    sets = ", ".join(
        f"{a} = CASE WHEN excluded.{a} <> '' THEN excluded.{a} ELSE {target}.{a} END" for a in attributes
    )
    changed = " OR ".join(f"(excluded.{a} <> '' AND excluded.{a} <> coalesce({target}.{a}, ''))" for a in attributes)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {target} (external_id, {', '.join(ATTRIBUTES)}, created_at, updated_at) "
            f"SELECT g.customer_ext, {', '.join(f'g.{a}' for a in ATTRIBUTES)}, %s, %s FROM {grouped} g WHERE true "
            f"ORDER BY g.customer_ext ON CONFLICT (external_id) DO UPDATE SET {sets}, updated_at = excluded.updated_at WHERE {changed}",
            [now, now],
        )
        result.customers_updated = max(int(cursor.rowcount) - result.customers_created, 0)
        cursor.execute(f"DROP TABLE IF EXISTS {grouped}")


def transactions_write(
    *, connection: BaseDatabaseWrapper, stager: Stager, job_id: int, attributes: tuple[str, ...], file_bytes: int = 0
) -> WriteResult:
    """Customers first, then the transactions: an order id already stored is replaced (its row
    deleted, the file's inserted), the lines of one order are summed, and each line without an
    order id is a transaction of its own. Plain INSERT ... SELECT statements: concurrent imports
    are serialised (imports_lock), so nothing else writes these order ids meanwhile. A large
    file (of `file_bytes`) into a table holding few rows beside it is inserted with the table's
    indexes set aside and built after (bulkload.py)."""
    t = stager.table
    pg = _is_pg(connection)
    result = WriteResult(has_order_ids=staged_has_order_ids(connection=connection, stager=stager))
    result.rows_written = int(_one(connection, f"SELECT count(*) FROM {t}") or 0)
    staged_min = _as_date(_one(connection, f"SELECT min(order_date) FROM {t}"))
    replaced_min = None
    line_items = result.has_order_ids and staged_line_items(connection=connection, stager=stager)
    if result.has_order_ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), min(order_date) FROM customers_transaction "
                f"WHERE order_id IN (SELECT order_id FROM {t} WHERE order_id <> '')"
            )
            count, replaced_min = cursor.fetchone()
            result.transactions_replaced = int(count or 0)
            if result.transactions_replaced:
                cursor.execute(
                    f"DELETE FROM customers_transaction WHERE order_id IN (SELECT order_id FROM {t} WHERE order_id <> '')"
                )
        replaced_min = _as_date(replaced_min)
    attribute_min = None
    if attributes and set(attributes) - {"name"}:
        # A segment attribute that changes moves the customer's whole history between segments.
        attribute_min = _as_date(_one(
            connection,
            "SELECT min(tx.order_date) FROM customers_transaction tx JOIN customers_customer c "
            f"ON c.id = tx.customer_id WHERE c.external_id IN (SELECT customer_ext FROM {t})",
        ))
    result.earliest = _earliest(staged_min, replaced_min, attribute_min)

    customers_upsert(connection=connection, stager=stager, attributes=attributes, result=result)

    insert = "INSERT INTO customers_transaction (customer_id, order_id, order_date, revenue, cost, import_job_id) "
    with connection.cursor() as cursor:
        # The replaced orders are deleted: the rows inserted repeat no stored order id.
        aside = indexes_set_aside(cursor=cursor, file_bytes=file_bytes) if pg else None
        if line_items:
            rev = "sum(revenue)" if pg else "round(sum(revenue), 2)"
            cost = "sum(cost)" if pg else "round(sum(cost), 2)"
            cursor.execute(
                f"{insert} SELECT c.id, a.order_id, a.order_date, a.revenue, a.cost, %s FROM ("
                f"  SELECT order_id, min(customer_ext) AS customer_ext, min(order_date) AS order_date, {rev} AS revenue,"
                f"  CASE WHEN count(cost) = count(*) THEN {cost} END AS cost"
                f"  FROM {t} WHERE order_id <> '' GROUP BY order_id) a "
                "JOIN customers_customer c ON c.external_id = a.customer_ext"
                + (' ORDER BY a.order_id COLLATE "C"' if pg else ""),
                [job_id],
            )
            result.transactions_inserted = int(cursor.rowcount)
            only = "WHERE s.order_id = '' "
        else:
            only = ""  # one line per order: every staged line is a transaction
        # In order-id order the unique index on order ids grows at its right edge instead of at
        # random pages: a file in another order writes about 1.5x faster so (sorted: no cost).
        order = 'ORDER BY s.order_id COLLATE "C"' if pg and not line_items else ""
        cursor.execute(
            f"{insert} SELECT c.id, s.order_id, s.order_date, s.revenue, s.cost, %s FROM {t} s "
            f"JOIN customers_customer c ON c.external_id = s.customer_ext {only}{order}",
            [job_id],
        )
        result.transactions_inserted += int(cursor.rowcount)
        if aside is not None:
            aside.build(cursor)
            result.seconds_building_indexes = aside.seconds_building
    # A replaced order is counted as replaced, not as inserted.
    result.transactions_inserted -= result.transactions_replaced
    return result


def _month_of(column: str, pg: bool) -> str:
    if pg:
        return f"(EXTRACT(YEAR FROM {column})::int * 12 + EXTRACT(MONTH FROM {column})::int)"
    return f"(CAST(strftime('%%Y', {column}) AS INTEGER) * 12 + CAST(strftime('%%m', {column}) AS INTEGER))"


def referral_problems(*, connection: BaseDatabaseWrapper, stager: Stager) -> list[dict[str, Any]]:
    """The file's referrals that cannot count as things stand, after the write (METRICS.md,
    Referrals): `self` (a customer naming themself), `unknown` (no customer has that id yet) and
    `newer` (the referrer's first purchase is in a later month than the referred customer's,
    or the referrer has not bought yet), in that order (a list: jsonb keeps no key order). Per
    kind: the number of customers and a few examples (customer id, referred by). A referred customer who has not bought yet is not judged here.

    Nothing is refused: the recompute decides on the data as a whole (metrics.referrals), so a
    later file that adds the referrer or an earlier purchase makes the referral count."""
    t = stager.table
    pg = _is_pg(connection)
    judged = (
        f"WITH f AS (SELECT DISTINCT customer_ext FROM {t} WHERE referred_by <> ''), "
        "j AS (SELECT c.id, c.external_id, c.referred_by, r.id AS rid FROM customers_customer c "
        "JOIN f ON f.customer_ext = c.external_id LEFT JOIN customers_customer r ON r.external_id = c.referred_by "
        "WHERE c.referred_by <> ''), "
        "ids AS (SELECT id FROM j UNION SELECT rid FROM j WHERE rid IS NOT NULL), "
        f"fp AS (SELECT tx.customer_id, MIN({_month_of('tx.order_date', pg)}) AS m FROM customers_transaction tx "
        "JOIN ids ON ids.id = tx.customer_id WHERE tx.revenue >= 0 GROUP BY tx.customer_id), "
        "k AS (SELECT CASE WHEN j.rid = j.id THEN 'self' WHEN j.rid IS NULL THEN 'unknown' "
        "WHEN fc.m IS NOT NULL AND (fr.m IS NULL OR fr.m > fc.m) THEN 'newer' ELSE '' END AS kind, "
        "j.external_id, j.referred_by FROM j LEFT JOIN fp fc ON fc.customer_id = j.id "
        "LEFT JOIN fp fr ON fr.customer_id = j.rid) "
    )
    found: dict[str, dict[str, Any]] = {}
    with connection.cursor() as cursor:
        cursor.execute(judged + "SELECT kind, count(*) FROM k WHERE kind <> '' GROUP BY kind", [])
        for kind, count in cursor.fetchall():
            found[str(kind)] = {"customers": int(count), "examples": []}
        if found:
            cursor.execute(
                judged + ", n AS (SELECT kind, external_id, referred_by, ROW_NUMBER() OVER "
                "(PARTITION BY kind ORDER BY external_id) AS i FROM k WHERE kind <> '') "
                "SELECT kind, external_id, referred_by FROM n WHERE i <= %s ORDER BY kind, i",
                [REFERRAL_EXAMPLES],
            )
            for kind, external_id, referred_by in cursor.fetchall():
                found[str(kind)]["examples"].append([external_id, referred_by])
    return [{"kind": kind, **found[kind]} for kind in ("self", "unknown", "newer") if kind in found]


def customers_write(*, connection: BaseDatabaseWrapper, stager: Stager, attributes: tuple[str, ...]) -> WriteResult:
    result = WriteResult()
    result.rows_written = int(_one(connection, f"SELECT count(*) FROM {stager.table}") or 0)
    customers_upsert(connection=connection, stager=stager, attributes=attributes, result=result)
    return result


def costs_write(*, connection: BaseDatabaseWrapper, stager: Stager, job_id: int) -> WriteResult:
    """One cost entry per month, kind and segment; rows sharing that key in one file are summed,
    and a stored entry with the same key is replaced by the newer file's figure."""
    t = stager.table
    pg = _is_pg(connection)
    result = WriteResult()
    result.rows_written = int(_one(connection, f"SELECT count(*) FROM {t}") or 0)
    result.earliest = _as_date(_one(connection, f"SELECT min(month) FROM {t}"))
    result.costs_replaced = int(_one(
        connection,
        f"SELECT count(*) FROM (SELECT DISTINCT month, kind, segment_dimension, segment_value FROM {t}) s "
        "JOIN customers_costentry e ON e.month = s.month AND e.kind = s.kind "
        "AND e.segment_dimension = s.segment_dimension AND e.segment_value = s.segment_value",
    ) or 0)
    amount = "sum(amount)" if pg else "round(sum(amount), 2)"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_costentry (month, kind, amount, segment_dimension, segment_value, import_job_id) "
            f"SELECT month, kind, {amount}, segment_dimension, segment_value, %s FROM {t} WHERE true "
            "GROUP BY month, kind, segment_dimension, segment_value "
            "ON CONFLICT (month, kind, segment_dimension, segment_value) DO UPDATE SET amount = excluded.amount, "
            "import_job_id = excluded.import_job_id",
            [job_id],
        )
        result.costs_inserted = int(cursor.rowcount) - result.costs_replaced
    return result


def imports_lock(*, connection: BaseDatabaseWrapper) -> None:
    """Serialise the write step of concurrent imports (PostgreSQL; SQLite has one writer anyway)."""
    if _is_pg(connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('customers.import_write'))")


def foreign_key_checks_defer_to_the_join(*, connection: BaseDatabaseWrapper) -> bool:
    """Skip PostgreSQL's per-row foreign-key triggers for the rest of this transaction, when the
    database role may (a superuser; `SET LOCAL` ends with the transaction).

    Safe here because every customer_id written comes from a JOIN on customers_customer and
    the import_job_id is the job row locked by this transaction; the triggers would re-check
    each of a million rows one by one at commit, which costs as much as the insert itself."""
    if not _is_pg(connection):
        return False
    allowed = _one(connection, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if allowed:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    return bool(allowed)


def aggregation_memory_raise(*, connection: BaseDatabaseWrapper) -> None:
    """Let the GROUP BY over a million staged lines hash in memory instead of spilling to disk."""
    if _is_pg(connection):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
