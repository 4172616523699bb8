from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.metrics.board.builders import snapshots_create

FIRST_MONTH = dt.date(2023, 1, 1)
MONTHS = 36
LAST_MONTH = dt.date(2025, 12, 1)


def private_cache() -> dict[str, Any]:
    """A cache of the test's own, so that no test flushes the shared Redis database."""
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                        "LOCATION": f"board-test-{uuid.uuid4().hex}"}}


@pytest.fixture(autouse=True)
def _board_cache(request: pytest.FixtureRequest, settings: Any) -> None:
    """Tests marked `redis` use the configured (Redis) cache; the others a private one."""
    if request.node.get_closest_marker("redis") is None:
        settings.CACHES = private_cache()


@pytest.fixture
def board_snapshots(db: None) -> dict[str, int]:
    """36 months of company, region and channel snapshots with cohort cells (2023-01 .. 2025-12)."""
    return snapshots_create(months=MONTHS, first_month=FIRST_MONTH)
