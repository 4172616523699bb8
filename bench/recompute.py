#!/usr/bin/env python3
"""Benchmark of the snapshot recompute on PostgreSQL.

Loads a synthetic business (default 1,000,000 transactions, 100,000 customers, 36 months,
4 segment dimensions x 5 values, monthly costs) with COPY into a dedicated database, then runs
in fresh processes (so peak memory is the recompute's own):
  1. a full recompute (every month, every scope: company + 20 segments + cohort cells),
  2. the same full recompute without the per-customer profitability (cost allocation) step,
     so that the time the allocation adds is the difference of the two,
  3. an incremental recompute of the latest month,
and prints wall time and the process's peak resident memory for each.

With --partitions N it measures instead the full recompute as production runs it, on real
Celery workers (`celery worker --pool=solo`, a private queue on REDIS_URL): the single pass on
1 worker, then the stage in N customer-hash partitions (metrics.partitions) on 1 worker and on N
workers; it prints each run's wall time, the stage's time (from the first partition task's start
to the sum's end, from the workers' logs) and each worker's peak resident memory.

    python bench/recompute.py --no-load --partitions 2

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clv_bench python bench/recompute.py
    python bench/recompute.py --transactions 100000 --customers 10000     # a quick run

The database is emptied first: its name must contain "bench" (or pass --i-know).
Targets at 10,000,000 transactions and 1,000,000 customers: full < 30 s and < 300 MB;
incremental latest month < 3 s.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/clv_bench"
VALUES = {
    "region": ["North", "South", "East", "West", "Central"],
    "product_line": ["Apparel", "Electronics", "Home", "Beauty", "Sports"],
    "business_unit": ["Retail", "Wholesale", "Online", "Franchise", "B2B"],
    "acquisition_channel": ["Search", "Social", "Referral", "Email", "Store"],
}


MEASUREMENTS = ["full", "full-without-allocation", "incremental"]


def _django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clv_dashboard.settings.local")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    import django

    django.setup()
    from django.conf import settings

    settings.CLV_FIT_AFTER_RECOMPUTE = False  # measure the recompute, not the model fit


def _ensure_database() -> None:
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                            password=db["PASSWORD"] or None, dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


def load(*, transactions: int, customers: int, months: int, seed: int) -> None:
    """Generate the business with numpy and COPY it in (a few seconds for a million rows)."""
    import datetime as dt

    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(seed)
    start = dt.date(2023, 1, 1)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE customers_transaction, customers_costentry, metrics_monthlysnapshot, "
                    "metrics_cohortcell, metrics_recomputerun, customers_customer RESTART IDENTITY CASCADE")
    # Customers: arrival month skewed to later months; attributes uniform over 5 values.
    arrival = np.sort(rng.choice(months, size=customers, p=np.linspace(1, 2.5, months) / np.linspace(1, 2.5, months).sum()))
    attrs = {k: rng.integers(0, 5, customers) for k in VALUES}
    # Referrals (a generator of their own, so the rest of the data is as before): 20% of the
    # customers name an earlier customer (arrived no later: nearly all count), 1% themselves, 1%
    # an unknown id.
    ref_rng = np.random.default_rng(seed + 7)
    roll = ref_rng.random(customers)
    referrer = (ref_rng.random(customers) * np.arange(customers)).astype(np.int64)
    buf = io.StringIO()
    for i in range(customers):
        named = ("\\N" if roll[i] >= 0.22 or i == 0 else f"B{referrer[i] + 1:07d}" if roll[i] < 0.20
                 else f"B{i + 1:07d}" if roll[i] < 0.21 else f"Z{i:07d}")
        buf.write(f"{i + 1}\tB{i + 1:07d}\t\t" + "\t".join(VALUES[k][attrs[k][i]] for k in VALUES)
                  + f"\t{named}\t2024-01-01 00:00+00\t2024-01-01 00:00+00\n")
    buf.seek(0)
    raw = connection.connection
    with raw.cursor() as cur:
        cur.copy_expert("COPY customers_customer (id, external_id, name, region, product_line, business_unit, "
                        "acquisition_channel, referred_by, created_at, updated_at) FROM STDIN", buf)
        cur.execute("SELECT setval('customers_customer_id_seq', %s)", [customers])
    # Transactions: each picks a customer, in proportion to the months since their arrival (a
    # customer who arrived last month has had one month to buy in); its month is the arrival plus
    # a geometric gap drawn within the months the data hold, so customers lapse and some come
    # back. (Gaps used to be drawn unbounded and cut at the last month, which put 29% of all
    # transactions in it: an "incremental run of the latest month" then re-read 2.9 million of
    # 10 million; now each month holds about its share, 2.8% for the last one.) 5% refunds, 10%
    # without cost.
    tenure = months - arrival
    cust = rng.choice(customers, size=transactions, p=tenure / tenure.sum())
    # Inverse of the geometric distribution (p = 0.12) truncated to 1 .. tenure.
    p_gap, room = 0.12, tenure[cust]
    u = rng.random(transactions) * -np.expm1(room * np.log1p(-p_gap))
    gap = np.clip(np.ceil(np.log1p(-u) / np.log1p(-p_gap)).astype(np.int64), 1, room)
    month = arrival[cust] + gap - 1
    # Every customer's first order is in their arrival month.
    month[:customers] = arrival[np.arange(customers)]
    cust[:customers] = np.arange(customers)
    day = rng.integers(1, 29, transactions)
    revenue = np.round(rng.lognormal(4.5, 0.6, transactions), 2)
    refund = rng.random(transactions) < 0.05
    revenue[refund] = -revenue[refund]
    cost = np.round(revenue * rng.uniform(0.5, 0.8, transactions), 2)
    no_cost = rng.random(transactions) < 0.10
    month_dates = [(start.replace(year=start.year + (m // 12), month=m % 12 + 1)) for m in range(months)]
    chunk = 200_000
    with raw.cursor() as cur:
        for lo in range(0, transactions, chunk):
            hi = min(lo + chunk, transactions)
            out = io.StringIO()
            for j in range(lo, hi):
                d = month_dates[month[j]].replace(day=int(day[j]))
                c = "\\N" if no_cost[j] else f"{cost[j]:.2f}"
                out.write(f"{cust[j] + 1}\t\t{d.isoformat()}\t{revenue[j]:.2f}\t{c}\n")
            out.seek(0)
            cur.copy_expert("COPY customers_transaction (customer_id, order_id, order_date, revenue, cost) FROM STDIN", out)
        # Costs: untagged and tagged, both kinds, every month.
        rows = []
        for m in range(months):
            rows.append(f"{month_dates[m]}\tacquisition\t{100000 + 1000 * m}.00\t\t\n")
            rows.append(f"{month_dates[m]}\tretention\t{50000 + 500 * m}.00\t\t\n")
            for k, vals in VALUES.items():
                rows.append(f"{month_dates[m]}\tacquisition\t{5000 + m}.00\t{k}\t{vals[m % 5]}\n")
            # Tagged retention costs too, so that the allocation shares entries per segment.
            for value in VALUES["region"]:
                rows.append(f"{month_dates[m]}\tretention\t{2000 + m}.00\tregion\t{value}\n")
        cur.copy_expert("COPY customers_costentry (month, kind, amount, segment_dimension, segment_value) FROM STDIN",
                        io.StringIO("".join(rows)))
        cur.execute("ANALYZE customers_customer; ANALYZE customers_transaction; ANALYZE customers_costentry")
    raw.commit()
    # Set the hint bits and the visibility map now, or the first recompute's scans write them.
    raw.autocommit = True
    with raw.cursor() as cur:
        cur.execute("VACUUM ANALYZE customers_transaction")
    raw.autocommit = False
    print(f"loaded {customers:,} customers, {transactions:,} transactions, {months} months "
          f"in {time.perf_counter() - t0:.1f} s")


def measure(kind: str) -> None:
    import datetime as dt

    from django.conf import settings

    from metrics.models import CohortCell, CustomerProfitability, MonthlySnapshot
    from metrics.selectors import transactions_month_range
    from metrics.services import snapshots_recompute

    from_month = None
    settings.CLV_PROFITABILITY_AFTER_RECOMPUTE = kind != "full-without-allocation"
    if kind == "incremental":
        last = transactions_month_range().last_month  # type: ignore[union-attr]
        from_month = dt.date(last // 12, last % 12 + 1, 1)
    t0 = time.perf_counter()
    run = snapshots_recompute(from_month=from_month, trigger=f"bench-{kind}")
    elapsed = time.perf_counter() - t0
    # VmHWM: this process image's own peak. getrusage's ru_maxrss carries the loading parent's
    # peak over across fork and exec (about 1 GB after loading 10,000,000 transactions).
    peak_mb = next((int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmHWM:")), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"{kind:<24} {elapsed:7.2f} s   peak RSS {peak_mb:7.1f} MB   status {run.status}   "
          f"snapshots {MonthlySnapshot.objects.count():,}   cohort cells {CohortCell.objects.count():,}   "
          f"customer profit rows {CustomerProfitability.objects.count():,}")


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def _stage_report(log: str) -> str:
    """From the workers' log lines: the stage's task times (the single pass; or each partition and
    their sum: on N workers the partitions overlap, so the stage's wall time is less than their sum)."""
    import re

    single = re.findall(r"stage \(single pass\) in ([0-9.]+)s", log)
    parts = re.findall(r"stage partition \d+ of \d+ in ([0-9.]+)s", log)
    summed = re.findall(r"stage partitions summed in ([0-9.]+)s", log)
    if single:
        return f"stage {float(single[0]):.1f} s"
    if parts:
        return f"stage partitions {' + '.join(f'{float(p):.1f}' for p in parts)} s, sum {float(summed[0]) if summed else 0:.1f} s"
    return "stage not logged"


def measure_workers(*, partitions: int, workers: int, label: str) -> None:
    """One full recompute on `workers` real Celery workers with the stage in `partitions`."""
    import tempfile
    import uuid

    from clv_dashboard.celery import app
    from metrics.models import RecomputeRun
    from metrics.tasks import recompute_snapshots

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0", "CELERY_TASK_DEFAULT_QUEUE": queue,
           "CLV_RECOMPUTE_PARTITIONS": str(partitions), "CLV_FIT_AFTER_RECOMPUTE": "0"}
    logs, procs = [], []
    try:
        for n in range(workers):
            log = Path(tempfile.mkstemp(prefix=f"{queue}-{n}-", suffix=".log")[1])
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "clv_dashboard", "worker", "--pool=solo", "-Q", queue,
                 "-n", f"{queue}-{n}@bench", "--without-gossip", "--without-mingle", "-l", "INFO"],
                cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while len(app.control.ping(destination=[f"{queue}-{n}@bench" for n in range(workers)], timeout=0.5)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start: " + logs[0].read_text()[-2000:])
        task_id = uuid.uuid4().hex
        t0 = time.perf_counter()
        recompute_snapshots.apply_async(kwargs={"trigger": f"bench-{label}"}, task_id=task_id, queue=queue)
        while True:
            run = RecomputeRun.objects.filter(celery_task_id=task_id).first()
            if run is not None and run.status not in (RecomputeRun.Status.PENDING, RecomputeRun.Status.RUNNING):
                break
            if time.perf_counter() - t0 > 3600:
                raise RuntimeError("the recompute did not end within an hour")
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        peaks = " + ".join(f"{_peak_mb(p.pid):.0f}" for p in procs)
        stage = _stage_report("".join(log.read_text() for log in logs))
        print(f"{label:<26} {elapsed:7.2f} s   {stage}   workers' peak RSS {peaks} MB   status {run.status}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        for log in logs:
            log.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-load", action="store_true", help="reuse the data already loaded")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    parser.add_argument("--i-know", action="store_true", help="allow a database whose name lacks 'bench'")
    parser.add_argument("--partitions", type=int, default=0,
                        help="measure the full recompute on real Celery workers: 1 worker single pass, then N "
                             "partitions on 1 and on N workers (needs REDIS_URL)")
    parser.add_argument("--measure", choices=MEASUREMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _django()
    if args.measure:
        measure(args.measure)
        return 0
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        print("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    if "bench" not in str(name) and not args.i_know:
        print(f"Refusing to empty database {name!r}: use a database whose name contains 'bench'.", file=sys.stderr)
        return 2
    if args.no_load:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # the data stay; the schema follows the code
    else:
        _ensure_database()
        load(transactions=args.transactions, customers=args.customers, months=args.months, seed=args.seed)
    if args.partitions:
        if not os.environ.get("REDIS_URL"):
            print("--partitions needs Celery workers: set REDIS_URL=redis://...", file=sys.stderr)
            return 2
        print(f"cpu cores: {os.cpu_count()}; full recomputes on real Celery workers, the allocation included")
        cases = [(1, 1, "single pass, 1 worker")]
        if args.partitions > 1:
            cases += [(args.partitions, 1, f"{args.partitions} partitions, 1 worker"),
                      (args.partitions, args.partitions, f"{args.partitions} partitions, {args.partitions} workers")]
        for partitions, workers, label in cases:
            for _ in range(args.repeat):
                measure_workers(partitions=partitions, workers=workers, label=label)
        return 0
    print(f"cpu cores: {os.cpu_count()}; each measurement runs in a fresh process")
    for kind in MEASUREMENTS:
        for _ in range(args.repeat):
            subprocess.run([sys.executable, __file__, "--measure", kind], check=True, env=os.environ.copy())
    return 0


if __name__ == "__main__":
    sys.exit(main())
