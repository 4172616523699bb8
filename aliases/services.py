"""Segment-value aliases: add and retire them (a new version each time, audited), re-label the
stored customers and cost entries set-based, and apply them to an import's staging table.

1. alias_add / alias_retire: in one transaction, a new AliasVersion, the alias rows, the
   re-labelling UPDATEs and an audit entry; after commit, a recompute of the board.
2. staging_apply: before an import writes, the staged segment values that have an alias are
   replaced by the canonical value (one UPDATE per column, over the file's distinct values).
3. staging_new_values: the file's values never seen before (not stored on any customer), with
   how many customers carry each, for the import page to offer mapping them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection as default_connection
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.services import Action, audit_record
from customers.models import CostEntry, Customer, SegmentDimension

from .models import AliasVersion, SegmentAlias
from .normalise import alias_key, relabel_plan

logger = logging.getLogger(__name__)

DIMENSIONS = tuple(SegmentDimension.values)
NEW_VALUES_SHOWN = 20

ERR_DIMENSION = _("Choose a segment dimension.")
ERR_EMPTY = _("Give both the value and the canonical value it means.")
ERR_CHAIN = _("\"{canonical}\" is itself an alias of \"{target}\": map \"{value}\" to \"{target}\" instead.")
ERR_IS_CANONICAL = _("\"{value}\" is the canonical value of other aliases; it cannot become an alias itself.")


class AliasRefused(ValueError):
    pass


def aliases_current(*, dimension: str) -> dict[str, str]:
    """key -> canonical for the aliases in force."""
    return dict(SegmentAlias.objects.filter(dimension=dimension, retired_in__isnull=True)
                .values_list("key", "canonical"))


def _actor_name(actor: Any) -> str:
    return actor.get_username() if getattr(actor, "pk", None) else ""


def alias_add(*, dimension: str, value: str, canonical: str, actor: Any = None,
              request: HttpRequest | None = None) -> AliasVersion:
    """Map `value` (and every spelling with the same key) to `canonical` for `dimension`."""
    value, canonical = value.strip()[:100], canonical.strip()[:100]
    if dimension not in DIMENSIONS:
        raise AliasRefused(str(ERR_DIMENSION))
    if not value or not canonical:
        raise AliasRefused(str(ERR_EMPTY))
    key = alias_key(value)
    with transaction.atomic():
        current = SegmentAlias.objects.select_for_update().filter(dimension=dimension, retired_in__isnull=True)
        by_key = {a.key: a for a in current}
        target = by_key.get(alias_key(canonical))
        if target is not None and target.canonical != canonical and alias_key(canonical) != key:
            raise AliasRefused(str(ERR_CHAIN).format(canonical=canonical, target=target.canonical, value=value))
        if alias_key(canonical) != key and any(alias_key(a.canonical) == key for a in by_key.values()):
            raise AliasRefused(str(ERR_IS_CANONICAL).format(value=value))
        version = AliasVersion.objects.create(username=_actor_name(actor), change=f"{dimension}: {value} -> {canonical}"[:300])
        replaced = by_key.get(key)
        if replaced is not None:
            SegmentAlias.objects.filter(pk=replaced.pk).update(retired_in=version)
        alias = SegmentAlias.objects.create(dimension=dimension, value=value, key=key, canonical=canonical,
                                            added_in=version)
        version.relabelled = {dimension: relabel_stored(dimension=dimension)}
        version.save(update_fields=["relabelled"])
        audit_record(action=Action.ALIAS_ADD, actor=actor, request=request, target=alias, details={
            "version": version.pk, "dimension": dimension, "value": value, "canonical": canonical,
            "replaced": replaced.canonical if replaced is not None else None, **version.relabelled[dimension],
        })
        _recompute_request()
    return version


def alias_retire(*, alias: SegmentAlias, actor: Any = None, request: HttpRequest | None = None) -> AliasVersion:
    """Stop applying an alias to new imports. Customers already re-labelled keep their label."""
    with transaction.atomic():
        version = AliasVersion.objects.create(
            username=_actor_name(actor), change=f"{alias.dimension}: {alias.value} -/-> {alias.canonical}"[:300])
        SegmentAlias.objects.filter(pk=alias.pk, retired_in__isnull=True).update(retired_in=version)
        audit_record(action=Action.ALIAS_RETIRE, actor=actor, request=request, target=alias, details={
            "version": version.pk, "dimension": alias.dimension, "value": alias.value, "canonical": alias.canonical,
        })
    return version


def _recompute_request() -> None:
    from metrics.services import snapshots_request_recompute

    try:
        snapshots_request_recompute(from_month=None, trigger="aliases")
    except Exception:
        logger.exception("the snapshot recompute after an alias change could not be queued")


def relabel_stored(*, dimension: str) -> dict[str, int]:
    """Re-label the stored customers and cost entries of `dimension` by the aliases in force:
    one UPDATE per canonical value. A cost entry whose re-labelled key is already taken (the same
    month and kind stored under both spellings) is left as it is and counted."""
    aliases = aliases_current(dimension=dimension)
    values = (Customer.objects.exclude(**{dimension: ""}).order_by().values_list(dimension, flat=True).distinct())
    plan = relabel_plan(values=values, aliases=aliases)
    customers = 0
    for canonical, raws in _by_canonical(plan).items():
        customers += Customer.objects.filter(**{f"{dimension}__in": raws}).update(**{dimension: canonical})
    cost_values = (CostEntry.objects.filter(segment_dimension=dimension).order_by()
                   .values_list("segment_value", flat=True).distinct())
    costs = conflicts = 0
    for canonical, raws in _by_canonical(relabel_plan(values=cost_values, aliases=aliases)).items():
        marks = ", ".join(["%s"] * len(raws))
        with default_connection.cursor() as cursor:
            cursor.execute(
                "UPDATE customers_costentry SET segment_value = %s WHERE segment_dimension = %s "
                f"AND segment_value IN ({marks}) AND NOT EXISTS (SELECT 1 FROM customers_costentry e "
                "WHERE e.segment_dimension = customers_costentry.segment_dimension AND e.segment_value = %s "
                "AND e.month = customers_costentry.month AND e.kind = customers_costentry.kind)",
                [canonical, dimension, *raws, canonical],
            )
            costs += int(cursor.rowcount)
        conflicts += CostEntry.objects.filter(segment_dimension=dimension, segment_value__in=raws).count()
    return {"customers": customers, "cost_entries": costs, "cost_entries_left": conflicts}


def _by_canonical(plan: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for raw, canonical in plan.items():
        grouped.setdefault(canonical, []).append(raw)
    return grouped


# --- Imports ----------------------------------------------------------------------------------


def _distinct(connection: BaseDatabaseWrapper, sql: str, params: list[Any] | None = None) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return [row[0] for row in cursor.fetchall()]


def _case_update(connection: BaseDatabaseWrapper, table: str, column: str, plan: dict[str, str],
                 where: str = "", params: list[Any] | None = None) -> int:
    if not plan:
        return 0
    whens = " ".join("WHEN %s THEN %s" for _ in plan)
    marks = ", ".join(["%s"] * len(plan))
    args: list[Any] = [x for pair in plan.items() for x in pair]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = CASE {column} {whens} ELSE {column} END "
                       f"WHERE {column} IN ({marks}){where}", [*args, *plan, *(params or [])])
        return int(cursor.rowcount)


def staging_apply(*, connection: BaseDatabaseWrapper, table: str, kind: str, attributes: tuple[str, ...]) -> dict[str, int]:
    """Replace aliased values in the staging table by their canonical value; rows changed per dimension."""
    changed: dict[str, int] = {}
    if kind == "costs":
        for dimension in DIMENSIONS:
            aliases = aliases_current(dimension=dimension)
            if not aliases:
                continue
            values = _distinct(connection, f"SELECT DISTINCT segment_value FROM {table} WHERE segment_dimension = %s",
                               [dimension])
            plan = relabel_plan(values=values, aliases=aliases)
            if plan:
                changed[dimension] = _case_update(connection, table, "segment_value", plan,
                                                  " AND segment_dimension = %s", [dimension])
        return changed
    for dimension in DIMENSIONS:
        if dimension not in attributes:
            continue
        aliases = aliases_current(dimension=dimension)
        if not aliases:
            continue
        plan = relabel_plan(values=_distinct(connection, f"SELECT DISTINCT {dimension} FROM {table}"), aliases=aliases)
        if plan:
            changed[dimension] = _case_update(connection, table, dimension, plan)
    return changed


def staging_new_values(*, connection: BaseDatabaseWrapper, table: str, attributes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The file's segment values no stored customer carries yet (run before the write), with the
    number of the file's customers that carry each; the most common first, at most 20 per dimension."""
    found: list[dict[str, Any]] = []
    for dimension in DIMENSIONS:
        if dimension not in attributes:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.v, s.n FROM (SELECT {dimension} AS v, count(DISTINCT customer_ext) AS n FROM {table} "
                f"WHERE {dimension} <> '' GROUP BY {dimension}) s WHERE NOT EXISTS "
                f"(SELECT 1 FROM customers_customer c WHERE c.{dimension} = s.v) ORDER BY s.n DESC, s.v LIMIT %s",
                [NEW_VALUES_SHOWN],
            )
            found += [{"dimension": dimension, "value": v, "customers": int(n)} for v, n in cursor.fetchall()]
    return found
