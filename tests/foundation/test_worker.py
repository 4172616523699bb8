from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from clv_dashboard.celery import ping


@pytest.mark.worker
def test_a_real_worker_runs_a_task_end_to_end_through_redis(start_worker: Callable[[], Any]) -> None:
    start_worker()
    result = ping.delay()
    assert result.get(timeout=30) == "pong"


@pytest.mark.worker
def test_healthz_is_200_when_database_broker_and_worker_are_up(start_worker: Callable[[], Any], settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    start_worker()
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["workers"]["ok"] is True
