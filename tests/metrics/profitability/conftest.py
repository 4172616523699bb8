from __future__ import annotations

import pytest

from .db import hand_worked_business


@pytest.fixture
def business(db: None) -> dict[str, int]:
    return hand_worked_business()
