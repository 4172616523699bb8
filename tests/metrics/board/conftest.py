from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from tests.metrics.board.builders import snapshots_create

FIRST_MONTH = dt.date(2023, 1, 1)
MONTHS = 36
LAST_MONTH = dt.date(2025, 12, 1)


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def board_snapshots(db: None) -> dict[str, int]:
    """36 months of company, region and channel snapshots with cohort cells (2023-01 .. 2025-12)."""
    return snapshots_create(months=MONTHS, first_month=FIRST_MONTH)
