"""Reads of customer profitability: the SQL that allocates the cost entries to customers.

PostgreSQL, set-based (no customer-entry rows are ever formed):
1. `p_cm`: per customer and month <= t, purchases (revenue >= 0) and gross margin (GROUP BY).
2. `p_iv`: active intervals [a, b] (purchase months closer than W chain; b = last + W - 1, <= t).
3. `p_c`: every customer with their segment group g (the four scope values), first purchase
   month and margin to date; `p_g` the groups.
4. Each entry's reach: new customers (acquisition), active customers and their purchases
   (retention) summed over the groups it applies to; counts per group and month come from
   running sums of interval starts and ends.
5. Per group and month the share one customer takes: A (acquisition, per new customer), V (per
   active customer, equal shares) and U (per purchase); C = running sum of V over the months.
6. A customer's retention cost = sum over their intervals of C(b) - C(a - 1), plus their
   purchases x U in each month; acquisition cost = A at their first purchase month.
Shares are NUMERIC (exact to 18 decimals); each customer's totals are rounded half up once.
SQLite (the demo) reads the per customer-month rows and runs metrics.profitability.maths.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models.functions import Trim

from customers.models import UNASSIGNED, CostEntry, Customer
from metrics.calculations import month_from_index, month_index
from metrics.selectors import month_expr  # the recompute's month index of a date column

from .maths import DIMENSIONS, Allocation, active_months, allocate

ERROR_NOT_POSTGRES = "The set-based allocation needs PostgreSQL."
# Columns of a per-customer result, in the order of the exports.
RESULT_COLUMNS = [
    "customer_id", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated", "net_profit_to_date",
]
TEMP_TABLES = ["p_cm", "p_iv", "p_c", "p_g", "p_e", "p_gcm", "p_reach", "p_share", "p_cum", "p_cumk", "p_result", "p_gm"]


@dataclass(frozen=True)
class AllocationTotals:
    customers: int
    margin_to_date: Decimal
    acquisition_cost: Decimal
    retention_cost: Decimal
    acquisition_cost_allocated: Decimal
    retention_cost_allocated: Decimal
    acquisition_cost_unallocated: Decimal
    retention_cost_unallocated: Decimal
    net_profit_to_date: Decimal


@dataclass(frozen=True)
class StageGroups:
    """Tables of a single-pass full recompute's stage (metrics.selectors.STAGE_TABLES): the
    segment groups numbered (sg: g and the four values), each customer's group and first
    purchase month (cg), and per group and month the purchases, transactions and margin of the
    customer months (gmev). The allocation reads them instead of grouping the customers again."""

    sg: str
    cg: str
    gmev: str


def _scope(column: str) -> str:
    return f"COALESCE(NULLIF(TRIM({column}), ''), '{UNASSIGNED}')"


def customer_month_table() -> str:
    """The stored customer-month table (metrics.models.ProfitabilityCustomerMonth): columns
    customer_id, m, purchases, transactions, margin, as the stage's."""
    from metrics.models import ProfitabilityCustomerMonth

    return ProfitabilityCustomerMonth._meta.db_table


def cm_table(*, stage_cm: str | None, stored: bool) -> str:
    """The customer-month table the allocation reads: the stage's, the stored one, or p_cm."""
    if stage_cm:
        return stage_cm
    return customer_month_table() if stored else "p_cm"


