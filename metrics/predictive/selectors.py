"""Reads of the predictive area: the RFM summary (SQL on PostgreSQL), predictions, fits.

The RFM summary follows metrics/predictive/maths/rfm.py exactly. On PostgreSQL one statement
does it (GROUP BY customer and day, then a window for each customer's first purchase day, then
GROUP BY customer) and streams back one row per customer through COPY; on SQLite (the demo) the
transactions are read into pandas and summarised by the same pure function.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from clv_dashboard.formatting import punctuation
from customers.models import UNASSIGNED, Customer, SegmentDimension, Transaction
from metrics.datacache import versioned_get
from metrics.models import CustomerPrediction, PredictiveFit

from .maths.purchase_models import FittedModel, PurchaseModel, model_params
from .maths.rfm import rfm_finish, rfm_summary

SORTABLE = {
    "customer": "customer__external_id",
    "tier": "tier",
    "p_alive": "p_alive",
    "purchases": "expected_purchases_12m",
    "spend": "expected_spend",
    "clv": "predicted_clv",
    "margin": "historic_margin",
    "net": "customer__profitability__net_profit_to_date",
}
DEFAULT_SORT = "-clv"

_RFM_SQL = """
WITH t AS (
    SELECT customer_id, order_date, revenue,
           CASE WHEN cost IS NULL THEN revenue * %(rate)s::numeric ELSE revenue - cost END AS margin
    FROM customers_transaction
    WHERE order_date <= %(end)s
), d AS (
    SELECT customer_id, order_date,
           bool_or(revenue >= 0) AS is_purchase,
           SUM(revenue) FILTER (WHERE revenue >= 0) AS purchase,
           SUM(margin) FILTER (WHERE revenue >= 0) AS purchase_margin,
           SUM(revenue) FILTER (WHERE revenue < 0) AS refund,
           SUM(revenue) AS revenue,
           SUM(margin) AS margin
    FROM t
    GROUP BY customer_id, order_date
), f AS (
    SELECT d.*, MIN(order_date) FILTER (WHERE is_purchase) OVER (PARTITION BY customer_id) AS first_day
    FROM d
)
SELECT customer_id,
       COUNT(*) FILTER (WHERE is_purchase AND order_date > first_day) AS frequency,
       MIN(first_day) AS first_purchase,
       MAX(order_date) FILTER (WHERE is_purchase) AS last_purchase,
       COALESCE(SUM(purchase), 0)::float8 AS purchase_revenue,
       COALESCE(SUM(purchase) FILTER (WHERE order_date > first_day), 0)::float8 AS repeat_revenue,
       COALESCE(SUM(refund), 0)::float8 AS refunds,
       SUM(revenue)::float8 AS historic_revenue,
       SUM(margin)::float8 AS historic_margin,
       COALESCE(SUM(purchase_margin), 0)::float8 AS purchase_margin
