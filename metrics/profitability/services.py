"""Writes of customer profitability: the per-customer figures the recompute stores."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from metrics.bulk import table_refilled
from metrics.calculations import month_from_index, month_index
from metrics.models import (
    COMPANY,
    AssumptionSet,
    CustomerProfitability,
    ProfitabilityCustomerMonth,
    ProfitabilityMonth,
    ProfitabilityShare,
    ProfitabilityTotals,
    RecomputeRun,
)
from metrics.referrals.selectors import (
    REFERRAL_COLUMNS,
    referrals_per_customer_frame,
    referrals_per_customer_select,
)

from .maths import DIMENSIONS
from .maths.months import TOTAL_COLUMNS, group_shares, money, monthly_totals
from .selectors import (
    RESULT_COLUMNS,
    AllocationTotals,
    StageGroups,
    allocation_build,
    allocation_compute,
    allocation_frames,
    customer_month_table,
    month_expr,
)

logger = logging.getLogger(__name__)

ERROR_NO_DATA = "There are no transactions up to {month}: nothing to allocate."


def _totals_from(frame: pd.DataFrame, *, spent_acquisition: float, spent_retention: float,
                 unallocated_acquisition: float, unallocated_retention: float) -> AllocationTotals:
    cent = Decimal("0.01")

    def money(value: float) -> Decimal:
        return Decimal(repr(round(value, 8))).quantize(cent)

    return AllocationTotals(
        customers=len(frame),
        margin_to_date=sum(frame["margin_to_date"], Decimal(0)),
        acquisition_cost=money(spent_acquisition), retention_cost=money(spent_retention),
        acquisition_cost_allocated=sum(frame["acquisition_cost_allocated"], Decimal(0)),
        retention_cost_allocated=sum(frame["retention_cost_allocated"], Decimal(0)),
        acquisition_cost_unallocated=money(unallocated_acquisition),
        retention_cost_unallocated=money(unallocated_retention),
        net_profit_to_date=sum(frame["net_profit_to_date"], Decimal(0)),
    )


def profitability_rows(*, month: int, assumption_set: AssumptionSet) -> tuple[pd.DataFrame, AllocationTotals]:
    """Every customer's profitability to the close of `month` (RESULT_COLUMNS, Decimal cents),
    computed now and stored nowhere, with the totals: set-based SQL on PostgreSQL, the pure
    maths elsewhere."""
    window = int(assumption_set.activity_window_months)
    rate = Decimal(assumption_set.default_gross_margin_rate)
    driver = str(assumption_set.cost_to_serve_driver)
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            totals = allocation_build(cursor=cursor, month=month, window=window, margin_rate=rate, driver=driver)
            cursor.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM p_result ORDER BY customer_id")
            frame = pd.DataFrame(cursor.fetchall(), columns=RESULT_COLUMNS)
            cursor.execute(referrals_per_customer_select(first_months="p_c", margins="p_result"))
            referrals = pd.DataFrame(cursor.fetchall(), columns=["referrer_id", *REFERRAL_COLUMNS])
        return _with_referrals(frame, referrals), totals
    allocation = allocation_compute(month=month, window=window, margin_rate=rate, driver=driver)
    frame = allocation.customers.sort_values("customer_id").reset_index(drop=True)
    referrals = referrals_per_customer_frame(
        month=month, margins=dict(zip(frame["customer_id"].astype(int), frame["margin_to_date"], strict=True)))
    frame = _with_referrals(frame, referrals)
    return frame, _totals_from(
        frame, spent_acquisition=allocation.acquisition_cost, spent_retention=allocation.retention_cost,
        unallocated_acquisition=allocation.acquisition_unallocated,
        unallocated_retention=allocation.retention_unallocated,
    )


def _with_referrals(frame: pd.DataFrame, referrals: pd.DataFrame) -> pd.DataFrame:
    """The allocation's rows with referrals_made and referral_margin (0 for a customer nobody
    they named counts for)."""
    made = dict(zip(referrals["referrer_id"].astype(int), referrals["referrals_made"].astype(int), strict=True))
    margin = dict(zip(referrals["referrer_id"].astype(int), referrals["referral_margin"], strict=True))
    out = frame.copy()
    ids = out["customer_id"].astype(int).tolist()
    out["referrals_made"] = [made.get(pk, 0) for pk in ids]
    out["referral_margin"] = [Decimal(margin[pk]).quantize(Decimal("0.01")) if pk in margin else Decimal("0.00")
                              for pk in ids]
    return out


def _totals_store(*, totals: AllocationTotals, month: int, assumption_set: AssumptionSet,
                  computed_at: dt.datetime) -> None:
    from metrics.models import CustomerProfitability

    from .maths import whale_curve

    # The stored rows, just written in this transaction (a float each: 100,000 in a few tenths of a second).
    curve = whale_curve([float(v) for v in CustomerProfitability.objects.values_list("net_profit_to_date", flat=True)
                         .iterator(chunk_size=20_000)])
    ProfitabilityTotals.objects.all().delete()
    ProfitabilityTotals.objects.create(
        month=month_from_index(month), cost_to_serve_driver=assumption_set.cost_to_serve_driver,
        customers=totals.customers, margin_to_date=totals.margin_to_date,
        acquisition_cost=totals.acquisition_cost, retention_cost=totals.retention_cost,
        acquisition_cost_allocated=totals.acquisition_cost_allocated,
        retention_cost_allocated=totals.retention_cost_allocated,
        acquisition_cost_unallocated=totals.acquisition_cost_unallocated,
        retention_cost_unallocated=totals.retention_cost_unallocated,
        net_profit_to_date=totals.net_profit_to_date, assumption_set=assumption_set, computed_at=computed_at,
        whale_peak=curve.peak, whale_peak_share=curve.peak_share, loss_making_customers=curve.loss_making_customers,
        loss=Decimal(repr(round(curve.loss, 2))).quantize(Decimal("0.01")),
    )


def _customer_months_refresh(*, cursor: Any, month: int, margin_rate: Decimal, stage_cm: str | None,
                             from_month: int | None) -> str:
    """Bring the stored customer-month table (ProfitabilityCustomerMonth) up to the data, to the
    close of `month`, and say how: "stage" (copied from a full recompute's stage table),
    "months" (only the months from `from_month` on re-read from the transactions) or "all"
    (rebuilt from every transaction).

    The months before `from_month` are kept only when they still hold what the allocation needs:
    the stored totals were computed with the same margin rate, and the stored transaction counts
    of those months match the transactions (an import that touched them, or a run whose
    allocation did not happen, makes them differ, and the table is rebuilt)."""
    table = customer_month_table()
    month_t = month_expr("t.order_date")
    insert = f"INSERT INTO {table} (customer_id, m, purchases, transactions, margin) "
    select = f"""SELECT t.customer_id, {month_t}, SUM(CASE WHEN t.revenue >= 0 THEN 1 ELSE 0 END), COUNT(*),
                        SUM(CASE WHEN t.cost IS NULL THEN t.revenue * %(rate)s ELSE t.revenue - t.cost END)
                 FROM customers_transaction t WHERE t.order_date >= %(after)s AND t.order_date < %(before)s
                 GROUP BY t.customer_id, {month_t}"""
    params = {"rate": margin_rate, "before": month_from_index(month + 1), "t": month,
              "after": month_from_index(from_month) if from_month is not None else dt.date(1, 1, 1)}
    if stage_cm:
        with table_refilled(cursor=cursor, table=table, primary_key=True):
            cursor.execute(insert + f"SELECT customer_id, m, purchases, transactions, margin FROM {stage_cm} "
                           "WHERE m <= %(t)s", params)
        return "stage"
    if from_month is not None and _customer_months_valid(cursor=cursor, before=from_month, margin_rate=margin_rate):
        cursor.execute(f"DELETE FROM {table} WHERE m >= %(f)s", {"f": from_month})
        cursor.execute(insert + select, params)
        return "months"
    with table_refilled(cursor=cursor, table=table, primary_key=True):
        cursor.execute(insert + select, {**params, "after": dt.date(1, 1, 1)})
    return "all"


def _customer_months_valid(*, cursor: Any, before: int, margin_rate: Decimal) -> bool:
    stored = ProfitabilityTotals.objects.select_related("assumption_set").first()
    if stored is None or Decimal(stored.assumption_set.default_gross_margin_rate) != margin_rate:
        return False
    cursor.execute(f"SELECT COALESCE(SUM(transactions), 0) FROM {customer_month_table()} WHERE m < %s", [before])
    (kept,) = cursor.fetchone()
    cursor.execute("SELECT COUNT(*) FROM customers_transaction WHERE order_date < %s", [month_from_index(before)])
    (actual,) = cursor.fetchone()
    return int(kept) == int(actual)


def _months_store_frames(*, month: int, window: int, rate: Decimal, driver: str, assumption_set: AssumptionSet,
                         computed_at: dt.datetime) -> None:
    """The pure path of the group shares and the monthly totals (SQLite)."""
    customers, activity, entries, margins = allocation_frames(month=month, window=window, margin_rate=rate)
    shares, unallocated = group_shares(customers=customers, activity=activity, entries=entries, driver=driver)
    ProfitabilityShare.objects.all().delete()
    ProfitabilityShare.objects.bulk_create([
        ProfitabilityShare(region=r, product_line=p, business_unit=b, acquisition_channel=c, month=int(m),
                           acquisition=Decimal(repr(a)), retention_equal=Decimal(repr(v)),
                           retention_per_purchase=Decimal(repr(u)))
        for r, p, b, c, m, a, v, u in shares[[*DIMENSIONS, "m", "a", "v", "u"]].itertuples(index=False, name=None)
    ], batch_size=2000)
    ProfitabilityMonth.objects.all().delete()
    if margins.empty:
        return
    totals = monthly_totals(customers=customers, activity=activity, margins=margins, shares=shares,
                            unallocated=unallocated, first_month=min(int(margins["m"].min()), month), last_month=month)
    rows = []
    for d, v, m, margin, acq, ret, acq_un, ret_un in totals[TOTAL_COLUMNS].itertuples(index=False, name=None):
        margin_c, acq_c, ret_c = money(margin), money(acq), money(ret)
        rows.append(ProfitabilityMonth(
            month=month_from_index(int(m)), scope_dimension=d, scope_value=v, margin_to_date=margin_c,
            acquisition_cost_allocated=acq_c, retention_cost_allocated=ret_c,
            net_profit_to_date=margin_c - acq_c - ret_c, acquisition_cost_unallocated=money(acq_un),
            retention_cost_unallocated=money(ret_un), assumption_set=assumption_set, computed_at=computed_at))
    ProfitabilityMonth.objects.bulk_create(rows, batch_size=2000)


def _months_store_sql(*, cursor: Any, month: int, assumption_set_id: int, computed_at: Any) -> None:
    """After allocation_build, in its transaction: replace the stored group shares (p_share by
    the groups' scope values) and the monthly totals of every scope, from the first month of the
    data to `month`, set-based.

    Each month's contribution of a group: its customers' margin, a x its new customers, v x its
    active customers + u x its purchases; running sums over the months give the totals to date
    (the share of an entry of month m does not depend on the later month the figures run to)."""
    shares, months = ProfitabilityShare._meta.db_table, ProfitabilityMonth._meta.db_table
    dims = ", ".join(DIMENSIONS)
    cursor.execute(f"DELETE FROM {shares}")
    cursor.execute(
        f"""INSERT INTO {shares} ({dims}, month, acquisition, retention_equal, retention_per_purchase)
        SELECT {", ".join(f"g.s_{d}" for d in DIMENSIONS)}, s.m, s.a, s.v, s.u
        FROM p_share s JOIN p_g g ON g.g = s.g WHERE s.a <> 0 OR s.v <> 0 OR s.u <> 0"""
    )
    cursor.execute("SELECT MIN(m) FROM p_gcm")
    (first,) = cursor.fetchone()
    cursor.execute(f"DELETE FROM {months}")
    if first is None:
        return
    params = {"first": min(int(first), month), "t": month, "set": assumption_set_id, "at": computed_at,
              "company": COMPANY}
    per_scope = " UNION ALL ".join(
        ["SELECT %(company)s AS d, '' AS v, m, SUM(margin) AS margin, SUM(acq) AS acq, SUM(ret) AS ret FROM x GROUP BY m"]
        + [f"SELECT '{d}', s_{d}, m, SUM(margin), SUM(acq), SUM(ret) FROM x GROUP BY s_{d}, m" for d in DIMENSIONS]
    )
    cursor.execute(
        """CREATE TEMP TABLE p_gm ON COMMIT DROP AS
        WITH grid AS (SELECT g.g, mm.m FROM p_g g CROSS JOIN generate_series(%(first)s, %(t)s) AS mm(m)),
        ivg AS (SELECT c.g, iv.a, iv.b FROM p_iv iv JOIN p_c c ON c.customer_id = iv.customer_id),
        ev AS (SELECT g, a AS m, 1 AS d FROM ivg UNION ALL SELECT g, b + 1, -1 FROM ivg),
        evg AS (SELECT g, m, SUM(d) AS d FROM ev GROUP BY g, m),
        act AS (SELECT grid.g, grid.m, SUM(COALESCE(evg.d, 0)) OVER (PARTITION BY grid.g ORDER BY grid.m
                       ROWS UNBOUNDED PRECEDING) AS n
                FROM grid LEFT JOIN evg ON evg.g = grid.g AND evg.m = grid.m),
        newc AS (SELECT g, first_m AS m, COUNT(*) AS n FROM p_c WHERE first_m IS NOT NULL GROUP BY g, first_m),
        mg AS (SELECT g, m, margin, p FROM p_gcm)
        SELECT act.g, act.m, COALESCE(mg.margin, 0) AS margin,
               COALESCE(s.a, 0) * COALESCE(newc.n, 0) AS acq,
               COALESCE(s.v, 0) * act.n + COALESCE(s.u, 0) * COALESCE(mg.p, 0) AS ret
        FROM act LEFT JOIN mg ON mg.g = act.g AND mg.m = act.m
        LEFT JOIN newc ON newc.g = act.g AND newc.m = act.m
        LEFT JOIN p_share s ON s.g = act.g AND s.m = act.m""",
        params,
    )
    cursor.execute(
        f"""INSERT INTO {months} (month, scope_dimension, scope_value, margin_to_date, acquisition_cost_allocated,
                retention_cost_allocated, net_profit_to_date, acquisition_cost_unallocated,
                retention_cost_unallocated, assumption_set_id, computed_at)
        WITH x AS (SELECT gm.m, {", ".join(f"g.s_{d}" for d in DIMENSIONS)}, gm.margin, gm.acq, gm.ret
                   FROM p_gm gm JOIN p_g g ON g.g = gm.g),
        scoped AS ({per_scope}),
        cum AS (SELECT d, v, m, ROUND(SUM(margin) OVER w, 2) AS margin,
                       ROUND(ROUND(SUM(acq) OVER w, 10), 2) AS acq, ROUND(ROUND(SUM(ret) OVER w, 10), 2) AS ret
                FROM scoped WINDOW w AS (PARTITION BY d, v ORDER BY m ROWS UNBOUNDED PRECEDING)),
        un AS (SELECT e.m, e.kind, e.dimension, e.value, e.amount FROM p_e e
               WHERE NOT EXISTS (SELECT 1 FROM p_reach r WHERE r.e = e.e AND r.n > 0))
        SELECT make_date(cum.m / 12, cum.m %% 12 + 1, 1), cum.d, cum.v, cum.margin, cum.acq, cum.ret,
               cum.margin - cum.acq - cum.ret,
               ROUND(COALESCE((SELECT SUM(un.amount) FROM un WHERE un.kind = 'acquisition' AND un.m <= cum.m
                               AND (cum.d = %(company)s OR (un.dimension = cum.d AND un.value = cum.v))), 0), 2),
               ROUND(COALESCE((SELECT SUM(un.amount) FROM un WHERE un.kind = 'retention' AND un.m <= cum.m
                               AND (cum.d = %(company)s OR (un.dimension = cum.d AND un.value = cum.v))), 0), 2),
               %(set)s, %(at)s
        FROM cum""",
        params,
    )


def _stored_clear() -> None:
    CustomerProfitability.objects.all().delete()
    ProfitabilityTotals.objects.all().delete()
    ProfitabilityMonth.objects.all().delete()
    ProfitabilityShare.objects.all().delete()
    ProfitabilityCustomerMonth.objects.all().delete()


def profitability_store(*, month: int | None, assumption_set: AssumptionSet, stage_cm: str | None = None,
                        stage_iv: str | None = None, stage_groups: StageGroups | None = None,
                        from_month: int | None = None) -> AllocationTotals | None:
    """Replace the stored per-customer profitability, the group shares and the monthly totals
    with the allocation to the close of `month` (the latest month of the data), in one
    transaction; None (and nothing stored) when there are no transactions.

    PostgreSQL, set-based (INSERT ... SELECT): a full recompute's stage tables are read when
    given (and its segment groups, a single pass's); otherwise the stored customer-month table,
    of which only the months from `from_month` on (an incremental recompute's) are re-read from
    the transactions when the earlier ones still match them (_customer_months_refresh)."""
    computed_at = timezone.now()
    if month is None:
        with transaction.atomic():
            _stored_clear()
        return None
    table = CustomerProfitability._meta.db_table
    window = int(assumption_set.activity_window_months)
    rate = Decimal(assumption_set.default_gross_margin_rate)
    driver = str(assumption_set.cost_to_serve_driver)
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            # Two recomputes at once take turns from here to their commit: under READ COMMITTED the
            # second one's DELETE would not see the first one's new rows, and its INSERT would collide.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(b"clv-profitability:store")])
            started = time.monotonic()
            how = _customer_months_refresh(cursor=cursor, month=month, margin_rate=rate, stage_cm=stage_cm,
                                           from_month=from_month)
            logger.info("profitability: customer months (%s)%s in %.2fs", how,
                        ", segment groups (stage)" if stage_groups and stage_cm else "", time.monotonic() - started)
            totals = allocation_build(cursor=cursor, month=month, window=window, margin_rate=rate, driver=driver,
                                      stage_cm=stage_cm, stage_iv=stage_iv, stage_groups=stage_groups,
                                      stored=not stage_cm)
            _months_store_sql(cursor=cursor, month=month,
                                    assumption_set_id=assumption_set.pk, computed_at=computed_at)
            with table_refilled(cursor=cursor, table=table):
                cursor.execute(
                    f"""INSERT INTO {table} (customer_id, month, margin_to_date, acquisition_cost_allocated,
                            retention_cost_allocated, net_profit_to_date, referrals_made, referral_margin,
                            assumption_set_id, computed_at)
                    SELECT r.customer_id, %s, r.margin_to_date, r.acquisition_cost_allocated, r.retention_cost_allocated,
                           r.net_profit_to_date, COALESCE(x.referrals_made, 0), COALESCE(x.referral_margin, 0), %s, %s
                    FROM p_result r
                    LEFT JOIN ({referrals_per_customer_select(first_months="p_c", margins="p_result")}) x
                           ON x.referrer_id = r.customer_id""",
                    [month_from_index(month), assumption_set.pk, computed_at],
                )
            _totals_store(totals=totals, month=month, assumption_set=assumption_set, computed_at=computed_at)
        return totals
    frame, totals = profitability_rows(month=month, assumption_set=assumption_set)
    rows = [
        CustomerProfitability(
            customer_id=int(cid), month=month_from_index(month), margin_to_date=margin,
            acquisition_cost_allocated=acq, retention_cost_allocated=ret, net_profit_to_date=net,
            referrals_made=made, referral_margin=referral_margin, assumption_set=assumption_set,
            computed_at=computed_at,
        )
        for cid, margin, acq, ret, net, made, referral_margin
        in frame[[*RESULT_COLUMNS, *REFERRAL_COLUMNS]].itertuples(index=False, name=None)
    ]
    with transaction.atomic():
        CustomerProfitability.objects.all().delete()
        CustomerProfitability.objects.bulk_create(rows, batch_size=2000)
        _totals_store(totals=totals, month=month, assumption_set=assumption_set, computed_at=computed_at)
        _months_store_frames(month=month, window=window, rate=rate, driver=driver, assumption_set=assumption_set,
                             computed_at=computed_at)
    return totals


def _full_stage_tables(*, run: RecomputeRun) -> tuple[str | None, str | None, StageGroups | None]:
    """The customer-month and interval tables of the run's stage when it read every transaction
    (a full run; metrics.selectors.Stage.table names them), so the allocation need not read the
    transactions again, and the stage's segment groups when it has them (a single pass: the
    partitions number their groups each on their own and their sum keeps no groups);
    (None, None, None) otherwise."""
    if connection.vendor != "postgresql" or run.from_month is not None:
        return None, None, None
    prefix = f"metrics_stage_{int(run.pk)}_"
    names = [prefix + name for name in ("cm", "iv", "sg", "cg", "gmev")]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(n) IS NOT NULL FROM unnest(%s::text[]) WITH ORDINALITY AS x(n, i) ORDER BY i",
                       [names])
        present = [row[0] for row in cursor.fetchall()]
    if not (present[0] and present[1]):
        return None, None, None
    groups = StageGroups(sg=names[2], cg=names[3], gmev=names[4]) if all(present[2:]) else None
    return names[0], names[1], groups


def profitability_recompute(*, run: RecomputeRun) -> AllocationTotals | None:
    """The recompute's step (metrics.services.recompute_run_finish calls it once per successful
    run): the allocation to the latest month of the data, with the run's assumptions."""
    from metrics.selectors import transactions_month_range
    from metrics.services import assumptions_ensure

    started = time.monotonic()
    data_range = transactions_month_range()
    assumption_set = run.assumption_set or assumptions_ensure()
    stage_cm, stage_iv, stage_groups = _full_stage_tables(run=run)
    totals = profitability_store(month=data_range.last_month if data_range else None, assumption_set=assumption_set,
                                 stage_cm=stage_cm, stage_iv=stage_iv, stage_groups=stage_groups,
                                 from_month=month_index(run.from_month) if run.from_month else None)
    logger.info("recompute #%s: profitability of %s customers in %.2fs", run.pk,
                totals.customers if totals else 0, time.monotonic() - started)
    return totals


def profitability_details(*, totals: AllocationTotals | None) -> dict[str, Any]:
    """The totals as plain values (for logs and the command line)."""
    if totals is None:
        return {}
    return {field: (str(value) if isinstance(value, Decimal) else value) for field, value in vars(totals).items()}
