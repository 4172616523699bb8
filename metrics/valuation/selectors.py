"""Reads of the customer-based valuation: the cohorts' first lapses (SQL), the new-customer series
and the trailing CAC (stored snapshots), the market value in force."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from django.db import connection
from django.db.models import Max, Min

from customers.models import SegmentDimension

from ..calculations import month_from_index, month_index
from ..models import (
    COMPANY,
    CustomerActivityState,
    CustomerValuation,
    MarketValue,
    MonthlySnapshot,
    RecomputeRun,
    ValuationLapseCount,
)
from ..selectors import _scope_expr, activity_state_as_of, month_expr

SEGMENT_COLUMNS = [f"s_{d}" for d in SegmentDimension.values]
# One row per scope (the company: dimension "company", value ""), cohort and first-lapse month.
LAPSE_COLUMNS = ["dimension", "value", "cohort", "lapse", "customers"]


def _per_scope(source: str) -> str:
    """Counts per scope, cohort and lapse of `source` (a CTE with the four s_ columns, cohort and
    lapse): the company and each dimension's values, summed in the database, so that what comes
    back is a few rows per scope, not one per combination of the four segment values (on
    1,000,000 customers over 200,000 rows, 150 MB in Python)."""
    parts = [f"SELECT '{COMPANY}' AS dimension, '' AS value, cohort, lapse, COUNT(*) AS n FROM {source} "
             "GROUP BY cohort, lapse"]
    parts += [f"SELECT '{d}', s_{d}, cohort, lapse, COUNT(*) FROM {source} GROUP BY s_{d}, cohort, lapse"
              for d in SegmentDimension.values]
    return " UNION ALL ".join(parts)


def _lapse_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=LAPSE_COLUMNS)
    return frame.astype({"dimension": "object", "value": "object", "cohort": "int64", "lapse": "int64",
                         "customers": "int64"})


def _first_interval_ends(purchases: str, *, into: str) -> str:
    """CTEs `g` and `into` (customer_id, cohort, lapse) over the CTE `purchases` (customer_id, m:
    their purchase months): months closer than W apart (%(w)s) chain, the first chain ends with
    the first month whose next is more than W later (or that has none), the lapse W after it."""
    return f"""g AS (
        SELECT customer_id, m,
               LEAD(m) OVER (PARTITION BY customer_id ORDER BY m) AS nxt,
               MIN(m) OVER (PARTITION BY customer_id) AS first_m
        FROM {purchases}
    ),
    {into} AS (
        SELECT customer_id, MIN(first_m) AS cohort, MIN(m) + %(w)s AS lapse
        FROM g WHERE nxt IS NULL OR nxt - m > %(w)s GROUP BY customer_id
    )"""


def _scoped(lapses: str) -> str:
    """CTE `s`: each customer's cohort and lapse (from CTE `lapses`) with their four segment values."""
    scopes = ", ".join(f"{_scope_expr(d)} AS s_{d}" for d in SegmentDimension.values)
    return f"""s AS (
        SELECT {lapses}.cohort, {lapses}.lapse, {scopes}
        FROM {lapses} JOIN customers_customer c ON c.id = {lapses}.customer_id
    )"""


