"""Results cached under the data version (metrics.datacache): the API's rows, the customers page's
totals, count, filters and table. Cached with real Redis, never stale after a write, and the
version read once per GET request."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clv_dashboard import roles
from customers.models import Customer
from metrics.board.selectors import board_data_version
from metrics.datacache import versioned_key
from metrics.models import PredictiveFit, RecomputeRun
from metrics.predictive.services import clv_models_fit
from metrics.services import snapshots_recompute
from tests.factories import CustomerFactory, TransactionFactory
from tests.metrics.predictive.db import business_simulate, buy

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
ClientAs = Callable[[str | None], Client]
VERSION_QUERY = "FROM metrics_recomputerun ORDER BY id DESC LIMIT 1"


@pytest.fixture
def months(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    north = CustomerFactory(region="North")
    for month in (1, 2):
        TransactionFactory(customer=north, order_date=dt.date(2024, month, 3))
    snapshots_recompute(trigger="test")


def _version_queries(queries: CaptureQueriesContext) -> int:
    return sum(VERSION_QUERY in q["sql"] for q in queries.captured_queries)


def test_the_api_answer_is_cached_and_follows_a_recompute(months: None, client_as: ClientAs) -> None:
    client = client_as(roles.EXECUTIVE)
    first = client.get("/api/v1/snapshots/")
    assert first.status_code == 200 and first["Content-Type"] == "application/json"
    assert [r["month"] for r in first.json()["results"]] == ["2024-01", "2024-02"]
    key = versioned_key(name="api-snapshots", parts=["segment=", "dimension=", "from=", "to="])
    assert cache.get(key) == first.content
    # Served from the cache: the same bytes, without reading a snapshot.
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/api/v1/snapshots/")
    assert again.content == first.content
    assert not any("metrics_monthlysnapshot\".\"month\"" in q["sql"] for q in queries.captured_queries)
    # A late order and its recompute: the next answer has the new month, not the cached one.
    TransactionFactory(customer=CustomerFactory(region="South"), order_date=dt.date(2024, 3, 9))
    snapshots_recompute(trigger="test")
    rows = client.get("/api/v1/snapshots/").json()["results"]
    assert [r["month"] for r in rows] == ["2024-01", "2024-02", "2024-03"]
    assert rows[-1]["customers_end"] == 2
    # Each filter has its own entry.
    north = client.get("/api/v1/snapshots/?segment=region=North").json()
    assert north["count"] == 3 and {r["scope_value"] for r in north["results"]} == {"North"}


def test_the_api_still_refuses_before_it_looks_in_the_cache(months: None, client_as: ClientAs) -> None:
    assert client_as(roles.EXECUTIVE).get("/api/v1/snapshots/").status_code == 200
    assert client_as("").get("/api/v1/snapshots/").status_code == 403
    assert client_as(None).get("/api/v1/snapshots/").status_code == 401
    assert client_as(roles.EXECUTIVE).get("/api/v1/snapshots/?dimension=planet").status_code == 400


def _customers_count(html: str) -> int:
    found = re.search(r'<p class="muted">([\d,]+) customers</p>', html)
    assert found, "no customer count on the page"
    return int(found.group(1).replace(",", ""))


def test_the_customers_page_caches_its_totals_and_follows_a_new_fit(settings: Any, client_as: ClientAs) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    customers = business_simulate(n=80)
    assert clv_models_fit(trigger="test").status == PredictiveFit.Status.SUCCEEDED
    client = client_as(roles.EXECUTIVE)
    with CaptureQueriesContext(connection) as cold:
        html = client.get("/customers/").content.decode()
    assert _customers_count(html) == len(customers)
    # One read of the data version per request, however many cached parts the page has.
    assert _version_queries(cold) == 1
    with CaptureQueriesContext(connection) as warm:
        assert client.get("/customers/").content.decode().count('class="badge tier-') == html.count('class="badge tier-')
    assert _version_queries(warm) == 1
    # Served from the cache: no count, no tier totals, no segment scan.
    assert not any("COUNT(" in q["sql"] and "metrics_customerprediction" in q["sql"] for q in warm.captured_queries)
    assert not any("DISTINCT" in q["sql"] for q in warm.captured_queries)
    # The fit in place and the latest fit come from the cache too (the version reads the fit table).
    assert not any('FROM "metrics_predictivefit"' in q["sql"] for q in warm.captured_queries)
    # More customers and a new fit: the page counts them at once and names the new fit.
    for i in range(20):
        buy(cast(Customer, CustomerFactory(external_id=f"LATE{i:02d}")), dt.date(2024, 6, 1 + i), dt.date(2024, 11, 1 + i))
    new_fit = clv_models_fit(trigger="test")
    assert new_fit.status == PredictiveFit.Status.SUCCEEDED
    response = client.get("/customers/")
    assert _customers_count(response.content.decode()) == len(customers) + 20
    assert response.context["fit"].pk == new_fit.pk == response.context["latest"].pk


@pytest.fixture
def request_signals() -> Iterator[tuple[Callable[[str], Any], Callable[[], Any]]]:
    """Start and finish a request by its signals, as the handler does, without the handler's
    closing of the database connection (the test runs in a transaction), as the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield (lambda method: request_started.send(sender=None, environ={"REQUEST_METHOD": method}),
               lambda: request_finished.send(sender=None))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_the_version_is_read_once_per_get_and_afresh_elsewhere(months: None, request_signals: Any) -> None:
    start, finish = request_signals
    before = board_data_version()
    start("GET")
    memo = board_data_version()
    RecomputeRun.objects.create(trigger="test")
    assert board_data_version() == memo == before
    finish()
    after = board_data_version()
    assert after != before
    # A POST (or a task, or a command) reads it afresh each time: it may write in between.
    start("POST")
    RecomputeRun.objects.create(trigger="test")
    assert board_data_version() != after
    finish()
