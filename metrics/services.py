"""Writes of the metrics app: assumptions, snapshot recomputes."""

from __future__ import annotations

import datetime as dt

from django.db import transaction


def snapshots_request_recompute(*, from_month: dt.date | None = None, trigger: str) -> None:
    """Ask for a recompute once the current transaction commits (the hook imports call)."""
    from .tasks import recompute_snapshots

    kwargs = {"from_month": from_month.isoformat() if from_month else None, "trigger": trigger}
    transaction.on_commit(lambda: recompute_snapshots.delay(**kwargs))