FROM f
WHERE first_day IS NOT NULL
GROUP BY customer_id
ORDER BY customer_id
"""
_RFM_SQL_COLUMNS = [
    "customer_id", "frequency", "first_purchase", "last_purchase", "purchase_revenue", "repeat_revenue",
    "refunds", "historic_revenue", "historic_margin", "purchase_margin",
]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def transactions_data_date() -> dt.date | None:
    """The date of the latest transaction: the end of the observation period by default."""
    return Transaction.objects.aggregate(last=Max("order_date"))["last"]


def rfm_summary_sql(*, observation_end: dt.date, default_margin_rate: float) -> pd.DataFrame:
    """The RFM summary computed in PostgreSQL, one row per customer, indexed by customer id."""
    with connection.cursor() as cursor:
        query = cursor.mogrify(_RFM_SQL, {"rate": Decimal(str(default_margin_rate)), "end": observation_end})
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({query.decode()}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    frame = pd.read_csv(
        buffer, header=None, names=_RFM_SQL_COLUMNS, dtype={"customer_id": "int64", "frequency": "int64"},
    )
    frame = frame.set_index("customer_id")
    return rfm_finish(frame, observation_end=observation_end, default_margin_rate=default_margin_rate)


def rfm_summary_pandas(*, observation_end: dt.date, default_margin_rate: float) -> pd.DataFrame:
    """The same summary from the transactions read into pandas (the SQLite path of the demo)."""
    rows = Transaction.objects.filter(order_date__lte=observation_end).values_list(
        "customer_id", "order_date", "revenue", "cost"
    )
    frame = pd.DataFrame.from_records(rows.iterator(chunk_size=20000),
                                      columns=["customer_id", "order_date", "revenue", "cost"])
    frame["revenue"] = pd.to_numeric(frame["revenue"].astype(float))
    frame["cost"] = pd.to_numeric(frame["cost"].astype(float))
    return rfm_summary(frame, observation_end=observation_end, default_margin_rate=default_margin_rate)


def rfm_summary_frame(*, observation_end: dt.date, default_margin_rate: float) -> pd.DataFrame:
    if is_postgres():
        return rfm_summary_sql(observation_end=observation_end, default_margin_rate=default_margin_rate)
    return rfm_summary_pandas(observation_end=observation_end, default_margin_rate=default_margin_rate)


# --- Fits and predictions --------------------------------------------------------------------


def fit_latest() -> PredictiveFit | None:
    return PredictiveFit.objects.select_related("assumption_set").first()


def fit_purchase_model(fit: PredictiveFit) -> FittedModel | None:
    """The model of repeat purchases of a fit (a fit stored before the model choice is BG/NBD)."""
    if fit.model and fit.model_params:
        return model_params(fit.model, fit.model_params)
    if fit.bgnbd_r is None:
        return None
    return model_params(PurchaseModel.BGNBD, {"r": fit.bgnbd_r, "alpha": fit.bgnbd_alpha or 0.0,
                                              "a": fit.bgnbd_a or 0.0, "b": fit.bgnbd_b or 0.0})


def fit_stale_before() -> dt.datetime:
    """A fit still running that started before this was cut off (its worker died or hit the
    task time limit): it will never finish."""
    return timezone.now() - dt.timedelta(seconds=int(settings.CELERY_TASK_TIME_LIMIT))


def fit_is_running(fit: PredictiveFit | None) -> bool:
    return bool(fit and fit.status == PredictiveFit.Status.RUNNING and fit.started_at >= fit_stale_before())


def fit_current() -> PredictiveFit | None:
    """The fit whose predictions are stored: the last successful fit to finish (each one replaces
    every prediction under a lock, so the last to finish is the one in place)."""
    return (
        PredictiveFit.objects.select_related("assumption_set")
        .filter(status=PredictiveFit.Status.SUCCEEDED)
        .order_by("-finished_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class PredictionFilters:
    tier: str = ""
    segment_dimension: str = ""
    segment_value: str = ""
    p_alive_min: float | None = None
    p_alive_max: float | None = None
    clv_min: Decimal | None = None
    clv_max: Decimal | None = None
    search: str = ""
    sort: str = DEFAULT_SORT


def predictions_list(*, filters: PredictionFilters) -> QuerySet[CustomerPrediction]:
    qs = CustomerPrediction.objects.select_related("customer", "customer__profitability")
    if filters.tier:
        qs = qs.filter(tier=filters.tier)
    if filters.segment_dimension in SegmentDimension.values:
        field = f"customer__{filters.segment_dimension}"
        if filters.segment_value == UNASSIGNED:
            qs = qs.filter(Q(**{field: ""}))
        elif filters.segment_value:
            qs = qs.filter(**{field: filters.segment_value})
    if filters.p_alive_min is not None:
        qs = qs.filter(p_alive__gte=filters.p_alive_min)
    if filters.p_alive_max is not None:
        qs = qs.filter(p_alive__lte=filters.p_alive_max)
    if filters.clv_min is not None:
        qs = qs.filter(predicted_clv__gte=filters.clv_min)
    if filters.clv_max is not None:
        qs = qs.filter(predicted_clv__lte=filters.clv_max)
    if filters.search:
        qs = qs.filter(customer__external_id__icontains=filters.search.strip())
    key = filters.sort.lstrip("-")
    field = SORTABLE.get(key, SORTABLE["clv"])
    descending = filters.sort.startswith("-") if key in SORTABLE else True
    return qs.order_by(f"-{field}" if descending else field, "customer__external_id")


@dataclass(frozen=True)
class TierSummary:
    tier: str
    label: str
    customers: int
    predicted_clv: Decimal
    historic_margin: Decimal


def predictions_by_tier() -> list[TierSummary]:
    """Customers, total predicted CLV and historic margin per tier, in tier order (for the board too);
    a scan of every prediction, cached under the data version."""
    return versioned_get(name="predictions-by-tier", parts=[], compute=_predictions_by_tier)


def predictions_count(*, filters: PredictionFilters) -> int:
    """How many predictions pass the filters (the page count), cached under the data version."""
    return versioned_get(name="predictions-count", parts=[repr(filters)],
                         compute=lambda: predictions_list(filters=filters).count())


def _predictions_by_tier() -> list[TierSummary]:
    totals = {
        row["tier"]: row
        for row in CustomerPrediction.objects.values("tier").annotate(
            customers=Count("pk"), clv=Sum("predicted_clv"), margin=Sum("historic_margin")
        )
    }
    out = []
    for tier in CustomerPrediction.Tier:
        row: dict[str, Any] = totals.get(tier.value, {})
        out.append(TierSummary(
            tier=tier.value, label=str(tier.label), customers=int(row.get("customers") or 0),
            predicted_clv=row.get("clv") or Decimal(0), historic_margin=row.get("margin") or Decimal(0),
        ))
    return out


def segment_choices() -> list[tuple[str, str, str]]:
    """(dimension, value, label) for every segment value present among the customers: a scan of
    the customers per dimension, cached under the data version (imports and re-labelling are
    followed by a recompute, which changes it)."""
    return versioned_get(name="predictive-segment-choices", parts=[], compute=_segment_choices)


def _segment_choices() -> list[tuple[str, str, str]]:
    choices: list[tuple[str, str, str]] = []
    for dimension in SegmentDimension:
        values = (
            Customer.objects.exclude(**{dimension.value: ""}).values_list(dimension.value, flat=True)
            .distinct().order_by(dimension.value)[:200]
        )
        for value in values:
            choices.append((dimension.value, value, f"{dimension.label}{punctuation(':')}{value}"))
        if Customer.objects.filter(**{dimension.value: ""}).exists():
            choices.append((dimension.value, UNASSIGNED, f"{dimension.label}{punctuation(':')}{gettext('unassigned')}"))
    return choices


def customer_prediction(*, customer_id: int) -> CustomerPrediction | None:
    return CustomerPrediction.objects.select_related("customer", "fit").filter(customer_id=customer_id).first()


def customer_daily_transactions(*, customer_id: int, until: dt.date | None = None) -> pd.DataFrame:
    """One customer's transactions summed per day: day, purchases (revenue >= 0), refunds, margin."""
    qs = Transaction.objects.filter(customer_id=customer_id)
    if until is not None:
        qs = qs.filter(order_date__lte=until)
    rows = list(qs.order_by("order_date").values_list("order_date", "revenue", "cost"))
    frame = pd.DataFrame.from_records(rows, columns=["day", "revenue", "cost"])
    if frame.empty:
        return pd.DataFrame(columns=["day", "purchases", "refunds", "is_purchase"])
    frame["revenue"] = frame["revenue"].astype(float)
    frame["purchases"] = frame["revenue"].where(frame["revenue"] >= 0, 0.0)
    frame["refunds"] = frame["revenue"].where(frame["revenue"] < 0, 0.0)
    frame["is_purchase"] = frame["revenue"] >= 0
    return frame.groupby("day", as_index=False).agg(
        purchases=("purchases", "sum"), refunds=("refunds", "sum"), is_purchase=("is_purchase", "any")
    )