def _reads(*, stage_cm: str | None, stage_iv: str | None, stored: bool = False) -> tuple[str, list[str]]:
    """The customer-month table to read and the statements that make p_iv (and p_cm)."""
    if stage_cm and stage_iv:
        return stage_cm, [
            f"""CREATE TEMP TABLE p_iv ON COMMIT DROP AS
            SELECT customer_id, a, LEAST(b, %(t)s) AS b FROM {stage_iv} WHERE a <= %(t)s""",
        ]
    month_t = month_expr("t.order_date")
    cm = cm_table(stage_cm=None, stored=stored)
    make_cm = [] if stored else [
        f"""CREATE TEMP TABLE p_cm ON COMMIT DROP AS
        SELECT t.customer_id, {month_t} AS m, SUM(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END) AS purchases,
               SUM(CASE WHEN t.cost IS NULL THEN t.revenue * %(rate)s ELSE t.revenue - t.cost END) AS margin
        FROM customers_transaction t WHERE t.order_date < %(before)s GROUP BY t.customer_id, {month_t}""",
    ]
    return cm, [
        *make_cm,
        f"""CREATE TEMP TABLE p_iv ON COMMIT DROP AS
        WITH gaps AS (
            SELECT customer_id, m, m - LAG(m) OVER (PARTITION BY customer_id ORDER BY m) AS gap
            FROM {cm} WHERE purchases > 0 AND m <= %(t)s
        ), islands AS (
            SELECT customer_id, m, SUM(CASE WHEN gap IS NULL OR gap > %(w)s THEN 1 ELSE 0 END)
                   OVER (PARTITION BY customer_id ORDER BY m ROWS UNBOUNDED PRECEDING) AS island
            FROM gaps
        )
        SELECT customer_id, MIN(m) AS a, LEAST(MAX(m) + %(w)s - 1, %(t)s) AS b FROM islands GROUP BY customer_id, island""",
    ]


def _groups_statements(*, cm: str, groups: StageGroups | None) -> list[str]:
    """The statements that make p_g (the segment groups), p_c (each customer's group, first
    purchase month and margin to the close of t) and p_gcm (per group and month: purchases and
    margin): from the stage's groups when given, otherwise from the customers and `cm`."""
    dims = ", ".join(f"s_{d}" for d in DIMENSIONS)
    if groups is not None:
        return [
            f"CREATE TEMP TABLE p_g ON COMMIT DROP AS SELECT g, {dims} FROM {groups.sg}",
            f"""CREATE TEMP TABLE p_c ON COMMIT DROP AS
            SELECT cg.customer_id, cg.g, CASE WHEN cg.first_m <= %(t)s THEN cg.first_m END AS first_m,
                   COALESCE(x.margin, 0) AS margin
            FROM {groups.cg} cg
            LEFT JOIN (SELECT customer_id, SUM(margin) AS margin FROM {cm} WHERE m <= %(t)s GROUP BY customer_id) x
                   ON x.customer_id = cg.customer_id""",
            # The rows of the groups and months that hold customer months (transactions > 0).
            f"""CREATE TEMP TABLE p_gcm ON COMMIT DROP AS
            SELECT g, m, purchases AS p, margin FROM {groups.gmev} WHERE transactions > 0 AND m <= %(t)s""",
        ]
    return [
        f"""CREATE TEMP TABLE p_g ON COMMIT DROP AS
        SELECT ROW_NUMBER() OVER () AS g, {dims} FROM (
            SELECT DISTINCT {", ".join(f"{_scope('c.' + d)} AS s_{d}" for d in DIMENSIONS)} FROM customers_customer c
        ) x""",
        f"""CREATE TEMP TABLE p_c ON COMMIT DROP AS
        SELECT c.id AS customer_id, g.g, x.first_m, COALESCE(x.margin, 0) AS margin
        FROM customers_customer c
        JOIN p_g g ON {" AND ".join(f"g.s_{d} = {_scope('c.' + d)}" for d in DIMENSIONS)}
        LEFT JOIN (SELECT customer_id, MIN(CASE WHEN purchases > 0 THEN m END) AS first_m, SUM(margin) AS margin
                   FROM {cm} WHERE m <= %(t)s GROUP BY customer_id) x ON x.customer_id = c.id""",
        # Per group and month: purchases and margin (one pass over the customer months, read
        # again by the monthly totals).
        f"""CREATE TEMP TABLE p_gcm ON COMMIT DROP AS
        SELECT c.g, cm.m, SUM(cm.purchases) AS p, SUM(cm.margin) AS margin
        FROM {cm} cm JOIN p_c c ON c.customer_id = cm.customer_id WHERE cm.m <= %(t)s GROUP BY c.g, cm.m""",
    ]


