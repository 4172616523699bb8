"""Redis down: pages are served from the database, quickly; an upload is stored and waits for
the service (a real worker started afterwards takes it up); "fit now" says the service is
unavailable and stores nothing. "Down" is a closed loopback port: a real refused connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from django.contrib.messages import get_messages
from django.test import Client

from clv_dashboard.background import MSG_FIT_UNAVAILABLE, MSG_IMPORT_WAITING
from clv_dashboard.cache import ResilientRedisCache
from clv_dashboard.celery import app as celery_app
from customers.models import ImportJob, Transaction
from metrics.models import PredictiveFit
from tests.metrics.board.builders import snapshots_create

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1
TX = b"customer_id,order_id,order_date,revenue\n" + b"".join(
    f"C{i % 50},O{i},2024-{i % 12 + 1:02d}-15,{i % 50}.25\n".encode() for i in range(500)
)


def _closed_cache() -> dict[str, Any]:
    return {"default": {"BACKEND": "clv_dashboard.cache.ResilientRedisCache", "LOCATION": CLOSED, "RETRY_AFTER": 5,
                        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}}}


@pytest.fixture
def broker_down(settings: Any) -> Iterator[None]:
    """The app's broker and cache point at a closed port; tasks are sent, not run in-process."""
    settings.CACHES = _closed_cache()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    down = Celery("redis-down", broker=CLOSED, set_as_current=False)
    down.config_from_object("django.conf:settings", namespace="CELERY")
    down.conf.broker_url = CLOSED
    down.conf.task_always_eager = False
    down.set_current()
    yield
    celery_app.set_current()


def test_the_cache_degrades_to_none_and_then_stops_trying_for_a_while() -> None:
    cache = ResilientRedisCache(CLOSED, {"RETRY_AFTER": 5, "OPTIONS": {"socket_connect_timeout": 0.25}})
    started = time.monotonic()
    assert cache.get("k", "fallback") == "fallback"
    cache.set("k", 1)
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("k", 1) is False
    assert time.monotonic() - started < 1.0
    assert cache.available is False  # the next calls do not touch the network


@pytest.mark.redis
def test_the_cache_keeps_one_redis_client_for_its_calls(settings: Any) -> None:
    cache = ResilientRedisCache(settings.REDIS_URL, {"OPTIONS": {"socket_connect_timeout": 1}})
    cache.set("reused-client", {"n": 1})
    assert cache.get("reused-client") == {"n": 1}
    assert cache.get_many(["reused-client", "absent"]) == {"reused-client": {"n": 1}}
    inner: Any = cache._cache  # type: ignore[attr-defined]  # Django's RedisCacheClient, untyped in its stubs
    client = inner.get_client()
    assert inner.get_client(write=True) is client  # one server: reads and writes share it
    cache.delete("reused-client")
    assert cache.get("reused-client", "gone") == "gone"
    assert inner.get_client() is client


@pytest.mark.parametrize("url", ["/board/", "/board/pack/", "/customers/", "/api/v1/snapshots/", "/assumptions/"])
def test_pages_serve_from_the_database_when_redis_is_down(
    db: None, broker_down: None, client_as: Callable[[str | None], Client], url: str,
) -> None:
    snapshots_create(months=14)
    client = client_as("Admin")
    started = time.monotonic()
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    assert time.monotonic() - started < 5.0
    if url == "/board/":
        assert b"tile" in response.content


def test_healthz_answers_within_a_second_when_redis_is_down(db: None, broker_down: None, monkeypatch: Any) -> None:
    from clv_dashboard import health

    monkeypatch.setattr(health, "celery_app", Celery("health-down", broker=CLOSED, set_as_current=False))
    started = time.monotonic()
    response = Client().get("/healthz")
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503 and response.json()["checks"]["broker"]["ok"] is False


def test_fit_now_says_the_service_is_unavailable_and_stores_nothing(
    db: None, broker_down: None, client_as: Callable[[str | None], Client],
) -> None:
    client = client_as("Analyst")
    started = time.monotonic()
    response = client.post("/customers/fit/")
    assert time.monotonic() - started < 3.0
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [str(MSG_FIT_UNAVAILABLE)]
    assert not PredictiveFit.objects.exists()


def _upload(client: Client) -> tuple[Any, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    started = time.monotonic()
    response = client.post("/imports/", {"kind": "transactions", "file": SimpleUploadedFile("t.csv", TX, "text/csv"),
                                         "date_order": ""})
    return response, time.monotonic() - started


@pytest.mark.worker
def test_an_upload_with_redis_down_is_stored_and_imported_once_a_worker_starts_after_it_is_back(
    start_worker: Callable[..., Any], settings: Any, client_as: Callable[[str | None], Client],
) -> None:
    # The worker process uses the test settings' own MEDIA_ROOT, as this process does.
    down = Celery("redis-down", set_as_current=False)
    down.config_from_object("django.conf:settings", namespace="CELERY")
    down.conf.broker_url = CLOSED
    down.conf.task_always_eager = False
    settings.CACHES = _closed_cache()
    client = client_as("Analyst")
    down.set_current()
    try:
        settings.CELERY_TASK_ALWAYS_EAGER = False
        response, seconds = _upload(client)
    finally:
        celery_app.set_current()
    assert response.status_code == 302 and seconds < 5.0
    assert [str(m) for m in get_messages(response.wsgi_request)] == [str(MSG_IMPORT_WAITING)]
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.PENDING and job.celery_task_id == ""
    assert job.message == str(MSG_IMPORT_WAITING)
    page = client.get(f"/imports/{job.pk}/")
    assert str(MSG_IMPORT_WAITING) in page.content.decode()

    # Redis is back (the shared one); the worker's start sweeps the waiting job into the queue.
    worker = start_worker()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status not in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING):
            break
        time.sleep(0.3)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.status, job.message, worker.log()[-3000:])
    assert Transaction.objects.filter(import_job=job).count() == 500
    assert job.attempts == 1
