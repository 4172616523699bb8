from __future__ import annotations

import datetime as dt
from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from clv_dashboard.demo import DEMO_USERS, demo_seed, demo_users_ensure
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


# What each demo user reaches: 200 for the pages of their role, 403 (or the admin's own login)
# for the others. The pages are the ones in the navigation plus the API.
DEMO_PAGES = {
    "/board/": {"executive": 200, "analyst": 200, "admin": 200},
    "/customers/": {"executive": 200, "analyst": 200, "admin": 200},
    "/assumptions/": {"executive": 200, "analyst": 200, "admin": 200},
    "/api/v1/snapshots/": {"executive": 200, "analyst": 200, "admin": 200},
    "/imports/": {"executive": 403, "analyst": 200, "admin": 200},
    "/admin/": {"executive": 302, "analyst": 302, "admin": 200},
}


def test_each_demo_user_sees_the_pages_of_their_role_and_is_refused_the_others(db: None) -> None:
    from django.test import Client

    demo_seed(customers=120, months=12, today=dt.date(2026, 11, 22))
    demo_users_ensure()
    for username, password, _role in DEMO_USERS:
        client = Client()
        assert client.login(username=username, password=password), username
        for url, expected in DEMO_PAGES.items():
            response = client.get(url)
            assert response.status_code == expected[username], (username, url, response.status_code)
            if expected[username] == 302:
                assert response["Location"].startswith("/admin/login/"), (username, url)
        # Changing the assumptions is the admin's alone.
        change = client.post("/assumptions/", {})
        assert (change.status_code == 403) == (username != "admin"), (username, change.status_code)


def test_demo_business_has_referrals_that_count_and_a_few_prolific_referrers(db: None, settings: object) -> None:
    from django.db.models import Max, Sum

    from metrics.models import CustomerProfitability, MonthlySnapshot
    from metrics.services import snapshots_recompute

    settings.CLV_FIT_AFTER_RECOMPUTE = False  # type: ignore[attr-defined]
    settings.CLV_VALUATION_AFTER_RECOMPUTE = False  # type: ignore[attr-defined]
    demo_seed(customers=600, months=36, today=dt.date(2026, 11, 22))
    referred = Customer.objects.exclude(referred_by=None)
    assert 0.12 < referred.count() / 600 < 0.4
    # Most of the Referral channel's customers name a referrer (not those of the first month).
    channel = Customer.objects.filter(acquisition_channel="Referral")
    assert referred.filter(acquisition_channel="Referral").count() > 0.6 * channel.count()
    snapshots_recompute(trigger="test")
    company = MonthlySnapshot.objects.filter(scope_dimension="company")
    # Every demo referral names a customer who first bought in an earlier month: all count.
    assert company.aggregate(n=Sum("referred_new_customers"))["n"] == referred.count()
    assert company.filter(referral_share__gt=0).count() >= 30
    stored = CustomerProfitability.objects
    assert stored.aggregate(n=Sum("referrals_made"))["n"] == referred.count()
    assert stored.aggregate(top=Max("referrals_made"))["top"] >= 5