def allocation_build(*, cursor: Any, month: int, window: int, margin_rate: Decimal, driver: str,
                     stage_cm: str | None = None, stage_iv: str | None = None,
                     stage_groups: StageGroups | None = None, stored: bool = False) -> AllocationTotals:
    """Build the temporary table `p_result` (RESULT_COLUMNS, one row per customer) of the
    allocation to the close of `month` on PostgreSQL, in the caller's transaction (the tables
    are dropped at its commit), and return the totals.

    `stage_cm`, `stage_iv`: the customer-month and interval tables of a full recompute's stage
    (metrics.selectors.stage_build, same W and margin rate), read instead of the transactions;
    `stage_groups`: that stage's segment groups (StageGroups, a single pass's only);
    `stored`: read the stored customer-month table instead (metrics.profitability.services keeps
    it up to date with the margin rate given)."""
    if connection.vendor != "postgresql":
        raise ValueError(ERROR_NOT_POSTGRES)
    params: dict[str, Any] = {"t": month, "w": window, "rate": margin_rate, "before": month_from_index(month + 1),
                              "purchase": driver == "purchase"}
    applies = " OR ".join(f"(e.dimension = '{d}' AND g.s_{d} = e.value)" for d in DIMENSIONS)
    cm, reads = _reads(stage_cm=stage_cm, stage_iv=stage_iv, stored=stored)
    statements = [
        *reads,
        *_groups_statements(cm=cm, groups=stage_groups if stage_cm else None),
        f"""CREATE TEMP TABLE p_e ON COMMIT DROP AS
        SELECT ROW_NUMBER() OVER () AS e, {month_expr('ce.month')} AS m, ce.kind, ce.segment_dimension AS dimension,
               {_scope('ce.segment_value')} AS value, CAST(ce.amount AS NUMERIC(38, 18)) AS amount
        FROM customers_costentry ce WHERE ce.month < %(before)s""",
        # Per group and month: new customers, active customers (running sum of interval starts
        # and ends) and purchases; then each entry's reach over the groups it applies to.
        f"""CREATE TEMP TABLE p_reach ON COMMIT DROP AS
        WITH months AS (SELECT DISTINCT m FROM p_e),
        newc AS (SELECT g, first_m AS m, COUNT(*) AS n FROM p_c WHERE first_m IS NOT NULL GROUP BY g, first_m),
        ivg AS (SELECT c.g, iv.a, iv.b FROM p_iv iv JOIN p_c c ON c.customer_id = iv.customer_id),
        ev AS (SELECT g, a AS m, 1 AS d FROM ivg UNION ALL SELECT g, b + 1, -1 FROM ivg),
        evg AS (SELECT g, m, SUM(d) AS d FROM ev GROUP BY g, m),
        dense AS (
            SELECT g, m, SUM(d) AS d FROM (
                SELECT g, m, d FROM evg UNION ALL SELECT g.g, months.m, 0 FROM p_g g CROSS JOIN months
            ) x GROUP BY g, m
        ),
        act AS (SELECT g, m, SUM(d) OVER (PARTITION BY g ORDER BY m ROWS UNBOUNDED PRECEDING) AS n FROM dense),
        buys AS (SELECT g, m, p FROM p_gcm)
        SELECT e.e, g.g, e.m, e.kind, e.amount,
               CASE WHEN e.kind = 'acquisition' THEN COALESCE(newc.n, 0) ELSE COALESCE(act.n, 0) END AS n,
               CASE WHEN e.kind = 'acquisition' THEN 0 ELSE COALESCE(buys.p, 0) END AS p
        FROM p_e e JOIN p_g g ON (e.dimension = '' OR {applies})
        LEFT JOIN newc ON newc.g = g.g AND newc.m = e.m
        LEFT JOIN act ON act.g = g.g AND act.m = e.m
        LEFT JOIN buys ON buys.g = g.g AND buys.m = e.m""",
        """CREATE TEMP TABLE p_share ON COMMIT DROP AS
        WITH tot AS (SELECT e, SUM(n) AS n, SUM(p) AS p FROM p_reach GROUP BY e)
        SELECT r.g, r.m,
               SUM(CASE WHEN r.kind = 'acquisition' AND tot.n > 0 THEN r.amount / tot.n ELSE 0 END) AS a,
               SUM(CASE WHEN r.kind = 'retention' AND tot.n > 0 AND NOT (%(purchase)s AND tot.p > 0)
                        THEN r.amount / tot.n ELSE 0 END) AS v,
               SUM(CASE WHEN r.kind = 'retention' AND %(purchase)s AND tot.p > 0
                        THEN r.amount / tot.p ELSE 0 END) AS u
        FROM p_reach r JOIN tot ON tot.e = r.e GROUP BY r.g, r.m""",
        # C on a dense grid of months (from the month before the first interval or entry to t),
        # so that every interval bound finds its value by an equi-join.
        """CREATE TEMP TABLE p_cum ON COMMIT DROP AS
        WITH bounds AS (
            SELECT LEAST((SELECT MIN(a) FROM p_iv), (SELECT MIN(m) FROM p_e), %(t)s) - 1 AS lo
        ),
        grid AS (SELECT g.g, months.m FROM p_g g CROSS JOIN bounds
                 CROSS JOIN LATERAL generate_series(bounds.lo, %(t)s) AS months(m))
        SELECT grid.g, grid.m,
               SUM(COALESCE(s.v, 0)) OVER (PARTITION BY grid.g ORDER BY grid.m ROWS UNBOUNDED PRECEDING) AS c
        FROM grid LEFT JOIN p_share s ON s.g = grid.g AND s.m = grid.m""",
        # The grid's month key, one number per (group, month), so each bound is one hash join.
        """CREATE TEMP TABLE p_cumk ON COMMIT DROP AS
        SELECT g * 100000 + (m - (SELECT MIN(m) FROM p_cum)) AS k, c FROM p_cum""",
        # A customer's equal shares over an interval: C at its end less C before its start; their
        # per-purchase shares: purchases x U of each month they bought in.
        f"""CREATE TEMP TABLE p_result ON COMMIT DROP AS
        WITH base AS (SELECT MIN(m) AS m0 FROM p_cum),
        ivk AS (
            SELECT iv.customer_id, pc.g * 100000 + (iv.b - base.m0) AS hi, pc.g * 100000 + (iv.a - 1 - base.m0) AS lo
            FROM p_iv iv JOIN p_c pc ON pc.customer_id = iv.customer_id CROSS JOIN base
        ),
        ivc AS (
            SELECT ivk.customer_id, hi.c - lo.c AS r
            FROM ivk JOIN p_cumk hi ON hi.k = ivk.hi JOIN p_cumk lo ON lo.k = ivk.lo
        ),
        buyc AS (
            SELECT cm.customer_id, cm.purchases * s.u AS r
            FROM {cm} cm JOIN p_c pc ON pc.customer_id = cm.customer_id
            JOIN p_share s ON s.g = pc.g AND s.m = cm.m WHERE cm.purchases > 0 AND s.u <> 0 AND cm.m <= %(t)s
        ),
        ret AS (SELECT customer_id, SUM(r) AS r FROM (SELECT * FROM ivc UNION ALL SELECT * FROM buyc) x GROUP BY customer_id),
        rounded AS (
            SELECT pc.customer_id, ROUND(pc.margin, 2) AS margin_to_date,
                   ROUND(ROUND(COALESCE(s.a, 0), 10), 2) AS acquisition_cost_allocated,
                   ROUND(ROUND(COALESCE(ret.r, 0), 10), 2) AS retention_cost_allocated
            FROM p_c pc LEFT JOIN p_share s ON s.g = pc.g AND s.m = pc.first_m
            LEFT JOIN ret ON ret.customer_id = pc.customer_id
        )
        SELECT customer_id, margin_to_date, acquisition_cost_allocated, retention_cost_allocated,
               margin_to_date - acquisition_cost_allocated - retention_cost_allocated AS net_profit_to_date
        FROM rounded""",
    ]
    # As for the recompute's stage: poor row estimates of intermediate tables must not lead the
    # planner into nested loops over many rows; JIT does not pay off here.
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute("SET LOCAL work_mem = '256MB'")
    cursor.execute("SET LOCAL jit = off")
    for name in TEMP_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    for sql in statements:
        cursor.execute(sql, params)
        name = sql.split("CREATE TEMP TABLE ", 1)[1].split(" ", 1)[0]
        if name != "p_result":
            cursor.execute(f"ANALYZE {name}")
    cursor.execute(
        """SELECT (SELECT COUNT(*) FROM p_result), (SELECT COALESCE(SUM(margin_to_date), 0) FROM p_result),
                  (SELECT COALESCE(SUM(acquisition_cost_allocated), 0) FROM p_result),
                  (SELECT COALESCE(SUM(retention_cost_allocated), 0) FROM p_result),
                  (SELECT COALESCE(SUM(net_profit_to_date), 0) FROM p_result),
                  (SELECT COALESCE(SUM(amount), 0) FROM p_e WHERE kind = 'acquisition'),
                  (SELECT COALESCE(SUM(amount), 0) FROM p_e WHERE kind = 'retention')"""
    )
    n, margin, acq, ret, net, acq_cost, ret_cost = cursor.fetchone()
    cursor.execute(
        """SELECT e.kind, COALESCE(SUM(e.amount), 0) FROM p_e e
        WHERE NOT EXISTS (SELECT 1 FROM p_reach r WHERE r.e = e.e AND r.n > 0) GROUP BY e.kind"""
    )
    unallocated = {kind: Decimal(amount) for kind, amount in cursor.fetchall()}
    cent = Decimal("0.01")
    return AllocationTotals(
        customers=int(n), margin_to_date=Decimal(margin), acquisition_cost=Decimal(acq_cost).quantize(cent),
        retention_cost=Decimal(ret_cost).quantize(cent), acquisition_cost_allocated=Decimal(acq),
        retention_cost_allocated=Decimal(ret),
        acquisition_cost_unallocated=unallocated.get("acquisition", Decimal(0)).quantize(cent),
        retention_cost_unallocated=unallocated.get("retention", Decimal(0)).quantize(cent),
        net_profit_to_date=Decimal(net),
    )


