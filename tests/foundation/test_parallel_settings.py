"""The suite runs in parallel processes: each gets a Redis database and a media dir of its own."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

from clv_dashboard.settings.test import redis_url_of_worker


def test_each_worker_gets_the_redis_database_below_the_suites_own() -> None:
    assert redis_url_of_worker("redis://127.0.0.1:6379/15", 0) == "redis://127.0.0.1:6379/15"
    assert redis_url_of_worker("redis://127.0.0.1:6379/15", 2) == "redis://127.0.0.1:6379/13"
    assert redis_url_of_worker("redis://:secret@cache:6380/0", 1) == "redis://:secret@cache:6380/15"
    assert redis_url_of_worker("redis://127.0.0.1:6379", 1) == "redis://127.0.0.1:6379/15"


def test_this_process_uses_its_own_redis_database_and_media_dir() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    assert settings.MEDIA_ROOT.name == (worker or "main")
    if not settings.REDIS_URL:
        return  # no Redis in this run: nothing to share
    base = os.environ.get("CLV_TEST_REDIS_URL", settings.REDIS_URL)
    expected = redis_url_of_worker(base, int(worker[2:])) if worker else base
    caches: Any = settings.CACHES
    assert settings.REDIS_URL == caches["default"]["LOCATION"] == settings.CELERY_BROKER_URL == expected
    assert os.environ["REDIS_URL"] == expected  # what a process started by a test inherits
