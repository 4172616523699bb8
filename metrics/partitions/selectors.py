"""SQL of the partitioned stage: one partition's tables, and their sum (see the package's
docstring). PostgreSQL only: the embedded SQLite default always runs the single pass."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import connection, transaction

from customers.models import SegmentDimension
from metrics.calculations import Assumptions
from metrics.referrals.selectors import counted_referrals_select
from metrics.selectors import Stage, stage_drop, stage_finish, stage_statements, tune_postgres

# Per-customer tables: the whole is the union of the partitions' rows (a view).
CUSTOMER_TABLES = ["cm", "fp", "cust", "iv", "sc"]
ERROR_PARTITIONS = "A recompute in {parts} partitions needs PostgreSQL (the embedded SQLite database runs one pass)."


def partition_label(*, stage: Stage, part: int) -> str:
    return f"{stage.label}p{int(part)}"


def partition_stage(*, stage: Stage, part: int) -> Stage:
    """The stage of partition `part`: the same months, its own tables."""
    return dataclasses.replace(stage, label=partition_label(stage=stage, part=part))


def check_partitions(parts: int) -> None:
    if parts < 1:
        raise ValueError(f"CLV_RECOMPUTE_PARTITIONS (the partitions of a recompute) must be 1 or more, not {parts}")
    if parts > 1 and connection.vendor != "postgresql":
        raise ValueError(ERROR_PARTITIONS.format(parts=parts))


def stage_combined(*, stage: Stage) -> bool:
    """True when the partitions of this stage have been summed already."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [stage.table("mev")])
        (present,) = cursor.fetchone()
    return bool(present)


def stage_build_partition(*, stage: Stage, assumptions: Assumptions, part: int, parts: int) -> None:
    """Build the tables of one partition's customers, in one transaction: a rerun (a retried or
    redelivered task) replaces them."""
    check_partitions(parts)
    own = partition_stage(stage=stage, part=part)
    statements, params = stage_statements(stage=own, assumptions=assumptions, part=(part, parts))
    with transaction.atomic(), connection.cursor() as cursor:
        stage_drop(run_id=stage.run_id, label=own.label)
        tune_postgres(cursor)
        for sql in statements:
            cursor.execute(sql, params)


def _sum_statements(*, stage: Stage, parts: int) -> list[str]:
    tables = [partition_stage(stage=stage, part=k) for k in range(parts)]

    def union(name: str) -> str:
        return "\n            UNION ALL ".join(f"SELECT * FROM {each.table(name)}" for each in tables)

    groups = ", ".join(f"s_{d}" for d in SegmentDimension.values)
    sc_groups = ", ".join(f"sc.s_{d}" for d in SegmentDimension.values)
    fp, sc, ref = stage.table("fp"), stage.table("sc"), stage.table("ref")
    statements = [f"CREATE VIEW {stage.table(name)} AS {union(name)}" for name in CUSTOMER_TABLES]
    statements += [
        # The referrals on the whole: the referrer and the referred may be in different partitions.
        f"CREATE UNLOGGED TABLE {ref} AS {counted_referrals_select(first_months=fp)}",
        # Sums keep the single pass's types (a SUM of bigint would be NUMERIC).
        f"""CREATE UNLOGGED TABLE {stage.table('mev')} AS
        SELECT {groups}, m, SUM(n_new)::bigint AS n_new, SUM(n_react)::bigint AS n_react,
               SUM(n_end)::bigint AS n_end, SUM(revenue) AS revenue, SUM(margin) AS margin,
               SUM(n_ref)::bigint AS n_ref
        FROM ({union('mev')}
            UNION ALL SELECT {sc_groups}, r.m, 0, 0, 0, 0, 0, 1 FROM {ref} r JOIN {sc} sc ON sc.customer_id = r.customer_id
        ) parts
        GROUP BY {groups}, m""",
        f"""CREATE UNLOGGED TABLE {stage.table('cev')} AS
        SELECT {groups}, c, m, SUM(d)::bigint AS d, SUM(buy)::bigint AS buy
        FROM ({union('cev')}) parts GROUP BY {groups}, c, m""",
        f"""CREATE UNLOGGED TABLE {stage.table('csz')} AS
        SELECT {groups}, c, SUM(n)::bigint AS n FROM ({union('csz')}) parts GROUP BY {groups}, c""",
        f"CREATE UNLOGGED TABLE {stage.table('scp')} AS SELECT DISTINCT * FROM ({union('scp')}) parts",
    ]
    return statements


def stage_combine(*, stage: Stage, parts: int, window: int, rebuild_state: bool = True) -> None:
    """Sum the partitions into the run's stage, in one transaction (a rerun replaces it): the
    scope groups, the profitability and the valuation then read it as a single pass's."""
    check_partitions(parts)
    with transaction.atomic(), connection.cursor() as cursor:
        stage_drop(run_id=stage.run_id, label=stage.label)
        tune_postgres(cursor)
        for sql in _sum_statements(stage=stage, parts=parts):
            cursor.execute(sql)
        stage_finish(cursor=cursor, stage=stage, rebuild_state=rebuild_state, window=window)


def partition_sizes(*, stage: Stage, parts: int) -> list[dict[str, Any]]:
    """Customers and customer-months in each partition (for the benchmark's report)."""
    sizes = []
    with connection.cursor() as cursor:
        for k in range(parts):
            own = partition_stage(stage=stage, part=k)
            cursor.execute(f"SELECT (SELECT COUNT(*) FROM {own.table('sc')}), (SELECT COUNT(*) FROM {own.table('cm')})")
            customers, months = cursor.fetchone()
            sizes.append({"partition": k, "customers": customers, "customer_months": months})
    return sizes