def allocation_inputs(*, month: int, window: int, margin_rate: Decimal) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The plain inputs of metrics.profitability.maths.allocate to the close of `month`:
    (customers, activity, entries). Reads per customer-month rows (any database)."""
    customers, activity, entries, _margins = allocation_frames(month=month, window=window, margin_rate=margin_rate)
    return customers, activity, entries


def allocation_frames(*, month: int, window: int, margin_rate: Decimal) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                  pd.DataFrame, pd.DataFrame]:
    """allocation_inputs and the customer-month margins (customer_id, m, margin)."""
    month_t = month_expr("t.order_date")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT t.customer_id, {month_t} AS m, SUM(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END),
                       SUM(CASE WHEN t.cost IS NULL THEN t.revenue * %s ELSE t.revenue - t.cost END)
                FROM customers_transaction t WHERE t.order_date < %s GROUP BY t.customer_id, {month_t}""",
            [margin_rate, month_from_index(month + 1)],
        )
        rows = cursor.fetchall()
    cm = pd.DataFrame([(c, m, int(p), float(g)) for c, m, p, g in rows],
                      columns=["customer_id", "m", "purchases", "margin"])
    cm = cm.astype({"customer_id": "int64", "m": "int64", "purchases": "int64", "margin": "float64"})
    customers = pd.DataFrame(
        list(Customer.objects.values_list("id", *DIMENSIONS)), columns=["customer_id", *DIMENSIONS]
    ).astype({"customer_id": "int64"})
    for d in DIMENSIONS:
        customers[d] = customers[d].astype(str).str.strip().replace("", UNASSIGNED)
    per_customer = cm.groupby("customer_id").agg(margin=("margin", "sum"))
    first = cm.loc[cm["purchases"] > 0].groupby("customer_id").agg(first_m=("m", "min"))
    customers = customers.join(per_customer, on="customer_id").join(first, on="customer_id")
    customers["margin"] = customers["margin"].fillna(0.0)
    activity = active_months(purchases=cm[["customer_id", "m", "purchases"]], window=window, last_month=month)
    entries = pd.DataFrame(
        [
            (month_index(m), kind, dimension, (value or "").strip() or UNASSIGNED, float(amount))
            for m, kind, dimension, value, amount in CostEntry.objects.filter(month__lt=month_from_index(month + 1))
            .order_by("month", "kind", "segment_dimension", "segment_value")
            .values_list("month", "kind", "segment_dimension", "segment_value", "amount")
        ],
        columns=["m", "kind", "dimension", "value", "amount"],
    )
    return customers, activity, entries, cm[["customer_id", "m", "margin"]]


