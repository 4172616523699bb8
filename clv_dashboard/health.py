"""Checks behind /healthz: the database, the broker and the workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection

from .celery import app as celery_app

IN_PROCESS = "in-process"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return Check(ok=True, detail=connection.vendor)


# /healthz answers within a second even with Redis or the workers gone: each probe has a short
# timeout of its own and the worker ping is skipped when the broker is unreachable.
BROKER_TIMEOUT_SECONDS = 0.3
WORKER_PING_SECONDS = 0.4


def check_broker() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(ok=True, detail=IN_PROCESS)
    url = str(celery_app.conf.broker_url or "")
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
                                          socket_timeout=BROKER_TIMEOUT_SECONDS)
            try:
                client.ping()
            finally:
                client.close()
        else:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return Check(ok=True, detail="reachable")


def check_workers() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(ok=True, detail=IN_PROCESS)
    try:
        replies = celery_app.control.ping(timeout=WORKER_PING_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
    if not replies:
        return Check(ok=False, detail="no worker answered; start one with: celery -A clv_dashboard worker")
    return Check(ok=True, detail=f"{len(replies)} worker(s)")


def health_report() -> tuple[bool, dict[str, dict[str, object]]]:
    checks = {"database": check_database(), "broker": check_broker()}
    # Workers can only answer through a broker that works.
    checks["workers"] = check_workers() if checks["broker"].ok else Check(ok=False, detail="broker unreachable")
    healthy = all(c.ok for c in checks.values())
    return healthy, {name: asdict(c) for name, c in checks.items()}
