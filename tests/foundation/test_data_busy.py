"""A page whose table a write holds until it commits (a large import building the transactions'
indexes after its rows, a recompute's rewrite) answers 503 in the web's lock wait, saying so,
instead of holding a server thread; once the write ends the page is back. On a real gunicorn:
gunicorn.conf.py marks the web process, whose connections then carry the lock_timeout."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import pytest
import requests
from django.db import connection
from django.utils import translation

from clv_dashboard import roles
from clv_dashboard.middleware import DatabaseBusyMiddleware
from customers.models import Customer, Transaction
from tests.foundation.conftest import Server, gunicorn_login

pytestmark = pytest.mark.postgres


def _locker() -> Any:
    params = connection.get_connection_params()
    return psycopg2.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")})


def test_a_page_on_a_table_held_by_a_write_answers_503_and_comes_back(gunicorn_server: Server, make_user: Any) -> None:
    customer = Customer.objects.create(external_id="C1")
    Transaction.objects.create(customer=customer, order_id="O1", order_date="2024-03-05", revenue=10)
    cookies = gunicorn_login(gunicorn_server, make_user(roles.EXECUTIVE).username)
    page = f"{gunicorn_server.url}/customers/{customer.pk}/"
    assert requests.get(page, cookies=cookies, timeout=30).status_code == 200
    writer = _locker()
    try:
        with writer.cursor() as cursor:  # as the import does before it drops the indexes
            cursor.execute("LOCK TABLE customers_transaction IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        busy = requests.get(page, cookies=cookies, timeout=60)
        waited = time.monotonic() - started
        board = requests.get(f"{gunicorn_server.url}/board/", cookies=cookies, timeout=30)  # not on that table: answers
    finally:
        writer.rollback()
        writer.close()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "60"
    assert "being written" in busy.text and "try again in a minute" in busy.text
    assert 4 < waited < 20, waited  # the web's wait (5 s by default), not the write's length
    assert board.status_code == 200
    assert requests.get(page, cookies=cookies, timeout=30).status_code == 200


class LockWaitEnded(Exception):
    pgcode = "55P03"  # what psycopg2 raises when lock_timeout runs out


def test_the_busy_page_is_in_the_readers_language(client_as: Any, transactional_db: None) -> None:
    request = client_as(roles.EXECUTIVE).get("/").wsgi_request
    with translation.override("zh-hans"):
        response = DatabaseBusyMiddleware(lambda r: None).process_exception(request, LockWaitEnded())  # type: ignore[arg-type, return-value]
    assert response is not None and response.status_code == 503
    assert "数据正在写入" in response.content.decode()
    assert DatabaseBusyMiddleware(lambda r: None).process_exception(request, ValueError()) is None  # type: ignore[arg-type, return-value]