def allocation_compute(*, month: int, window: int, margin_rate: Decimal, driver: str) -> Allocation:
    """The allocation to the close of `month` by the pure maths (SQLite, and the reference)."""
    customers, activity, entries = allocation_inputs(month=month, window=window, margin_rate=margin_rate)
    return allocate(customers=customers, activity=activity, entries=entries, driver=driver)


# Columns of `export_customers` (and the customer rows of the API): METRICS.md's names.
PREDICTION_FIELDS = ["p_alive", "expected_purchases_12m", "expected_spend", "predicted_clv", "historic_margin", "tier"]
CUSTOMER_EXPORT_FIELDS = [
    "customer_id", "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
    "net_profit_to_date", "referrals_made", "referral_margin", *PREDICTION_FIELDS,
]
# A customer's stored figures: margin, acquisition, retention, net, referrals made, referral margin.
Figures = tuple[Decimal, Decimal, Decimal, Decimal, int, Decimal]
ERROR_SEGMENT = "--segment must be DIMENSION=VALUE with DIMENSION one of {choices} (for example region=North)."


def stored_profitability() -> tuple[int | None, dict[int, Figures]]:
    """The stored allocation (the recompute's, for the latest month): its month and, per customer
    pk, (margin, acquisition, retention, net, referrals made, referral margin)."""
    from metrics.models import CustomerProfitability

    rows = CustomerProfitability.objects.values_list(
        "customer_id", "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
        "net_profit_to_date", "referrals_made", "referral_margin",
    )
    month: int | None = None
    out: dict[int, Figures] = {}
    for cid, m, margin, acq, ret, net, made, referral_margin in rows.iterator(chunk_size=10_000):
        month = month_index(m)
        out[int(cid)] = (margin, acq, ret, net, int(made), referral_margin)
    return month, out


