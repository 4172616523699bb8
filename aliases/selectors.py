"""Reads for the aliases page: the aliases in force, the values stored per dimension, the versions."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from customers.models import Customer, SegmentDimension

from .models import AliasVersion, SegmentAlias

VALUES_SHOWN = 50


def aliases_in_force() -> list[SegmentAlias]:
    return list(SegmentAlias.objects.filter(retired_in__isnull=True).select_related("added_in"))


def values_in_use() -> list[dict[str, Any]]:
    """Per dimension, the stored values with their number of customers (GROUP BY in SQL)."""
    out = []
    for dimension, label in SegmentDimension.choices:
        rows = (Customer.objects.exclude(**{dimension: ""}).order_by().values(dimension)
                .annotate(n=Count("id")).order_by("-n", dimension)[:VALUES_SHOWN])
        out.append({"dimension": dimension, "label": label,
                    "values": [{"value": r[dimension], "customers": r["n"]} for r in rows]})
    return out


def versions_recent(limit: int = 15) -> list[AliasVersion]:
    return list(AliasVersion.objects.all()[:limit])
