"""Reads of closing: the closes in force, the published figures and their restatements."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from metrics.models import COMPANY, MonthClose, MonthlySnapshot, PublishedSnapshot

from .maths import Split, restatement_parts, restatement_split

# Every value a published row carries, as exported (SNAPSHOT_FIELDS of metrics.services).
PUBLISHED_FIELDS: tuple[str, ...] = (
    "customers_start", "customers_end", "new_customers", "retained_customers", "reactivated_customers",
    "churned_customers", "monthly_retention", "revenue", "gross_margin", "retention_rate", "retention_source",
    "retention_exposure", "margin_per_customer", "clv", "customer_equity", "acquisition_cost", "retention_cost",
    "acquisition_equity", "retention_equity", "cac", "clv_to_cac",
    "referred_new_customers", "referral_share", "referral_rate", "referral_equity",
)


def closes_in_force() -> QuerySet[MonthClose]:
    return MonthClose.objects.filter(reopened_at__isnull=True).select_related("assumption_set")


def close_in_force(*, month: dt.date) -> MonthClose | None:
    return closes_in_force().filter(month=month.replace(day=1)).first()


def closed_months() -> set[dt.date]:
    return set(closes_in_force().values_list("month", flat=True))


def closes_record(*, limit: int = 50) -> QuerySet[MonthClose]:
    """Every close, in force or reopened, newest month first: the record of publications."""
    return MonthClose.objects.select_related("assumption_set").order_by("-month", "-closed_at", "-pk")[:limit]


def values_of(row: Any) -> dict[str, Any]:
    """A snapshot's (current or published) values, money as decimal strings."""
    out: dict[str, Any] = {}
    for name in PUBLISHED_FIELDS:
        value = getattr(row, name)
        out[name] = str(value) if hasattr(value, "quantize") else value
    return out


@dataclass(frozen=True)
class Restatement:
    """A closed month's figures for one scope: as published, and how they moved since."""

    close: MonthClose
    published: dict[str, Any]
    splits: dict[str, Split] = field(default_factory=dict)
    # The scope has no current figures any more (or had none when published).
    missing_current: bool = False
    missing_published: bool = False

    @property
    def restated(self) -> bool:
        return any(s.restated for s in self.splits.values())

    def parts(self) -> dict[str, dict[str, int | str | None]]:
        return restatement_parts(self.splits)


def basis_of(*, published: PublishedSnapshot, current: MonthlySnapshot | None) -> dict[str, Any]:
    """The published figures recomputed from the current data with the published assumption
    version: the current figures themselves when they were computed with that version; else
    what the last recompute stored (metrics.closing.services.restatements_refresh); the
    published figures when no data changed since the close."""
    if current is not None and current.assumption_set_id == published.assumption_set_id:
        return values_of(current)
    return dict(published.basis) if published.basis is not None else values_of(published)


def restatement_of(*, published: PublishedSnapshot, current: MonthlySnapshot | None,
                   close: MonthClose) -> Restatement:
    pub = values_of(published)
    cur = values_of(current) if current is not None else dict.fromkeys(PUBLISHED_FIELDS)
    splits = restatement_split(published=pub, basis=basis_of(published=published, current=current), current=cur)
    return Restatement(close=close, published=pub, splits=splits, missing_current=current is None)


def restatement_for(*, month: dt.date, dimension: str = COMPANY, value: str = "") -> Restatement | None:
    """The restatement of one closed month and scope; None when the month is not closed."""
    close = close_in_force(month=month)
    if close is None:
        return None
    value = "" if dimension == COMPANY else value
    published = PublishedSnapshot.objects.filter(close=close, scope_dimension=dimension, scope_value=value).first()
    current = MonthlySnapshot.objects.filter(month=close.month, scope_dimension=dimension, scope_value=value).first()
    if published is None:
        return Restatement(close=close, published={}, missing_published=True, missing_current=current is None)
    return restatement_of(published=published, current=current, close=close)


def restatements_by_key(*, month_from: dt.date | None = None, month_to: dt.date | None = None,
                        dimension: str | None = None) -> dict[tuple[dt.date, str, str], Restatement]:
    """Every closed month's restatement per (month, dimension, value), for the exports."""
    closes = closes_in_force()
    if month_from:
        closes = closes.filter(month__gte=month_from)
    if month_to:
        closes = closes.filter(month__lte=month_to)
    by_close = {c.pk: c for c in closes}
    if not by_close:
        return {}
    published = PublishedSnapshot.objects.filter(close_id__in=list(by_close))
    current_qs = MonthlySnapshot.objects.filter(month__in={c.month for c in by_close.values()})
    if dimension:
        published = published.filter(scope_dimension=dimension)
        current_qs = current_qs.filter(scope_dimension=dimension)
    current = {(s.month, s.scope_dimension, s.scope_value): s for s in current_qs}
    out: dict[tuple[dt.date, str, str], Restatement] = {}
    for row in published:
        key = (row.month, row.scope_dimension, row.scope_value)
        out[key] = restatement_of(published=row, current=current.get(key), close=by_close[row.close_id])
    return out


