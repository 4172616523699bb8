"""Reads of the holdout validation: the calibration summary and the holdout actuals.

On PostgreSQL the holdout purchases per customer and the repeat purchases per day are two GROUP
BY statements (the calibration summary is the predictive area's RFM SQL); on SQLite (the demo)
the transactions are read into pandas and split by the pure reference,
maths.holdout_inputs_from_transactions, which the SQL follows exactly.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from django.db import connection
from django.db.models import Max, Min

from customers.models import Transaction

from .. import selectors as predictive_selectors
from .maths import HoldoutInputs, holdout_inputs, holdout_inputs_from_transactions

# A purchase day is a day with a transaction of revenue >= 0 (maths/rfm.py); its value is the
# sum of those transactions. Only customers whose first purchase is in the calibration period.
_HOLDOUT_SQL = """
WITH d AS (
    SELECT customer_id, order_date, SUM(revenue)::float8 AS revenue
    FROM customers_transaction
    WHERE order_date <= %(end)s AND revenue >= 0
    GROUP BY customer_id, order_date
), f AS (
    SELECT customer_id, MIN(order_date) AS first_day FROM d GROUP BY customer_id
    HAVING MIN(order_date) <= %(cal)s
)
SELECT d.customer_id, COUNT(*) AS purchases, SUM(d.revenue) AS revenue
FROM d JOIN f USING (customer_id)
WHERE d.order_date > %(cal)s
GROUP BY d.customer_id
"""
_REPEAT_BY_DAY_SQL = """
WITH d AS (
    SELECT DISTINCT customer_id, order_date
    FROM customers_transaction
    WHERE order_date <= %(end)s AND revenue >= 0
), f AS (
    SELECT customer_id, MIN(order_date) AS first_day FROM d GROUP BY customer_id
    HAVING MIN(order_date) <= %(cal)s
)
SELECT d.order_date, COUNT(*) FROM d JOIN f USING (customer_id)
WHERE d.order_date > f.first_day
GROUP BY d.order_date ORDER BY d.order_date
"""


def purchase_history_bounds() -> tuple[dt.date | None, dt.date | None]:
    """The first and the last day with a purchase (a transaction of revenue >= 0)."""
    bounds = Transaction.objects.filter(revenue__gte=0).aggregate(first=Min("order_date"), last=Max("order_date"))
    return bounds["first"], bounds["last"]


def holdout_inputs_read(*, calibration_end: dt.date, holdout_end: dt.date, default_margin_rate: float) -> HoldoutInputs:
    """The split of the stored transactions at calibration_end (raises maths.HoldoutError when
    the history cannot support it)."""
    if not predictive_selectors.is_postgres():
        rows = Transaction.objects.filter(order_date__lte=holdout_end).values_list("customer_id", "order_date",
                                                                                    "revenue", "cost")
        frame = pd.DataFrame.from_records(rows.iterator(chunk_size=20000),
                                          columns=["customer_id", "order_date", "revenue", "cost"])
        frame["revenue"] = pd.to_numeric(frame["revenue"].astype(float))
        frame["cost"] = pd.to_numeric(frame["cost"].astype(float))
        return holdout_inputs_from_transactions(frame, calibration_end=calibration_end, holdout_end=holdout_end,
                                                default_margin_rate=default_margin_rate)
    calibration = predictive_selectors.rfm_summary_sql(observation_end=calibration_end,
                                                       default_margin_rate=default_margin_rate)
    params = {"cal": calibration_end, "end": holdout_end}
    with connection.cursor() as cursor:
        cursor.execute(_HOLDOUT_SQL, params)
        holdout = pd.DataFrame(cursor.fetchall(), columns=["customer_id", "purchases", "revenue"])
        cursor.execute(_REPEAT_BY_DAY_SQL, params)
        by_day = cursor.fetchall()
    holdout = holdout.set_index("customer_id").astype(float)
    repeat_by_day = pd.Series([n for _d, n in by_day], index=[d for d, _n in by_day], dtype=float)
    return holdout_inputs(calibration=calibration, holdout=holdout, repeat_by_day=repeat_by_day,
                          calibration_end=calibration_end, holdout_end=holdout_end)
