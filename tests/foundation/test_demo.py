from __future__ import annotations

import datetime as dt
from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from clv_dashboard.demo import DEMO_USERS, demo_seed
from customers.models import CostEntry, Customer, Transaction


def test_demo_business_has_segments_refunds_missing_costs_and_tagged_costs(db: None) -> None:
    result = demo_seed(customers=600, months=36, today=dt.date(2026, 11, 22))
    assert result.created
    assert result.first_month == dt.date(2023, 11, 1) and result.last_month == dt.date(2026, 10, 1)
    assert Customer.objects.count() == 600
    for field in ["region", "product_line", "business_unit", "acquisition_channel"]:
        values = set(Customer.objects.values_list(field, flat=True))
        assert "" in values and len(values) >= 4, field
    assert Transaction.objects.filter(revenue__lt=0).exists()
    assert Transaction.objects.filter(cost__isnull=True).exists()
    assert CostEntry.objects.exclude(segment_dimension="").exists()
    assert CostEntry.objects.filter(segment_dimension="").exists()
    assert not Transaction.objects.filter(order_date__gt=dt.date(2026, 10, 31)).exists()


def test_seeding_twice_adds_nothing_and_prints_the_demo_logins(db: None) -> None:
    out = StringIO()
    call_command("seed_demo", customers=300, no_recompute=True, stdout=out)
    counts = (Customer.objects.count(), Transaction.objects.count(), CostEntry.objects.count())
    call_command("seed_demo", customers=300, no_recompute=True, stdout=out)
    assert (Customer.objects.count(), Transaction.objects.count(), CostEntry.objects.count()) == counts
    text = out.getvalue()
    assert "already present" in text
    for username, password, role in DEMO_USERS:
        assert password in text
        user = authenticate(username=username, password=password)
        assert user is not None and user.groups.filter(name=role).exists()