def first_lapses(*, window: int, use_state: bool = True) -> pd.DataFrame:
    """Customers by scope (the company and each segment), first-purchase month and first-lapse
    month (month indexes).

    Purchase months closer than W months apart chain into one active interval (as the recompute's
    intervals do); the first interval ends with the first purchase month m whose next purchase
    month is more than W months later (or that has none), and the customer first lapses in m + W
    (which may lie beyond the data: not lapsed yet).

    With an activity state of the same W that is still valid (metrics.selectors: rebuilt by every
    full recompute), only the transactions from its month on are read (first_lapses_since);
    otherwise, or with use_state=False, one GROUP BY over the purchase months of every customer."""
    if use_state:
        as_of = activity_state_as_of(window=int(window))
        if as_of is not None:
            return first_lapses_since(as_of=as_of, window=window)
    month_t = month_expr("t.order_date")
    sql = f"""
    WITH p AS (
        SELECT t.customer_id, {month_t} AS m FROM customers_transaction t
        WHERE t.revenue >= 0 GROUP BY t.customer_id, {month_t}
    ),
    {_first_interval_ends("p", into="e")},
    {_scoped("e")}
    {_per_scope("s")}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"w": int(window)})
        return _lapse_frame(cursor.fetchall())


def first_lapses_since(*, as_of: int, window: int) -> pd.DataFrame:
    """first_lapses() from the activity state (each customer's first and last purchase month and
    first lapse month before month `as_of`, with W = `window`) and the transactions from `as_of`
    on: at 10,000,000 transactions over 36 months, a thirty-sixth of them instead of all.

    A customer whose first interval had ended before `as_of` keeps the state's lapse. One whose
    first interval was still running there (lapse = last purchase + W) and who bought since:
    their last purchase before `as_of` and the purchase months since chain as in first_lapses().
    A customer new since `as_of`: their purchase months since, on their own."""
    month_t = month_expr("t.order_date")
    state = CustomerActivityState._meta.db_table
    sql = f"""
    WITH n AS (
        SELECT t.customer_id, {month_t} AS m FROM customers_transaction t
        WHERE t.order_date >= %(since)s AND t.revenue >= 0 GROUP BY t.customer_id, {month_t}
    ),
    p AS (
        SELECT n.customer_id, n.m FROM n LEFT JOIN {state} st ON st.customer_id = n.customer_id
        WHERE st.customer_id IS NULL OR st.first_lapse_month = st.last_purchase_month + %(w)s
        UNION ALL
        SELECT st.customer_id, st.last_purchase_month FROM {state} st
        WHERE st.first_lapse_month = st.last_purchase_month + %(w)s
          AND st.customer_id IN (SELECT customer_id FROM n)
    ),
    {_first_interval_ends("p", into="r")},
    e AS (
        SELECT r.customer_id, COALESCE(st.first_purchase_month, r.cohort) AS cohort, r.lapse
        FROM r LEFT JOIN {state} st ON st.customer_id = r.customer_id
        UNION ALL
        SELECT st.customer_id, st.first_purchase_month, st.first_lapse_month FROM {state} st
        WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.customer_id = st.customer_id)
    ),
    {_scoped("e")}
    {_per_scope("s")}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"w": int(window), "since": month_from_index(int(as_of))})
        return _lapse_frame(cursor.fetchall())


def first_lapses_from_stage(*, iv: str, sc: str) -> pd.DataFrame:
    """first_lapses() read off a full recompute's stage tables (metrics.selectors.stage_build),
    which hold the same active intervals already: each customer's first interval [a, b] gives the
    cohort a (the first purchase month) and the first lapse b + 1 (b = the interval's last purchase
    month + W - 1). One GROUP BY over the intervals instead of a pass over every transaction; the
    caller makes sure the stage was built with the same W."""
    sql = f"""
    WITH e AS (SELECT customer_id, MIN(a) AS cohort, MIN(b) + 1 AS lapse FROM {iv} GROUP BY customer_id),
    s AS (SELECT e.cohort, e.lapse, {", ".join(f"sc.{c}" for c in SEGMENT_COLUMNS)}
          FROM e JOIN {sc} sc ON sc.customer_id = e.customer_id)
    {_per_scope("s")}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return _lapse_frame(cursor.fetchall())


def first_lapses_of_run(*, run: RecomputeRun) -> tuple[int, pd.DataFrame] | None:
    """(W, first lapses) from the stage tables of a full run while they are there (the recompute
    values before it drops them), or None: an incremental run's stage holds recent months only."""
    if run.from_month is not None or run.assumption_set is None or connection.vendor != "postgresql":
        return None
    iv, sc = (f"metrics_stage_{int(run.pk)}_{name}" for name in ("iv", "sc"))  # metrics.selectors.Stage.table
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL", [iv, sc])
        (present,) = cursor.fetchone()
    if not present:
        return None
    return int(run.assumption_set.activity_window_months), first_lapses_from_stage(iv=iv, sc=sc)


