"""Demo data: a believable business over three years, generated deterministically.

1. Customers arrive month by month (growing), each with segment attributes (a few left blank).
2. Each month a customer is alive with a survival rate that depends on the channel; alive
   customers buy with some probability; lapsed ones sometimes come back (reactivation).
3. Orders carry revenue and cost of goods (some without cost); some are refunded later.
4. Monthly acquisition and retention costs, some tagged to a segment.
5. Referrals: a share of new customers (most of the Referral channel's) name an existing
   customer who referred them; a few ambassadors refer many.
Running it again changes nothing (the data is keyed by one ImportJob named DEMO_SOURCE)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from clv_dashboard import roles
from customers.models import CostEntry, Customer, ImportJob, SegmentDimension, Transaction

DEMO_SOURCE = "seed_demo"
DEMO_USERS = [
    ("executive", "demo-executive-2026", roles.EXECUTIVE),
    ("analyst", "demo-analyst-2026", roles.ANALYST),
    ("admin", "demo-admin-2026", roles.ADMIN),
]
REGIONS = ["North", "South", "East", "West", "Central"]
PRODUCT_LINES = ["Apparel", "Electronics", "Home", "Beauty"]
BUSINESS_UNITS = ["Retail", "Wholesale", "Online"]
CHANNELS = ["Search", "Social", "Referral", "Email", "Store"]
# Monthly survival by channel: referrals stay longest, social the shortest.
SURVIVAL = {"Search": 0.93, "Social": 0.88, "Referral": 0.96, "Email": 0.94, "Store": 0.92, "": 0.91}
BASE_ORDER_VALUE = {"Apparel": 220.0, "Electronics": 650.0, "Home": 380.0, "Beauty": 160.0, "": 300.0}
BATCH = 5000


@dataclass(frozen=True)
class DemoResult:
    created: bool
    customers: int
    transactions: int
    cost_entries: int
    first_month: dt.date
    last_month: dt.date


def _month_add(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _last_closed_month(today: dt.date) -> dt.date:
    return _month_add(today.replace(day=1), -1)


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Create (or reset) one demo user per role; returns (username, password, role)."""
    roles.sync_role_groups(group_model=Group, permission_model=Permission)
    user_model = get_user_model()
    for username, password, role in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = role == roles.ADMIN
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return DEMO_USERS


def _pick(rng: np.random.Generator, values: list[str], n: int, blank_share: float) -> np.ndarray:
    picked = rng.choice(np.array(values, dtype=object), size=n)
    picked[rng.random(n) < blank_share] = ""
    return picked


def _referrers(*, arrival: np.ndarray, channel: np.ndarray, seed: int) -> np.ndarray:
    """For each customer, the index of the existing customer who referred them, or -1.

    Customers arrive in order (arrival is sorted) and buy in the month they arrive, so a
    referrer who arrived in an earlier month first bought earlier: every referral counts
    (METRICS.md, Referrals). About 15% of new customers are referred, 80% of the Referral
    channel's; one customer in fifty is an ambassador, thirty times as likely to be named.
    A generator of its own: the rest of the demo business stays as it was."""
    rng = np.random.default_rng(seed + 1_000)
    n = len(arrival)
    referred = np.full(n, -1, dtype=np.int64)
    weight = np.where(rng.random(n) < 0.02, 30.0, 1.0)
    share = np.where(channel == "Referral", 0.8, 0.15)
    for i in np.flatnonzero(rng.random(n) < share):
        earlier = int(np.searchsorted(arrival, arrival[i], side="left"))  # customers of earlier months
        if earlier == 0:
            continue
        w = weight[:earlier]
        referred[i] = int(rng.choice(earlier, p=w / w.sum()))
    return referred


