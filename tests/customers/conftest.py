"""Helpers for the import tests: files are built in the tests, run through the real service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from customers.models import ImportJob
from customers.services import columnar, import_claim, import_create, import_run


@pytest.fixture(autouse=True)
def _media_root(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> None:
    # A worker process reads the test settings' own MEDIA_ROOT, so its tests keep that one.
    if request.node.get_closest_marker("worker") is None:
        settings.MEDIA_ROOT = tmp_path / "media"


def to_bytes(content: str | bytes, encoding: str = "utf-8") -> bytes:
    return content if isinstance(content, bytes) else content.encode(encoding)


@pytest.fixture
def run_import(db: None) -> Callable[..., ImportJob]:
    """Store `content` as an upload and run the import in this process; returns the finished job."""

    def run(kind: str, content: str | bytes, *, encoding: str = "utf-8", name: str = "data.csv",
            **options: Any) -> ImportJob:
        job = import_create(kind=kind, chunks=[to_bytes(content, encoding)], original_name=name, enqueue=False,
                            language="en", **options)
        claimed = import_claim(job_id=job.pk)
        assert claimed is not None
        return import_run(job=claimed)

    return run


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of the columnar reader of about 2 KB (some 60 rows), so that a test file has many."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 2 << 10)


def table_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, for 'exactly as before' comparisons."""
    out = {}
    with connection.cursor() as cursor:
        for table, order in [("customers_customer", "external_id"), ("customers_transaction", "id"),
                             ("customers_costentry", "id")]:
            cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = list(cursor.fetchall())
    return out


@pytest.fixture(autouse=True)
def recompute_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The recompute the imports ask for (metrics' task) is recorded here instead of run eagerly
    inside these tests; the worker test runs the real one."""
    import metrics.services

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(metrics.services, "snapshots_request_recompute", lambda **kw: calls.append(kw))
    return calls


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Messages are compared in English; a request in Chinese must not leak into the next test."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