def _customers_of(*, dimension: str | None, value: str | None) -> Any:
    customers = Customer.objects.order_by("external_id", "pk")
    if dimension:
        # The scope of a value is its trimmed text; blank is the segment "unassigned".
        wanted = (value or "").strip()
        customers = customers.annotate(scope_value=Trim(dimension)).filter(
            scope_value="" if wanted == UNASSIGNED else wanted)
    return customers


def customer_rows_page(*, dimension: str | None, value: str | None, page: int,
                       page_size: int) -> tuple[int, int | None, list[dict[str, Any]]]:
    """One page of the customer rows (by customer id) with their stored profitability: (count of
    customers, the stored month or None, rows)."""
    from metrics.models import CustomerProfitability

    customers = _customers_of(dimension=dimension, value=value)
    count = customers.count()
    chosen = customers[(page - 1) * page_size: page * page_size]
    stored = CustomerProfitability.objects.filter(customer_id__in=[c.pk for c in chosen]).values_list(
        "customer_id", "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
        "net_profit_to_date", "referrals_made", "referral_margin")
    figures: dict[int, Figures] = {int(cid): (margin, acq, ret, net, int(made), referral_margin)
                                   for cid, _m, margin, acq, ret, net, made, referral_margin in stored}
    month_row = CustomerProfitability.objects.values_list("month", flat=True).first()
    month = month_index(month_row) if month_row else None
    rows = customer_export_rows(figures=figures, month=month, customers=chosen)
    return count, month, rows


