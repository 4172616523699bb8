"""Reads of the metrics app, including the SQL that aggregates transactions per customer-month.

The recompute never fetches transactions. One statement per segment dimension:
1. `cm`: one row per customer and month (GROUP BY): did they purchase (revenue >= 0), revenue,
   gross margin (revenue - cost; without a cost, revenue x the default margin rate).
2. `iv`: each customer's active intervals (window functions): purchase months closer than W
   months apart chain into one interval [first purchase, last purchase + W - 1].
3. Interval starts are new (the customer's first purchase month) or reactivated customers;
   interval ends (the month after) are churned customers; a running sum over the month
   series (generate_series on PostgreSQL, a recursive CTE on SQLite) gives customers_end.
4. The same intervals per first-purchase cohort give the cohort cells.
Only per scope-month (and scope-cohort-month) rows come back.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from customers.models import UNASSIGNED, CostEntry, SegmentDimension, Transaction

from .bulk import table_refilled
from .calculations import Assumptions, month_from_index, month_index
from .models import (
    COMPANY,
    AssumptionSet,
    CustomerActivityState,
    MonthlySnapshot,
    RecomputeRun,
    RecomputeState,
)
from .referrals.selectors import counted_referrals_select

# The scope groups a recompute works through: the company, then each segment dimension.
DIMENSIONS: list[str] = [COMPANY, *[d.value for d in SegmentDimension]]

ERROR_UNKNOWN_DIMENSION = "Unknown segment dimension {dimension!r}: use one of {choices}."

MONTH_COLUMNS = [
    "scope", "month", "new_customers", "reactivated_customers", "churned_customers",
    "customers_end", "revenue", "gross_margin", "referred_new_customers",
]
COHORT_COLUMNS = ["scope", "cohort_month", "month", "cohort_size", "active_customers", "purchasing_customers"]


@dataclass(frozen=True)
class DataRange:
    first_month: int
    last_month: int


@dataclass(frozen=True)
class DimensionAggregates:
    """What the database returns for one dimension: per scope-month counts and sums, per
    scope-cohort-month cells. Months are indexes; `months_from` is the first month whose
    counts are complete (earlier rows were only needed as history)."""

    months: pd.DataFrame
    cohorts: pd.DataFrame
    months_from: int


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def month_expr(column: str) -> str:
    if _is_postgres():
        # date_part (double precision) costs less than EXTRACT (NUMERIC since PostgreSQL 14): 15% of
        # the customer-month GROUP BY at 10,000,000 transactions. A date as a timestamp has no zone.
        return f"(date_part('year', ({column})::timestamp)::int * 12 + date_part('month', ({column})::timestamp)::int - 1)"
    return f"(CAST(strftime('%%Y', {column}) AS INTEGER) * 12 + CAST(strftime('%%m', {column}) AS INTEGER) - 1)"


def _scope_expr(dimension: str) -> str:
    if dimension == COMPANY:
        return "''"
    if dimension not in SegmentDimension.values:
        raise ValueError(ERROR_UNKNOWN_DIMENSION.format(dimension=dimension, choices=", ".join(DIMENSIONS)))
    return f"COALESCE(NULLIF(TRIM(c.{dimension}), ''), '{UNASSIGNED}')"


def assumptions_history() -> QuerySet[AssumptionSet]:
    return AssumptionSet.objects.select_related("created_by").order_by("-version")


def assumptions_values(*, assumption_set: AssumptionSet) -> Assumptions:
    return Assumptions(
        annual_discount_rate=float(assumption_set.annual_discount_rate),
        activity_window=int(assumption_set.activity_window_months),
        retention_source=str(assumption_set.retention_source),
        assumed_monthly_retention=float(assumption_set.assumed_monthly_retention),
        smoothing_window=int(assumption_set.smoothing_window_months),
        default_gross_margin_rate=float(assumption_set.default_gross_margin_rate),
        credibility_weight=int(assumption_set.credibility_weight),
    )


def transactions_month_range() -> DataRange | None:
    """The months of the first and the latest transaction (refunds included), or None."""
    bounds = Transaction.objects.aggregate(first=Min("order_date"), last=Max("order_date"))
    if bounds["first"] is None:
        return None
    return DataRange(first_month=month_index(bounds["first"]), last_month=month_index(bounds["last"]))


@dataclass(frozen=True)
class Stage:
    """The per-customer tables of one recompute run, built once and read by every scope group.

    `grid_from`: first month read; `keep_from`: first month whose counts are complete and
    returned; `history_from`/`history_to`: months whose counts are taken from the stored
    snapshots instead (an incremental run whose earlier months were computed with the same
    assumptions), or None."""

    run_id: int
    first_month: int
    last_month: int
    grid_from: int
    keep_from: int
    cohorts_from: int
    history: bool
    built_at: str = ""
    # With a valid CustomerActivityState: transactions are read from this month on only.
    state_as_of: int | None = None
    # Tells apart a second stage of the same run (the restatement basis: "b" + a version).
    label: str = ""

    def table(self, name: str) -> str:
        return f"metrics_stage_{int(self.run_id)}{_label(self.label)}_{name}"


def _label(label: str) -> str:
    if label and not label.isalnum():
        raise ValueError(f"stage label must be letters and digits: {label!r}")
    return label


# sg, cg, gmev: the segment groups (each combination of the four values, numbered within the
# table that built them: a partition's own), each customer's group and first purchase month, and
# mev by group number (the allocation of a single-pass full run reads them, metrics.profitability).
STAGE_TABLES = ["cm", "fp", "iv", "cust", "mev", "cev", "csz", "scp", "sc", "ref", "sg", "cg", "gmev"]


def tune_postgres(cursor: Any) -> None:
    # The row estimates of these intermediate tables are poor, which can make the planner pick
    # nested loops over hundreds of thousands of rows; hash and merge joins are always right here.
    # JIT compilation costs about a second and does not pay off on these plans.
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")


def stage_plan(*, run_id: int, assumptions: Assumptions, data_range: DataRange, from_month: int | None,
               history_available: bool, state_as_of: int | None = None) -> Stage:
    """Which months a run reads (see Stage).

    Full: everything. From a month f: activity at a month depends on the W months before it and
    smoothing on the L - 1 months before f; with the earlier months' counts stored (same
    assumption version) only transactions from f - W - 1 on are read, otherwise from f - L - W."""
    w, window = assumptions.activity_window, assumptions.smoothing_window
    first, last = data_range.first_month, data_range.last_month
    built_at = timezone.now().isoformat()
    if from_month is None or from_month <= first:
        return Stage(run_id, first, last, first, first, first, False, built_at)
    if history_available and state_as_of is not None and state_as_of <= from_month:
        grid_from = min(state_as_of, from_month - w - 1)
        return Stage(run_id, first, last, grid_from, from_month, from_month, True, built_at, state_as_of)
    if history_available and from_month - w - 1 > first:
        return Stage(run_id, first, last, from_month - w - 1, from_month, from_month, True, built_at)
    if from_month - window - w > first:
        return Stage(run_id, first, last, from_month - window - w, from_month - window, from_month, False, built_at)
    return Stage(run_id, first, last, first, first, from_month, False, built_at)


def stage_build(*, stage: Stage, assumptions: Assumptions, rebuild_state: bool = True) -> None:
    """Build the run's per-customer tables (one pass over the transactions):
    cm: customer, month, purchased, purchases, transactions, revenue, gross margin (GROUP BY;
    the customer profitability of a full run reads it too, metrics.profitability);
    fp: each customer's first purchase month; cust: customers with any transaction;
    iv: active intervals [a, b] (window functions: LAG, running SUM); sg, cg: the segment
    groups numbered and each customer's; then the pre-aggregates by the four segment values that
    the scope groups read (stage_statements).
    metrics.partitions builds the same tables in customer-hash partitions and sums them."""
    statements, params = stage_statements(stage=stage, assumptions=assumptions)
    stage_drop(run_id=stage.run_id, label=stage.label)
    with transaction.atomic(), connection.cursor() as cursor:
        if _is_postgres():
            tune_postgres(cursor)
        for sql in statements:
            cursor.execute(sql, params)
        stage_finish(cursor=cursor, stage=stage, rebuild_state=rebuild_state, window=assumptions.activity_window)


def stage_finish(*, cursor: Any, stage: Stage, rebuild_state: bool, window: int) -> None:
    """After the stage tables are built (in the same transaction): statistics for the planner,
    and the activity state that later incremental runs start from (a full run rebuilds it from
    cm and iv, with the activity window W of the run; a run that recomputed months the state
    covers invalidates it)."""
    if _is_postgres():
        for name in ("mev", "cev", "csz", "scp"):
            cursor.execute(f"ANALYZE {stage.table(name)}")
    truncated = stage.grid_from > stage.first_month
    if not rebuild_state:
        pass
    elif not truncated and stage.state_as_of is None:
        _activity_state_rebuild(cursor=cursor, cm=stage.table("cm"), iv=stage.table("iv"), as_of=stage.last_month,
                                window=window)
    elif stage.keep_from < _state_as_of():
        # Months the state covers may have changed: it is rebuilt by the next full recompute.
        RecomputeState.objects.all().delete()


def partition_filter(column: str, part: tuple[int, int] | None) -> str:
    """The SQL condition that keeps the customers of one customer-hash partition (part k of n:
    customer id modulo n equals k), or "TRUE" for all customers. Only on PostgreSQL."""
    if part is None:
        return "TRUE"
    k, n = part
    if not 0 <= k < n:
        raise ValueError(f"partition {k} of {n} does not exist")
    return f"MOD({column}, {int(n)}) = {int(k)}"


def stage_statements(*, stage: Stage, assumptions: Assumptions,
                     part: tuple[int, int] | None = None) -> tuple[list[str], dict[str, Any]]:
    """The statements that build a stage's tables, and their parameters. With `part` (k, n):
    the tables of the customers of partition k only (partition_filter), and without the
    referrals (a referral joins two customers, who may be in different partitions: the sum of
    the partitions adds them, metrics.partitions)."""
    unlogged = "UNLOGGED " if _is_postgres() else ""
    keep_t, keep_c, keep_s = (partition_filter(col, part) for col in ("t.customer_id", "c.id", "customer_id"))
    truncated = stage.grid_from > stage.first_month
    use_state = stage.state_as_of is not None
    month_t = month_expr("t.order_date")
    read_from = stage.state_as_of if use_state and stage.state_as_of is not None else stage.grid_from
    params: dict[str, Any] = {"rate": assumptions.default_gross_margin_rate, "w": assumptions.activity_window,
              "cutoff": month_from_index(read_from), "lp_from": stage.keep_from - assumptions.activity_window,
              "as_of": stage.last_month}
    cutoff = f"WHERE t.order_date >= %(cutoff)s AND {keep_t}" if truncated or use_state else f"WHERE {keep_t}"
    state = CustomerActivityState._meta.db_table
    cm, fp, iv, cust, mev, cev, csz, scp, sct, ref, sg, cg, gmev = (stage.table(n) for n in STAGE_TABLES)
    # The customer-month GROUP BY has about as many groups as rows (a customer buys in a month
    # once or twice): a hash aggregate spills most of them to disk and its parallel partial
    # states are merged again serially; sorting in the parallel workers and merging their sorted
    # output took half the time at 10,000,000 transactions (docs/scaling.md).
    no_hash, hash_back = (["SET LOCAL enable_hashagg = off"], ["RESET enable_hashagg"]) if _is_postgres() else ([], [])
    statements = [
        *no_hash,
        f"""CREATE {unlogged}TABLE {cm} AS
        SELECT t.customer_id, {month_t} AS m,
               MAX(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END) AS bought,
               SUM(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END) AS purchases,
               COUNT(*) AS transactions,
               SUM(t.revenue) AS revenue,
               SUM(CASE WHEN t.cost IS NULL THEN t.revenue * %(rate)s ELSE t.revenue - t.cost END) AS margin
        FROM customers_transaction t {cutoff}
        GROUP BY t.customer_id, {month_t}""",
        *hash_back,
    ]
    if use_state:
        statements += [
            f"""CREATE {unlogged}TABLE {fp} AS
            SELECT customer_id, MIN(first_m) AS first_m FROM (
                SELECT customer_id, first_purchase_month AS first_m FROM {state} WHERE {keep_s}
                UNION ALL
                SELECT customer_id, m FROM {cm} WHERE bought = 1
            ) x GROUP BY customer_id""",
        ]
        # Each customer's last purchase before the months read stands for all earlier ones: it is
        # the one that decides whether they are active (and in which interval) from then on.
        purchases = (f"SELECT customer_id, m FROM {cm} WHERE bought = 1 UNION ALL "
                     f"SELECT customer_id, last_purchase_month FROM {state} WHERE last_purchase_month >= %(lp_from)s "
                     f"AND {keep_s}")
    elif truncated:
        statements += [
            f"""CREATE {unlogged}TABLE {fp} AS
            SELECT t.customer_id, {month_expr('MIN(t.order_date)')} AS first_m
            FROM customers_transaction t WHERE t.revenue >= 0 AND {keep_t} GROUP BY t.customer_id""",
            # With stored history, scopes of customers outside the window come from the stored snapshots.
            f"CREATE {unlogged}TABLE {cust} AS SELECT DISTINCT customer_id FROM {cm}" if stage.history else
            f"CREATE {unlogged}TABLE {cust} AS SELECT DISTINCT t.customer_id FROM customers_transaction t WHERE {keep_t}",
        ]
    else:
        statements += [
            f"CREATE {unlogged}TABLE {fp} AS SELECT customer_id, MIN(m) AS first_m FROM {cm} WHERE bought = 1 GROUP BY customer_id",
            f"CREATE {unlogged}TABLE {cust} AS SELECT DISTINCT customer_id FROM {cm}",
        ]
    if not use_state:
        purchases = f"SELECT customer_id, m FROM {cm} WHERE bought = 1"
    statements.append(
        f"""CREATE {unlogged}TABLE {iv} AS
        WITH gaps AS (
            SELECT customer_id, m, m - LAG(m) OVER (PARTITION BY customer_id ORDER BY m) AS gap
            FROM ({purchases}) p
        ),
        islands AS (
            SELECT customer_id, m,
                   SUM(CASE WHEN gap IS NULL OR gap > %(w)s THEN 1 ELSE 0 END)
                       OVER (PARTITION BY customer_id ORDER BY m ROWS UNBOUNDED PRECEDING) AS island
            FROM gaps
        )
        SELECT customer_id, MIN(m) AS a, MAX(m) + %(w)s - 1 AS b FROM islands GROUP BY customer_id, island"""
    )
    if use_state:
        # Customers seen: those with transactions read, and those still active from before.
        statements.append(
            f"CREATE {unlogged}TABLE {cust} AS SELECT customer_id FROM {cm} UNION SELECT customer_id FROM {iv}"
        )
    # Pre-aggregate by the customers' four segment values at once: every scope group then sums
    # a few thousand rows instead of joining the customer-months again. The sums run over a
    # number per combination of the four values (sg; cg holds each customer's), and the values
    # are put back on the few thousand rows of the result: grouping millions of rows by four
    # strings cost more than the sums themselves.
    scope_cols = ", ".join(f"{_scope_expr(d)} AS s_{d}" for d in SegmentDimension.values)
    seg_cols = ", ".join(f"s_{d}" for d in SegmentDimension.values)
    sg_cols = ", ".join(f"sg.s_{d}" for d in SegmentDimension.values)
    same_group = " AND ".join(f"sg.s_{d} = sc.s_{d}" for d in SegmentDimension.values)
    # Each customer's four segment values, computed once.
    statements.append(
        f"CREATE {unlogged}TABLE {sct} AS SELECT c.id AS customer_id, {scope_cols} FROM customers_customer c WHERE {keep_c}"
    )
    statements += [
        f"""CREATE {unlogged}TABLE {sg} AS
        SELECT ROW_NUMBER() OVER (ORDER BY {seg_cols}) AS g, {seg_cols}
        FROM (SELECT DISTINCT {seg_cols} FROM {sct}) x""",
        f"""CREATE {unlogged}TABLE {cg} AS
        SELECT sc.customer_id, sg.g, fp.first_m
        FROM {sct} sc JOIN {sg} sg ON {same_group} LEFT JOIN {fp} fp ON fp.customer_id = sc.customer_id""",
    ]
    if _is_postgres():
        statements += [f"ANALYZE {sg}", f"ANALYZE {cg}"]
    # The referrals that count, on the data as a whole (fp holds every customer's first purchase
    # month whatever months are read): one event at the referred customer's first purchase month.
    if part is None:
        statements.append(f"CREATE {unlogged}TABLE {ref} AS {counted_referrals_select(first_months=fp)}")
    # Zeros of the customer-months' types: a branch of a UNION that needs its columns converted
    # keeps PostgreSQL from running the union in its parallel workers.
    zero_money, zero_count = "CAST(0 AS NUMERIC)", "CAST(0 AS BIGINT)"
    referral_events = "" if part is not None else f"""
            UNION ALL
            SELECT cg.g, r.m, 0, 0, 0, {zero_money}, {zero_money}, 1, {zero_count}, {zero_count}
            FROM {ref} r JOIN {cg} cg ON cg.customer_id = r.customer_id"""
    # Every customer with an interval has a first purchase month (cg.first_m is not null).
    # Not materialised on PostgreSQL: read twice, but each reading can run in the parallel workers.
    inline = " NOT MATERIALIZED" if _is_postgres() else ""
    ivs = (f"ivs AS{inline} (SELECT cg.g, cg.first_m, iv.a, iv.b FROM {iv} iv "
           f"JOIN {cg} cg ON cg.customer_id = iv.customer_id)")
    statements += [
        f"""CREATE {unlogged}TABLE {gmev} AS
        WITH {ivs},
        ev AS (
            SELECT g, a AS m, CASE WHEN a = first_m THEN 1 ELSE 0 END AS n_new,
                   CASE WHEN a = first_m THEN 0 ELSE 1 END AS n_react, 0 AS n_end,
                   {zero_money} AS revenue, {zero_money} AS margin, 0 AS n_ref, {zero_count} AS purchases,
                   {zero_count} AS transactions
            FROM ivs
            UNION ALL
            SELECT g, b + 1, 0, 0, 1, {zero_money}, {zero_money}, 0, {zero_count}, {zero_count}
            FROM ivs WHERE b + 1 <= %(last)s
            UNION ALL
            SELECT cg.g, cm.m, 0, 0, 0, cm.revenue, cm.margin, 0, cm.purchases, cm.transactions
            FROM {cm} cm JOIN {cg} cg ON cg.customer_id = cm.customer_id{referral_events}
        )
        SELECT g, m, SUM(n_new) AS n_new, SUM(n_react) AS n_react, SUM(n_end) AS n_end,
               SUM(revenue) AS revenue, SUM(margin) AS margin, SUM(n_ref) AS n_ref,
               SUM(purchases) AS purchases, SUM(transactions) AS transactions
        FROM ev GROUP BY g, m""",
        f"""CREATE {unlogged}TABLE {mev} AS
        SELECT {sg_cols}, x.m, x.n_new, x.n_react, x.n_end, x.revenue, x.margin, x.n_ref
        FROM {gmev} x JOIN {sg} sg ON sg.g = x.g""",
        f"""CREATE {unlogged}TABLE {cev} AS
        WITH {ivs},
        ev AS (
            SELECT g, first_m AS c, a AS m, 1 AS d, 0 AS buy FROM ivs
            UNION ALL
            SELECT g, first_m, b + 1, -1, 0 FROM ivs WHERE b + 1 <= %(last)s
            UNION ALL
            SELECT cg.g, cg.first_m, cm.m, 0, 1
            FROM {cm} cm JOIN {cg} cg ON cg.customer_id = cm.customer_id WHERE cm.bought = 1
        )
        SELECT {sg_cols}, x.c, x.m, x.d, x.buy
        FROM (SELECT g, c, m, SUM(d) AS d, SUM(buy) AS buy FROM ev GROUP BY g, c, m) x JOIN {sg} sg ON sg.g = x.g""",
        f"""CREATE {unlogged}TABLE {csz} AS
        SELECT {sg_cols}, x.c, x.n
        FROM (SELECT g, first_m AS c, COUNT(*) AS n FROM {cg} WHERE first_m IS NOT NULL GROUP BY g, first_m) x
        JOIN {sg} sg ON sg.g = x.g""",
        f"""CREATE {unlogged}TABLE {scp} AS
        SELECT {sg_cols} FROM {sg} sg
        WHERE sg.g IN (SELECT cg.g FROM {cg} cg JOIN {cust} cu ON cu.customer_id = cg.customer_id)""",
    ]
    params["last"] = stage.last_month
    return statements, params


def _state_as_of() -> int:
    state = RecomputeState.objects.first()
    return state.as_of_month if state else 10**6


def _activity_state_rebuild(*, cursor: Any, cm: str, iv: str, as_of: int, window: int) -> None:
    """Store each customer's first and last purchase month before `as_of` (the last month of
    the data), the month they first lapse in on those months (with W = `window`), and how many
    transactions those months hold, for later incremental runs.

    The first lapse comes from the run's intervals (iv, over every month): the first interval
    [a, b] ends with its last purchase month b - W + 1. If that is before `as_of`, the customer
    first lapses in b + 1 whatever the later months hold; otherwise the interval runs into
    `as_of`, and on the months before it ends with the last purchase before `as_of`: the lapse is
    that month + W. The smaller of the two is always the right one."""
    state = CustomerActivityState._meta.db_table
    if _is_postgres():
        # Two full recomputes at once take turns here (their DELETE and INSERT would collide).
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(b"clv-recompute:activity-state")])
    # On PostgreSQL the table is emptied and its key built after the rows (metrics.bulk): a DELETE
    # left every customer's old row dead for the next rebuild's key checks.
    with table_refilled(cursor=cursor, table=state, primary_key=True):
        cursor.execute(
            f"""INSERT INTO {state} (customer_id, first_purchase_month, last_purchase_month, first_lapse_month)
            SELECT s.customer_id, s.f, s.l, CASE WHEN e.b1 + 1 < s.l + %(w)s THEN e.b1 + 1 ELSE s.l + %(w)s END
            FROM (SELECT customer_id, MIN(m) AS f, MAX(m) AS l FROM {cm} WHERE bought = 1 AND m < %(as_of)s
                  GROUP BY customer_id) s
            JOIN (SELECT customer_id, MIN(b) AS b1 FROM {iv} GROUP BY customer_id) e ON e.customer_id = s.customer_id""",
            {"as_of": as_of, "w": int(window)},
        )
    RecomputeState.objects.all().delete()
    RecomputeState.objects.create(as_of_month=as_of, transactions_before=transactions_before(month=as_of),
                                  activity_window=int(window))


def transactions_before(*, month: int) -> int:
    return Transaction.objects.filter(order_date__lt=month_from_index(month)).count()


def activity_state_as_of(*, window: int | None = None) -> int | None:
    """The month before which CustomerActivityState is valid, or None (absent or out of date);
    with `window`, only if its first lapse months were computed with that activity window."""
    state = RecomputeState.objects.first()
    if state is None or (window is not None and state.activity_window != window):
        return None
    if transactions_before(month=state.as_of_month) != state.transactions_before:
        return None
    return state.as_of_month


def stage_drop(*, run_id: int, label: str | None = "") -> None:
    """Drop a run's stage tables: those of one label, or of every label with label=None."""
    labels = {label} if label is not None else {""} | set(stage_labels(run_id=run_id))
    names = [f"metrics_stage_{int(run_id)}{_label(each)}_{name}" for each in sorted(labels) for name in STAGE_TABLES]
    with connection.cursor() as cursor:
        views: set[str] = set()
        if _is_postgres():
            # A partitioned run's per-customer tables are views over its partitions' tables
            # (metrics.partitions): the views go first.
            cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'v' AND relname = ANY(%s)", [names])
            views = {row[0] for row in cursor.fetchall()}
        for name in sorted(views):
            cursor.execute(f"DROP VIEW IF EXISTS {name}")
        for name in names:
            if name not in views:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _stage_tables() -> list[tuple[int, str]]:
    """(run id, label) of every stage table left in the database."""
    found = []
    for table in connection.introspection.table_names():
        parts = table.split("_")
        if table.startswith("metrics_stage_") and len(parts) >= 4:
            digits = len(parts[2]) - len(parts[2].lstrip("0123456789"))
            if digits:
                found.append((int(parts[2][:digits]), parts[2][digits:]))
    return found


