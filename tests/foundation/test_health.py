from __future__ import annotations

import time
from typing import Any

import pytest
from celery import Celery
from django.test import Client

from clv_dashboard import health


def _app_with_broker(url: str) -> Celery:
    """A separate Celery app, so the shared one keeps its connection pool."""
    return Celery("health-test", broker=url, set_as_current=False)


def test_healthz_is_open_to_logged_out_visitors_and_reports_each_check(db: None) -> None:
    response = Client().get("/healthz")
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_200_with_in_process_tasks(db: None, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_is_503_when_the_broker_cannot_be_reached(db: None, settings: Any, monkeypatch: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Nothing listens on port 1: a real refused connection.
    monkeypatch.setattr(health, "celery_app", _app_with_broker("redis://127.0.0.1:1/0"))
    started = time.monotonic()
    response = Client().get("/healthz")
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["workers"]["ok"] is False


@pytest.mark.redis
def test_healthz_is_503_when_no_worker_answers(db: None, settings: Any, monkeypatch: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # A Redis database where no worker listens.
    monkeypatch.setattr(health, "celery_app", _app_with_broker(settings.REDIS_URL.rsplit("/", 1)[0] + "/9"))
    started = time.monotonic()
    response = Client().get("/healthz")
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is True
    assert response.json()["checks"]["workers"]["ok"] is False
