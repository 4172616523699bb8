#!/usr/bin/env python3
"""Import speed and memory: a generated transactions file, imported end to end, against a bare COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py [--rows 1000000] [--rounds 5]

1. Creates (drops first) the database `clv_bench_ingest` on that server and migrates it.
2. Writes a transactions CSV of --rows rows (customer_id, order_id, order_date, revenue, cost;
   200,000 customers, one order per row, amounts with thousands separators every 10th row),
   in order-id order, or in random order with --shuffle.
3. Times `manage.py import_csv transactions FILE` in a child process, end to end (start-up,
   validation, staging, the set-based write, commit), and reads that process's peak memory.
4. Times a bare `COPY ... FROM STDIN` of the same file into a table with the same indexes as
   customers_transaction (primary key, unique order id, order date, customer + date, import job)
   and the same byte-ordered order-id column (COLLATE "C", migration customers 0008).
5. Prints both times, their ratio (target <= 1.3; the first release's was 2.0) and the peak
   memory (target < 500 MB).
6. With --rounds N, does 3-5 N times, each round on a fresh database, alternating which of the
   two goes first, each after an untimed VACUUM ANALYZE and CHECKPOINT; prints every round and
   reports the median round (the bare COPY alone varies by a third on a busy machine).
7. With --reimport, also times importing the same file a second time (every order replaced).
8. With --keep-indexes, the import keeps the table's indexes up to date row by row, as it does
   when the table already holds many rows (without it, a large file into an empty table has
   them built after its rows: customers/services/bulkload.py).
9. With --xlsx, also writes the same rows as an Excel workbook (openpyxl, write-only; dates as
   Excel dates, amounts as numbers) and times importing that (the sheet streamed into a CSV,
   then the same import), with its peak memory.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "clv_bench_ingest"


def _url_for(url: str, dbname: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{dbname}"))


def _connect(url: str) -> psycopg2.extensions.connection:
    parts = urlparse(url)
    return psycopg2.connect(dbname=parts.path.lstrip("/") or "postgres", user=parts.username or "postgres",
                            password=parts.password, host=parts.hostname or "127.0.0.1", port=parts.port or 5432)


def generate(path: Path, rows: int, *, shuffle: bool = False, seed: int = 7) -> None:
    rng = random.Random(seed)
    order: range | list[int] = range(rows)
    if shuffle:  # the row numbers in random order (the permutation is held by this process only)
        order = list(order)
        rng.shuffle(order)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("customer_id,order_id,order_date,revenue,cost\n")
        for i in order:
            revenue = rng.randint(100, 500_000) / 100
            cost = revenue * rng.uniform(0.4, 0.8)
            text = f'"{revenue:,.2f}"' if i % 10 == 0 else f"{revenue:.2f}"
            day = 1 + i * 1826 // rows
            year, doy = 2020 + day // 366, day % 366
            f.write(f"CU{rng.randint(1, 200_000):07d},SO{i:08d},{year}-{doy // 31 % 12 + 1:02d}-{doy % 28 + 1:02d},"
                    f"{text},{cost:.2f}\n")


def generate_xlsx(path: Path, rows: int, *, seed: int = 7) -> None:
    """The rows of generate() as a workbook: a title row above the header, real dates and numbers."""
    import datetime as dt

    from openpyxl import Workbook

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Orders")
    sheet.append(["Orders export"])
    sheet.append(["customer_id", "order_id", "order_date", "revenue", "cost"])
    for i in range(rows):
        revenue = rng.randint(100, 500_000) / 100
        cost = round(revenue * rng.uniform(0.4, 0.8), 2)
        day = 1 + i * 1826 // rows
        year, doy = 2020 + day // 366, day % 366
        sheet.append([f"CU{rng.randint(1, 200_000):07d}", f"SO{i:08d}", dt.date(year, doy // 31 % 12 + 1, doy % 28 + 1),
                      revenue, cost])
    book.save(path)


def run_import(path: Path, database_url: str, *, keep_indexes: bool = False) -> tuple[float, float, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "0",
           "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.local", "CLV_MEDIA_ROOT": str(path.parent / "media"),
           # An operator loading 10,000,000 rows raises the upload limit (200 MB by default) likewise.
           "CLV_MAX_UPLOAD_MB": str(max(200, 2 * path.stat().st_size // (1 << 20)))}
    if keep_indexes:
        env["CLV_IMPORT_INDEX_BUILD_MIN_MB"] = str(10**9)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", "import_csv", "transactions", str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the import failed:\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output


def run_copy(path: Path, database_url: str) -> float:
    conn = _connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy")
        cur.execute(
            "CREATE TABLE bench_copy (id bigserial PRIMARY KEY, customer_id text NOT NULL,"
            ' order_id varchar(100) COLLATE "C" NOT NULL,'
            " order_date date NOT NULL, revenue numeric(18,2) NOT NULL, cost numeric(18,2), import_job_id bigint)"
        )
        cur.execute("CREATE UNIQUE INDEX ON bench_copy (order_id) WHERE NOT (order_id = '')")
        cur.execute("CREATE INDEX ON bench_copy (order_date)")
        cur.execute("CREATE INDEX ON bench_copy (customer_id, order_date)")
        cur.execute("CREATE INDEX ON bench_copy (import_job_id)")
    # The file's thousands separators are not numbers to COPY: it reads a copy with them removed
    # (made before the clock starts), the most favourable case for the baseline.
    plain = path.with_suffix(".plain.csv")
    with path.open(encoding="utf-8") as src, plain.open("w", encoding="utf-8") as dst:
        for line in src:
            if '"' in line:
                head, quoted, tail = line.split('"')
                line = head + quoted.replace(",", "") + tail
            dst.write(line)
    started = time.perf_counter()
    with conn.cursor() as cur, plain.open(encoding="utf-8") as f:
        cur.copy_expert("COPY bench_copy (customer_id, order_id, order_date, revenue, cost) FROM STDIN "
                        "WITH (FORMAT csv, HEADER true)", f)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shuffle", action="store_true", help="rows in random order (order ids unsorted)")
    parser.add_argument("--reimport", action="store_true", help="also time importing the same file again")
    parser.add_argument("--xlsx", action="store_true", help="also time the same rows as an Excel workbook")
    parser.add_argument("--keep-indexes", action="store_true",
                        help="the import keeps the indexes up to date instead of building them after the rows")
    parser.add_argument("--rounds", type=int, default=1,
                        help="import and bare COPY this many times, alternating which goes first; the median "
                             "round's ratio is reported (the bare COPY alone varies by a third on a busy machine)")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not server_url.startswith("postgres"):
        raise SystemExit("bench/ingest.py needs DATABASE_URL=postgres://... (any database on the server)")
    bench_url = _url_for(server_url, BENCH_DB)
    database_fresh(server_url)

    with tempfile.TemporaryDirectory(prefix="clv-ingest-") as tmp:
        if args.xlsx:
            book = Path(tmp) / "transactions.xlsx"
            started = time.perf_counter()
            generate_xlsx(book, args.rows)
            print(f"generated a workbook of {args.rows:,} rows ({book.stat().st_size / 1e6:.1f} MB) in "
                  f"{time.perf_counter() - started:.1f} s")
            xlsx_s, xlsx_mb, output = run_import(book, bench_url)
            print(output.strip())
            print(f"workbook import end to end: {xlsx_s:8.2f} s   peak memory: {xlsx_mb:.0f} MB")
            book.unlink()
        path = Path(tmp) / "transactions.csv"
        started = time.perf_counter()
        generate(path, args.rows, shuffle=args.shuffle)
        print(f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        rounds: list[tuple[float, float, float]] = []
        for number in range(args.rounds):
            # Each round from an empty database; the two timed steps alternate which goes first,
            # and each starts after a VACUUM ANALYZE and a CHECKPOINT (not timed), so that
            # neither pays for the other's writes.
            database_fresh(server_url)
            timings: dict[str, float] = {}
            for step in (("import", "copy") if number % 2 == 0 else ("copy", "import")):
                settle(bench_url)
                if step == "import":
                    timings["import"], peak_mb, output = run_import(path, bench_url, keep_indexes=args.keep_indexes)
                    if number == 0:
                        print(output.strip())
                else:
                    timings["copy"] = run_copy(path, bench_url)
            rounds.append((timings["import"], timings["copy"], peak_mb))
            print(f"round {number + 1}: import {timings['import']:6.2f} s   bare COPY {timings['copy']:6.2f} s   "
                  f"ratio {timings['import'] / timings['copy']:5.2f}   peak memory {peak_mb:.0f} MB")
        if args.reimport:
            reimport_s, reimport_mb, reimport_output = run_import(path, bench_url, keep_indexes=args.keep_indexes)
            built = [line.strip() for line in reimport_output.splitlines() if "building indexes" in line]
    import_s, copy_s, peak_mb = sorted(rounds, key=lambda r: r[0] / r[1])[len(rounds) // 2]
    which = "the median round" if len(rounds) > 1 else "one round"
    print(f"import end to end : {import_s:8.2f} s   peak memory of the importing process: {peak_mb:.0f} MB "
          f"(target < 500; {which})")
    print(f"bare COPY         : {copy_s:8.2f} s")
    ratio = import_s / copy_s
    print(f"ratio             : {ratio:8.2f}   (target <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}; "
          f"the first release's 2.0: {'met' if ratio <= 2.0 else 'NOT met'})")
    if len(rounds) > 1:
        ratios = sorted(i / c for i, c, _ in rounds)
        print(f"ratios of the {len(rounds)} rounds: {', '.join(f'{r:.2f}' for r in ratios)}")
    if args.xlsx:
        print(f"workbook import   : {xlsx_s:8.2f} s   peak memory {xlsx_mb:.0f} MB   ({xlsx_s / import_s:.2f} x the CSV import)")
    if args.reimport:
        print(f"re-import (every order replaced): {reimport_s:.2f} s, peak memory {reimport_mb:.0f} MB"
              f" ({built[0] if built else 'indexes kept up to date'})")
    admin = _connect(_url_for(server_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    admin.close()


def database_fresh(server_url: str) -> None:
    """The bench database, dropped, created and migrated."""
    admin = _connect(_url_for(server_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        cur.execute(f"CREATE DATABASE {BENCH_DB}")
    admin.close()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": _url_for(server_url, BENCH_DB), "REDIS_URL": ""})


def settle(database_url: str) -> None:
    """Nothing left for the next timed step to pay for: the tables vacuumed and analysed, the
    dirty pages written out."""
    conn = _connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")
    conn.close()

if __name__ == "__main__":
    main()