def stage_labels(*, run_id: int) -> list[str]:
    return sorted({label for rid, label in _stage_tables() if rid == run_id and label})


def stage_run_ids() -> list[int]:
    """Runs that have stage tables left (a crashed run leaves them)."""
    return sorted({rid for rid, _label in _stage_tables()})


def _aggregate_sql(*, dimension: str, stage: Stage, with_cohorts: bool = True) -> str:
    """Counts per scope and month, and cohort cells, of one scope group from the stage's
    pre-aggregates (running sums over the month series)."""
    if dimension != COMPANY and dimension not in SegmentDimension.values:
        raise ValueError(ERROR_UNKNOWN_DIMENSION.format(dimension=dimension, choices=", ".join(DIMENSIONS)))
    # A constant cannot be grouped by in PostgreSQL; CAST('' ...) is an expression it accepts.
    col = "CAST('' AS VARCHAR(100))" if dimension == COMPANY else f"s_{dimension}"
    mev, cev, csz, scp = (stage.table(n) for n in ["mev", "cev", "csz", "scp"])
    cohort_ctes = cohort_select = ""
    if with_cohorts:
        cohort_ctes = f""",
    cagg AS (SELECT {col} AS scope, c, m, SUM(d) AS d, SUM(buy) AS buy FROM {cev} GROUP BY {col}, c, m),
    csize AS (SELECT {col} AS scope, c, SUM(n) AS n FROM {csz} GROUP BY {col}, c),
    cgrid AS (
        SELECT csize.scope, csize.c, csize.n, months.m, COALESCE(cagg.d, 0) AS d, COALESCE(cagg.buy, 0) AS buy
        FROM csize JOIN months ON months.m >= csize.c
        LEFT JOIN cagg ON cagg.scope = csize.scope AND cagg.c = csize.c AND cagg.m = months.m
    ),
    cohort_rows AS (
        SELECT scope, c, m, n,
               SUM(d) OVER (PARTITION BY scope, c ORDER BY m ROWS UNBOUNDED PRECEDING) AS active, buy
        FROM cgrid
    )"""
        cohort_select = """UNION ALL
    SELECT 'c', scope, m, c, n, active, buy, 0, 0, 0, 0
    FROM cohort_rows WHERE m >= %(keep_cohorts_from)s"""
    if _is_postgres():
        series = "months(m) AS (SELECT generate_series(%(grid_from)s::int, %(last)s::int))"
    else:
        series = "months(m) AS (SELECT %(grid_from)s UNION ALL SELECT m + 1 FROM months WHERE m < %(last)s)"
    return f"""
    WITH RECURSIVE
    agg AS (
        SELECT {col} AS scope, m, SUM(n_new) AS n_new, SUM(n_react) AS n_react, SUM(n_end) AS n_end,
               SUM(revenue) AS revenue, SUM(margin) AS margin, SUM(n_ref) AS n_ref
        FROM {mev} GROUP BY {col}, m
    ),
    {series},
    scopes AS (SELECT DISTINCT {col} AS scope FROM {scp}),
    grid AS (
        SELECT scopes.scope, months.m,
               COALESCE(agg.n_new, 0) AS n_new, COALESCE(agg.n_react, 0) AS n_react,
               COALESCE(agg.n_end, 0) AS n_end,
               COALESCE(agg.revenue, 0) AS revenue, COALESCE(agg.margin, 0) AS margin,
               COALESCE(agg.n_ref, 0) AS n_ref
        FROM scopes CROSS JOIN months
        LEFT JOIN agg ON agg.scope = scopes.scope AND agg.m = months.m
    ),
    month_rows AS (
        SELECT scope, m, n_new, n_react, n_end,
               SUM(n_new + n_react - n_end) OVER (PARTITION BY scope ORDER BY m ROWS UNBOUNDED PRECEDING) AS n_active,
               revenue, margin, n_ref
        FROM grid
    ){cohort_ctes}
    SELECT 'm', scope, m, NULL, n_new, n_react, n_end, n_active, revenue, margin, n_ref
    FROM month_rows WHERE m >= %(keep_from)s
    {cohort_select}
    """