def customer_export_rows(*, figures: dict[int, Figures], month: int | None,
                         dimension: str | None = None, value: str | None = None,
                         customers: Any = None) -> list[dict[str, Any]]:
    """One row per customer (of one segment when given, or of `customers`) with their
    profitability to `month` and their latest prediction (blank without one); money as
    decimal strings."""
    if customers is None:
        customers = _customers_of(dimension=dimension, value=value)
    values = customers.values_list(
        "id", "external_id", *(f"prediction__{field}" for field in PREDICTION_FIELDS)
    )
    zero: Figures = (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), 0, Decimal("0.00"))
    label = f"{month_from_index(month):%Y-%m}" if month is not None else None
    rows: list[dict[str, Any]] = []
    for pk, external_id, *prediction in values.iterator(chunk_size=10_000):
        margin, acq, ret, net, made, referral_margin = figures.get(int(pk), zero)
        row: dict[str, Any] = {"customer_id": external_id, "month": label, "margin_to_date": str(margin),
                               "acquisition_cost_allocated": str(acq), "retention_cost_allocated": str(ret),
                               "net_profit_to_date": str(net), "referrals_made": made,
                               "referral_margin": str(referral_margin)}
        for field, item in zip(PREDICTION_FIELDS, prediction, strict=True):
            row[field] = str(item) if isinstance(item, Decimal) else item
        rows.append(row)
    return rows


def profitability_queryset(*, dimension: str = "", value: str = "", tier: str = "") -> Any:
    """The stored per-customer profitability, of one segment (its trimmed value; "unassigned"
    for blank) and one prediction tier when given."""
    from metrics.models import CustomerProfitability

    qs = CustomerProfitability.objects.select_related("customer", "customer__prediction")
    if dimension in DIMENSIONS and value:
        wanted = value.strip()
        qs = qs.annotate(scope_value=Trim(f"customer__{dimension}")).filter(
            scope_value="" if wanted == UNASSIGNED else wanted)
    if tier:
        qs = qs.filter(customer__prediction__tier=tier)
    return qs


def profitability_totals() -> Any:
    from metrics.models import ProfitabilityTotals

    return ProfitabilityTotals.objects.select_related("assumption_set").first()


def segment_choices() -> list[tuple[str, str, str]]:
    """(dimension, scope value, label) of every segment among the customers: trimmed values, and
    "unassigned" where some customer has none."""
    from customers.models import SegmentDimension
    from metrics.board.selectors import value_label

    choices: list[tuple[str, str, str]] = []
    for dimension in SegmentDimension:
        values = (Customer.objects.annotate(scope_value=Trim(dimension.value)).values_list("scope_value", flat=True)
                  .distinct().order_by("scope_value")[:200])
        for value in values:
            scope = value or UNASSIGNED
            choices.append((dimension.value, scope, f"{dimension.label}: {value_label(scope)}"))
    return choices


