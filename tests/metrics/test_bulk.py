"""Rewriting a whole table (metrics.bulk): the keys and indexes come back as they were, the
keys still refuse duplicates, and a failure before the commit leaves the old rows."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from metrics.bulk import emptied_for_refill
from metrics.models import CustomerActivityState, CustomerProfitability

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _schema(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "ORDER BY conname", [table])
        constraints = cursor.fetchall()
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        return constraints, cursor.fetchall()


def _state_rows() -> list[tuple[int, int, int]]:
    return sorted(CustomerActivityState.objects.values_list("customer_id", "first_purchase_month",
                                                            "last_purchase_month"))


@pytest.mark.parametrize(("model", "primary_key"), [(CustomerProfitability, False), (CustomerActivityState, True)])
def test_the_keys_and_indexes_come_back_as_they_were(model: type[Model], primary_key: bool) -> None:
    table = model._meta.db_table
    before = _schema(table)
    assert before[1], "the table has indexes to drop and build again"
    with transaction.atomic(), connection.cursor() as cursor:
        rebuild = emptied_for_refill(cursor=cursor, table=table, primary_key=primary_key)
        dropped = _schema(table)
        for sql in rebuild:
            cursor.execute(sql)
    assert len(dropped[1]) < len(before[1])  # they were dropped while the table was filled
    assert _schema(table) == before


def test_the_rows_are_replaced_and_the_rebuilt_key_refuses_a_duplicate() -> None:
    CustomerActivityState.objects.bulk_create([CustomerActivityState(customer_id=i, first_purchase_month=24000,
                                                                     last_purchase_month=24005) for i in (1, 2, 3)])
    table = CustomerActivityState._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        rebuild = emptied_for_refill(cursor=cursor, table=table, primary_key=True)
        cursor.execute(f"INSERT INTO {table} VALUES (2, 24001, 24002), (4, 24003, 24004)")
        for sql in rebuild:
            cursor.execute(sql)
    assert _state_rows() == [(2, 24001, 24002), (4, 24003, 24004)]
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerActivityState.objects.create(customer_id=4, first_purchase_month=1, last_purchase_month=1)


def test_a_duplicate_row_fails_the_rebuild_and_the_old_rows_stay() -> None:
    CustomerActivityState.objects.create(customer_id=7, first_purchase_month=24000, last_purchase_month=24001)
    table = CustomerActivityState._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        rebuild = emptied_for_refill(cursor=cursor, table=table, primary_key=True)
        cursor.execute(f"INSERT INTO {table} VALUES (8, 1, 1), (8, 2, 2)")
        for sql in rebuild:
            cursor.execute(sql)
    assert _state_rows() == [(7, 24000, 24001)]
    assert _schema(table)[0], "the primary key is back"