def dimension_aggregates(*, dimension: str, stage: Stage, with_cohorts: bool = True) -> DimensionAggregates:
    """Per scope-month and per scope-cohort-month rows of one dimension, from the run's stage
    (`with_cohorts` False: the month rows only)."""
    params: dict[str, Any] = {
        "last": stage.last_month,
        "grid_from": stage.grid_from,
        "keep_from": stage.keep_from,
        "keep_cohorts_from": stage.cohorts_from,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        if _is_postgres():
            tune_postgres(cursor)
        cursor.execute(_aggregate_sql(dimension=dimension, stage=stage, with_cohorts=with_cohorts), params)
        rows = cursor.fetchall()
    month_rows = [r[1:3] + r[4:] for r in rows if r[0] == "m"]
    cohort_rows = [(r[1], r[3], r[2], r[4], r[5], r[6]) for r in rows if r[0] == "c"]
    months = pd.DataFrame(month_rows, columns=MONTH_COLUMNS)
    months = months.astype(
        {"month": "int64", "new_customers": "int64", "reactivated_customers": "int64",
         "churned_customers": "int64", "customers_end": "int64", "revenue": "float64", "gross_margin": "float64",
         "referred_new_customers": "int64"}
    )
    cohorts = pd.DataFrame(cohort_rows, columns=COHORT_COLUMNS).astype(
        {"cohort_month": "int64", "month": "int64", "cohort_size": "int64", "active_customers": "int64",
         "purchasing_customers": "int64"}
    )
    return DimensionAggregates(months=months, cohorts=cohorts, months_from=stage.keep_from)


def snapshot_history(*, dimension: str, month_from: int, month_to: int) -> pd.DataFrame:
    """Stored counts and margins of a scope group's months (the history of an incremental run)."""
    rows = MonthlySnapshot.objects.filter(
        scope_dimension=dimension, month__gte=month_from_index(month_from), month__lte=month_from_index(month_to)
    ).values_list("scope_value", "month", "new_customers", "reactivated_customers", "churned_customers",
                  "customers_end", "revenue", "gross_margin", "referred_new_customers")
    frame = pd.DataFrame(
        [(s, month_index(m), n, r, c, e, float(rev), float(gm), ref) for s, m, n, r, c, e, rev, gm, ref in rows],
        columns=MONTH_COLUMNS,
    )
    return frame


def stored_scopes(*, dimension: str, month: int) -> set[str]:
    return set(MonthlySnapshot.objects.filter(scope_dimension=dimension, month=month_from_index(month))
               .values_list("scope_value", flat=True))


def history_available(*, assumption_set_id: int, month_from: int, month_to: int) -> bool:
    """Whether the company's snapshots of those months exist, all with these assumptions."""
    if month_to < month_from:
        return True
    qs = MonthlySnapshot.objects.filter(
        scope_dimension=COMPANY, month__gte=month_from_index(month_from), month__lte=month_from_index(month_to)
    )
    return qs.count() == month_to - month_from + 1 and not qs.exclude(assumption_set_id=assumption_set_id).exists()


def cost_entries_by_scope(
    *, dimension: str, first_month: int, last_month: int
) -> tuple[dict[tuple[str, int, str], int], dict[tuple[int, str], int]]:
    """Cost entries of the months as cents: (tagged with this dimension by (scope, month, kind),
    untagged by (month, kind)). For the company every entry counts as untagged-for-the-company:
    it is returned under the scope ''."""
    entries = CostEntry.objects.filter(
        month__gte=month_from_index(first_month), month__lte=month_from_index(last_month)
    ).values_list("month", "kind", "amount", "segment_dimension", "segment_value")
    tagged: dict[tuple[str, int, str], int] = {}
    untagged: dict[tuple[int, str], int] = {}
    for month, kind, amount, entry_dimension, value in entries:
        cents = int((amount * 100).to_integral_value())
        m = month_index(month)
        if dimension == COMPANY:
            key = ("", m, kind)
            tagged[key] = tagged.get(key, 0) + cents
        elif not entry_dimension:
            untagged[(m, kind)] = untagged.get((m, kind), 0) + cents
        elif entry_dimension == dimension:
            scope = (value or "").strip() or UNASSIGNED
            key = (scope, m, kind)
            tagged[key] = tagged.get(key, 0) + cents
    return tagged, untagged


def cost_scopes(*, dimension: str, first_month: int, last_month: int) -> set[str]:
    """Values that cost entries of the data's months are tagged with, for one dimension."""
    if dimension == COMPANY:
        return set()
    values = CostEntry.objects.filter(
        segment_dimension=dimension, month__gte=month_from_index(first_month), month__lte=month_from_index(last_month)
    ).values_list("segment_value", flat=True).distinct()
    return {(v or "").strip() or UNASSIGNED for v in values}


def snapshots_for_scope(
    *, dimension: str = COMPANY, value: str = "", month_from: dt.date | None = None, month_to: dt.date | None = None
) -> QuerySet[MonthlySnapshot]:
    qs = MonthlySnapshot.objects.filter(scope_dimension=dimension, scope_value=value if dimension != COMPANY else "")
    if month_from:
        qs = qs.filter(month__gte=month_from)
    if month_to:
        qs = qs.filter(month__lte=month_to)
    return qs.select_related("assumption_set").order_by("month")


def snapshots_list(
    *, dimension: str | None = None, value: str | None = None,
    month_from: dt.date | None = None, month_to: dt.date | None = None,
) -> QuerySet[MonthlySnapshot]:
    """Snapshots filtered by scope and months; dimension None means the company."""
    qs = MonthlySnapshot.objects.select_related("assumption_set")
    qs = qs.filter(scope_dimension=dimension or COMPANY)
    if value is not None and dimension not in (None, COMPANY):
        qs = qs.filter(scope_value=value)
    if month_from:
        qs = qs.filter(month__gte=month_from)
    if month_to:
        qs = qs.filter(month__lte=month_to)
    return qs.order_by("scope_dimension", "scope_value", "month")


def snapshot_window(*, snapshot: MonthlySnapshot, months: int) -> list[MonthlySnapshot]:
    """The scope's snapshots of the `months` months ending at the snapshot's month."""
    index = month_index(snapshot.month)
    return list(
        MonthlySnapshot.objects.filter(
            scope_dimension=snapshot.scope_dimension,
            scope_value=snapshot.scope_value,
            month__gte=month_from_index(index - months + 1),
            month__lte=snapshot.month,
        ).order_by("month")
    )


def snapshots_first_month() -> dt.date | None:
    return MonthlySnapshot.objects.filter(scope_dimension=COMPANY).aggregate(first=Min("month"))["first"]


def recompute_runs_recent(*, limit: int = 10) -> QuerySet[RecomputeRun]:
    return RecomputeRun.objects.select_related("assumption_set").order_by("-created_at", "-pk")[:limit]


# Column order of the export and the API: METRICS.md's metric names.
EXPORT_FIELDS = [
    "month", "scope_dimension", "scope_value",
    "customers_start", "customers_end", "new_customers", "retained_customers", "reactivated_customers",
    "churned_customers", "monthly_retention", "revenue", "gross_margin", "retention_rate", "retention_source",
    "retention_exposure", "margin_per_customer", "clv", "customer_equity", "acquisition_cost", "retention_cost",
    "acquisition_equity", "retention_equity", "cac", "clv_to_cac",
    "referred_new_customers", "referral_share", "referral_rate", "referral_equity", "assumption_version",
]
# Of a closed month only: the published figures and the restatement since (metrics.closing).
CLOSED_MONTH_FIELDS = ["published", "restatement"]


def snapshot_row(snapshot: MonthlySnapshot) -> dict[str, Any]:
    """One snapshot as plain values: month as YYYY-MM, money as decimal strings (exact cents)."""
    row: dict[str, Any] = {}
    for field in EXPORT_FIELDS:
        if field == "month":
            row[field] = f"{snapshot.month:%Y-%m}"
        elif field == "assumption_version":
            row[field] = snapshot.assumption_set.version
        else:
            value = getattr(snapshot, field)
            row[field] = str(value) if hasattr(value, "quantize") else value
    return row


def api_token_user(*, key: str) -> Any:
    """The user of an active API token, or None."""
    import hashlib

    from .models import ApiToken

    token = ApiToken.objects.select_related("user").filter(
        key_hash=hashlib.sha256(key.encode()).hexdigest(), revoked=False, user__is_active=True
    ).first()
    return token