def net_profit_for_tiers(*, month: int) -> pd.Series | None:
    """Each customer's stored net profit (float, indexed by customer pk) for the `unprofitable`
    tier: only once cost entries exist, and only when the stored figures run to `month` (the
    month of the fit's data date); None otherwise (the tier then follows the gross margin)."""
    from metrics.models import CustomerProfitability

    if not CostEntry.objects.exists():
        return None
    rows = CustomerProfitability.objects.filter(month=month_from_index(month)).values_list(
        "customer_id", "net_profit_to_date")
    values = dict(rows.iterator(chunk_size=10_000))
    if not values:
        return None
    return pd.Series({int(k): float(v) for k, v in values.items()}, dtype="float64")


@dataclass(frozen=True)
class CustomerMonthRow:
    month: Any  # the first day of the month (datetime.date)
    active: bool
    purchases: int
    margin: Decimal
    acquisition_cost: Decimal
    retention_cost: Decimal
    net_profit_to_date: Decimal


@dataclass(frozen=True)
class CustomerMonths:
    """One customer's allocated costs month by month to the stored month, computed now from
    their transactions and their segment group's stored shares, with their stored figures."""

    month: Any
    rows: list[CustomerMonthRow]
    margin_to_date: Decimal
    acquisition_cost_allocated: Decimal
    retention_cost_allocated: Decimal
    net_profit_to_date: Decimal
    # The stored figures of the customer (CustomerProfitability), None without them.
    stored: Any


def customer_profitability_months(*, customer: Customer) -> CustomerMonths | None:
    """The month-by-month allocation of one customer (the rules of METRICS.md, with the stored
    allocation's assumptions and shares; their rows only, never the whole allocation); None
    before the first allocation."""
    from metrics.models import CustomerProfitability, ProfitabilityShare, ProfitabilityTotals

    from .maths.months import customer_months, shares_lookup

    totals = ProfitabilityTotals.objects.select_related("assumption_set").first()
    if totals is None:
        return None
    last = month_index(totals.month)
    rate = Decimal(totals.assumption_set.default_gross_margin_rate)
    window = int(totals.assumption_set.activity_window_months)
    month_t = month_expr("t.order_date")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {month_t} AS m, SUM(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END),
                       SUM(CASE WHEN t.cost IS NULL THEN t.revenue * %s ELSE t.revenue - t.cost END)
                FROM customers_transaction t WHERE t.customer_id = %s AND t.order_date < %s GROUP BY m""",
            [rate, customer.pk, month_from_index(last + 1)],
        )
        months = {int(m): (int(p), Decimal(margin)) for m, p, margin in cursor.fetchall()}
    group = {d: (str(getattr(customer, d) or "").strip() or UNASSIGNED) for d in DIMENSIONS}
    shares = shares_lookup(ProfitabilityShare.objects.filter(**group).values_list(
        "month", "acquisition", "retention_equal", "retention_per_purchase"))
    rows = customer_months(months=months, window=window, last_month=last, shares=shares)
    stored = CustomerProfitability.objects.filter(customer=customer).first()
    end = rows[-1] if rows else None
    zero = Decimal("0.00")
    return CustomerMonths(
        month=totals.month,
        rows=[CustomerMonthRow(month=month_from_index(r.m), active=r.active, purchases=r.purchases, margin=r.margin,
                               acquisition_cost=r.acquisition_cost, retention_cost=r.retention_cost,
                               net_profit_to_date=r.net_profit_to_date) for r in rows],
        margin_to_date=end.margin_to_date if end else zero,
        acquisition_cost_allocated=end.acquisition_cost_to_date if end else zero,
        retention_cost_allocated=end.retention_cost_to_date if end else zero,
        net_profit_to_date=end.net_profit_to_date if end else zero,
        stored=stored,
    )


def profitability_month_series(*, dimension: str, value: str) -> list[dict[str, Any]]:
    """The stored monthly totals of one scope (the company: dimension "company", value ""), by month."""
    from metrics.models import ProfitabilityMonth

    rows = ProfitabilityMonth.objects.filter(scope_dimension=dimension, scope_value=value).order_by("month").values(
        "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated", "net_profit_to_date",
        "acquisition_cost_unallocated", "retention_cost_unallocated")
    return [dict(row) for row in rows]