def published_export(restatement: Restatement) -> dict[str, Any]:
    """The `published` object of an exported row: every published value, the assumption
    version and the closing time."""
    close = restatement.close
    return {**restatement.published, "assumption_version": close.assumption_set.version,
            "closed_at": close.closed_at.isoformat(), "closed_by": close.closed_by_name}


def data_fingerprint() -> str:
    """A digest of every input of the figures: transactions, cost entries and the customers'
    segment values and referrers. Equal digests mean a recompute would give the same figures."""
    if connection.vendor == "postgresql":
        sql = """SELECT
            (SELECT COUNT(*) || ':' || COALESCE(SUM(hashtext(concat_ws('|', customer_id, order_id, order_date,
                    revenue, cost))::bigint), 0) FROM customers_transaction),
            (SELECT COUNT(*) || ':' || COALESCE(SUM(hashtext(concat_ws('|', month, kind, amount, segment_dimension,
                    segment_value))::bigint), 0) FROM customers_costentry),
            (SELECT COUNT(*) || ':' || COALESCE(SUM(hashtext(concat_ws('|', id, region, product_line,
                    business_unit, acquisition_channel, referred_by))::bigint), 0) FROM customers_customer)"""
    else:
        sql = """SELECT
            (SELECT COUNT(*) || ':' || TOTAL(revenue) || ':' || TOTAL(COALESCE(cost, 0)) || ':'
                    || TOTAL(customer_id * julianday(order_date)) || ':' || TOTAL(revenue * customer_id)
                    || ':' || TOTAL(julianday(order_date) * revenue) FROM customers_transaction),
            (SELECT COUNT(*) || ':' || TOTAL(amount) || ':' || TOTAL(julianday(month) * amount) || ':'
                    || GROUP_CONCAT(kind || segment_dimension || segment_value, ',') FROM customers_costentry),
            (SELECT COUNT(*) || ':' || TOTAL(id * (LENGTH(region) + 3 * LENGTH(product_line)
                    + 7 * LENGTH(business_unit) + 11 * LENGTH(acquisition_channel))) || ':'
                    || TOTAL(id * LENGTH(COALESCE(referred_by, '-'))) || ':'
                    || GROUP_CONCAT(DISTINCT region || product_line || business_unit || acquisition_channel)
                    || ':' || COALESCE(GROUP_CONCAT(DISTINCT referred_by), '')
             FROM customers_customer)"""
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return hashlib.sha256("|".join(str(v) for v in row).encode()).hexdigest()




def export_rows(snapshots: Iterable[MonthlySnapshot]) -> list[dict[str, Any]]:
    """Snapshots as exported (export_snapshots, the API): the plain row, and for a closed
    month also `published` and `restatement` ({figure: {"data": x, "assumptions": y}})."""
    from metrics.selectors import snapshot_row

    snapshots = list(snapshots)
    months = [s.month for s in snapshots]
    restatements = restatements_by_key(month_from=min(months), month_to=max(months)) if months else {}
    rows = []
    for snapshot in snapshots:
        row = snapshot_row(snapshot)
        found = restatements.get((snapshot.month, snapshot.scope_dimension, snapshot.scope_value))
        if found is not None:
            row["published"] = published_export(found)
            row["restatement"] = found.parts()
        rows.append(row)
    return rows


def published_series(*, dimension: str, value: str) -> list[dict[str, Any]]:
    """The published figures of one scope for every closed month, as the board's rows."""
    from metrics.board.selectors import SNAPSHOT_FIELDS

    # The referral figures too, as published (None for a month closed before they were).
    return list(PublishedSnapshot.objects.filter(close__reopened_at__isnull=True, scope_dimension=dimension,
                                                 scope_value="" if dimension == COMPANY else value)
                .order_by("month").values(*SNAPSHOT_FIELDS))


@dataclass(frozen=True)
class ClosingOverview:
    """What the assumptions page shows of closing: months that can be closed (ended, with
    figures, not closed; newest first), the closes in force and the record of every close."""

    closable: list[dt.date]
    in_force: list[MonthClose]
    record: list[MonthClose]


def closing_overview(*, today: dt.date) -> ClosingOverview:
    closed = closed_months()
    months = MonthlySnapshot.objects.filter(scope_dimension=COMPANY, month__lt=today.replace(day=1)).order_by(
        "-month").values_list("month", flat=True)
    return ClosingOverview(closable=[m for m in months if m not in closed],
                           in_force=list(closes_in_force().order_by("-month")), record=list(closes_record()))