@transaction.atomic
def demo_seed(*, customers: int = 4000, months: int = 36, seed: int = 7, today: dt.date | None = None) -> DemoResult:
    """Create the demo business unless it exists already."""
    last_month = _last_closed_month(today or dt.date.today())  # noqa: DTZ011 - a calendar date is wanted
    first_month = _month_add(last_month, -(months - 1))
    existing = ImportJob.objects.filter(original_name=DEMO_SOURCE).first()
    if existing is not None:
        return DemoResult(
            created=False,
            customers=Customer.objects.filter(external_id__startswith="DEMO-").count(),
            transactions=existing.transactions.count(),
            cost_entries=existing.cost_entries.count(),
            first_month=first_month,
            last_month=last_month,
        )

    rng = np.random.default_rng(seed)
    params = f"{customers}:{months}:{seed}:{first_month}"
    job = ImportJob.objects.create(
        kind=ImportJob.Kind.TRANSACTIONS,
        original_name=DEMO_SOURCE,
        sha256=hashlib.sha256(params.encode()).hexdigest(),
        status=ImportJob.Status.SUCCEEDED,
        message="Demo data",
    )

    # 1. Customers, arriving with growth: later months bring more customers.
    weights = np.linspace(1.0, 2.5, months)
    arrival = np.sort(rng.choice(months, size=customers, p=weights / weights.sum()))
    region = _pick(rng, REGIONS, customers, 0.05)
    product_line = _pick(rng, PRODUCT_LINES, customers, 0.04)
    business_unit = _pick(rng, BUSINESS_UNITS, customers, 0.06)
    channel = _pick(rng, CHANNELS, customers, 0.05)
    referred_by = _referrers(arrival=arrival, channel=channel, seed=seed)
    Customer.objects.bulk_create(
        [
            Customer(
                external_id=f"DEMO-{i + 1:06d}",
                name=f"Customer {i + 1}",
                region=region[i],
                product_line=product_line[i],
                business_unit=business_unit[i],
                acquisition_channel=channel[i],
                referred_by=None if referred_by[i] < 0 else f"DEMO-{referred_by[i] + 1:06d}",
            )
            for i in range(customers)
        ],
        batch_size=BATCH,
    )
    ids = dict(Customer.objects.filter(external_id__startswith="DEMO-").values_list("external_id", "pk"))

    # 2. Monthly life: alive/lapsed, purchases, and occasional reactivation.
    survival = np.array([SURVIVAL[c] for c in channel])
    value_base = np.array([BASE_ORDER_VALUE[p] for p in product_line])
    buy_prob = rng.uniform(0.2, 0.55, customers)
    alive = np.zeros(customers, dtype=bool)
    rows: list[Transaction] = []
    acquired_per_month = np.zeros(months, dtype=int)
    active_per_month = np.zeros(months, dtype=int)
    order_no = 0
    for m in range(months):
        month = _month_add(first_month, m)
        days_in_month = (_month_add(month, 1) - month).days
        arriving = arrival == m
        acquired_per_month[m] = int(arriving.sum())
        survived = alive & (rng.random(customers) < survival)
        comeback = (~alive) & (arrival < m) & (rng.random(customers) < 0.012)
        alive = survived | comeback | arriving
        buying = arriving | (alive & (rng.random(customers) < buy_prob))
        active_per_month[m] = int(alive.sum())
        for i in np.flatnonzero(buying):
            order_no += 1
            day = int(rng.integers(1, days_in_month + 1))
            revenue = round(float(value_base[i] * rng.lognormal(0.0, 0.45)), 2)
            if rng.random() < 0.01:
                revenue = 0.0  # a free sample: still a purchase
            cost = None if rng.random() < 0.08 else round(revenue * float(rng.uniform(0.5, 0.78)), 2)
            order_id = f"DEMO-O{order_no:07d}"
            rows.append(
                Transaction(
                    customer_id=ids[f"DEMO-{i + 1:06d}"],
                    order_id=order_id,
                    order_date=month.replace(day=day),
                    revenue=Decimal(f"{revenue:.2f}"),
                    cost=None if cost is None else Decimal(f"{cost:.2f}"),
                    import_job=job,
                )
            )
            # 3. About 4% of orders come back, part or whole, within a few weeks.
            if revenue > 0 and rng.random() < 0.04:
                refund_date = month.replace(day=day) + dt.timedelta(days=int(rng.integers(3, 40)))
                if refund_date <= _month_add(last_month, 1) - dt.timedelta(days=1):
                    share = 1.0 if rng.random() < 0.6 else float(rng.uniform(0.2, 0.8))
                    rows.append(
                        Transaction(
                            customer_id=ids[f"DEMO-{i + 1:06d}"],
                            order_id=f"{order_id}-R",
                            order_date=refund_date,
                            revenue=Decimal(f"{-revenue * share:.2f}"),
                            cost=None if cost is None else Decimal(f"{-cost * share:.2f}"),
                            import_job=job,
                        )
                    )
    Transaction.objects.bulk_create(rows, batch_size=BATCH)

    # 4. Costs: acquisition ~ new customers x CAC, retention ~ active customers x spend;
    #    a share of each is tagged to a region or a channel.
    costs: list[CostEntry] = []
    for m in range(months):
        month = _month_add(first_month, m)
        acquisition = acquired_per_month[m] * float(rng.uniform(180, 320))
        retention = active_per_month[m] * float(rng.uniform(6, 14))
        tagged_region = REGIONS[m % len(REGIONS)]
        tagged_channel = CHANNELS[m % len(CHANNELS)]
        entries = [
            (CostEntry.Kind.ACQUISITION, acquisition * 0.7, "", ""),
            (CostEntry.Kind.ACQUISITION, acquisition * 0.3, SegmentDimension.ACQUISITION_CHANNEL, tagged_channel),
            (CostEntry.Kind.RETENTION, retention * 0.8, "", ""),
            (CostEntry.Kind.RETENTION, retention * 0.2, SegmentDimension.REGION, tagged_region),
        ]
        costs.extend(
            CostEntry(
                month=month,
                kind=kind,
                amount=Decimal(f"{amount:.2f}"),
                segment_dimension=dimension,
                segment_value=value,
                import_job=job,
            )
            for kind, amount, dimension, value in entries
        )
    CostEntry.objects.bulk_create(costs)
    job.rows_total = job.rows_parsed = job.rows_written = len(rows)
    job.progress = 100
    job.save()
    return DemoResult(
        created=True,
        customers=customers,
        transactions=len(rows),
        cost_entries=len(costs),
        first_month=first_month,
        last_month=last_month,
    )
