"""Fixtures of the valuation tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def no_fit(settings: Any) -> None:
    """A recompute without the model fit and the cost allocation that follow it: the valuation
    tests need the snapshots (and the valuation) only."""
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    settings.CLV_PROFITABILITY_AFTER_RECOMPUTE = False