def lapse_counts_stored(*, window: int) -> pd.DataFrame | None:
    """The first lapses the last successful recompute stored (ValuationLapseCount), if they were
    counted with this W and after the snapshots were last written (a recompute whose valuation
    failed leaves older counts: not used); otherwise None."""
    latest = ValuationLapseCount.objects.filter(window=window).order_by("-computed_at").values_list(
        "computed_at", flat=True).first()
    written = MonthlySnapshot.objects.aggregate(at=Max("computed_at"))["at"]
    if latest is None or (written is not None and latest < written):
        return None
    rows = ValuationLapseCount.objects.filter(window=window, computed_at=latest).values_list(
        "scope_dimension", "scope_value", "cohort", "lapse", "customers")
    return _lapse_frame(list(rows))


def lapses_for(*, window: int) -> pd.DataFrame:
    """The first lapses for the pages (the Investor view, the board pack): the stored counts when
    they are current, otherwise first_lapses()."""
    stored = lapse_counts_stored(window=window)
    return stored if stored is not None else first_lapses(window=window)


def company_latest_window() -> int | None:
    """W of the assumptions behind the company's latest snapshot (the valuation's W)."""
    latest = (MonthlySnapshot.objects.filter(scope_dimension=COMPANY).select_related("assumption_set")
              .order_by("-month").first())
    return int(latest.assumption_set.activity_window_months) if latest is not None else None


def lapse_rows(frame: pd.DataFrame, *, dimension: str, value: str) -> list[tuple[int, int | None, int]]:
    """(cohort, lapse, customers) of one scope from first_lapses()."""
    frame = frame[(frame["dimension"] == dimension) & (frame["value"] == (value if dimension != COMPANY else ""))]
    grouped = frame.groupby(["cohort", "lapse"], as_index=False)["customers"].sum()
    return [(int(c), int(lapse), int(n)) for c, lapse, n in grouped.itertuples(index=False)]


@dataclass(frozen=True)
class ScopeSeries:
    """One scope's snapshots needed by the valuation, oldest month first."""

    months: list[dt.date]
    new_customers: list[int]
    acquisition_cost: list[float]
    latest: MonthlySnapshot | None


def scope_series(*, dimension: str, value: str, month_to: dt.date | None) -> ScopeSeries:
    qs = MonthlySnapshot.objects.filter(scope_dimension=dimension, scope_value=value if dimension != COMPANY else "")
    if month_to is not None:
        qs = qs.filter(month__lte=month_to)
    rows = list(qs.order_by("month").values_list("month", "new_customers", "acquisition_cost"))
    latest = qs.select_related("assumption_set").order_by("-month").first()
    return ScopeSeries(months=[r[0] for r in rows], new_customers=[int(r[1]) for r in rows],
                       acquisition_cost=[float(r[2]) for r in rows], latest=latest)


def data_months() -> tuple[int, int] | None:
    """First and latest month (indexes) of the company's snapshots: F and the latest t."""
    bounds = MonthlySnapshot.objects.filter(scope_dimension=COMPANY).aggregate(first=Min("month"), last=Max("month"))
    if bounds["first"] is None:
        return None
    return month_index(bounds["first"]), month_index(bounds["last"])


def segment_scopes(*, month: dt.date) -> list[tuple[str, str]]:
    """(dimension, value) of every segment with a snapshot in the month."""
    return list(
        MonthlySnapshot.objects.filter(month=month).exclude(scope_dimension=COMPANY)
        .order_by("scope_dimension", "scope_value").values_list("scope_dimension", "scope_value")
    )


def market_value_current() -> MarketValue | None:
    return MarketValue.objects.select_related("created_by").order_by("-version").first()


def market_value_history(*, limit: int = 10) -> list[MarketValue]:
    return list(MarketValue.objects.select_related("created_by").order_by("-version")[:limit])


def stored_valuations() -> list[CustomerValuation]:
    return list(CustomerValuation.objects.select_related("assumption_set").order_by("scope_dimension", "scope_value"))

