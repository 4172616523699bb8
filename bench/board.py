#!/usr/bin/env python
"""Benchmark of the equity board page: server time under concurrency and transferred size.

1. Fills the database with 36 months x 21 scopes of snapshots (the company and 20 segments
   of the four dimensions) and their cohort cells, written directly (no recompute needed).
2. Collects the static files with the production storage (whitenoise, compressed), as
   production serves them, and starts gunicorn with the production settings on a free port.
3. Times --requests GETs of the board (--concurrency at a time, keep-alive connections):
   a) "warm": the board as executives open it (latest month, company scope): the figures come
      from the cache keyed on the latest recompute;
   b) "cold": every request a month/scope/dimension not seen before, so the figures are built.
4. Reports median and p95 of the server time (gunicorn's own measure of each request, from
   its access log) and of the response time seen by the client over loopback (which adds the
   wait for a free server thread), and the page's transferred size: the HTML plus every CSS
   and JS it loads, fetched with Accept-Encoding: gzip as a browser does (plotly.min.js is
   the bulk of it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clv_board_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/board.py --replace

It refuses a database that holds snapshots unless --replace is given (they are deleted).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 150.0
TARGET_PAGE_BYTES = 2 * 1024 * 1024


def _segments() -> dict[str, dict[str, Any]]:
    from tests.metrics.board.builders import SegmentPlan

    def plans(values: list[str], base: int) -> dict[str, Any]:
        return {
            v: SegmentPlan(new_base=base + 3 * i, survival=0.90 + 0.012 * i, margin=30.0 + 4 * i, cac=150.0 + 20 * i)
            for i, v in enumerate(values)
        }

    # The first dimension adds up to the company; 5 + 5 + 4 + 6 = 20 segments.
    return {
        "region": plans(["North", "South", "East", "West", "unassigned"], 30),
        "product_line": plans(["Apparel", "Electronics", "Home", "Beauty", "unassigned"], 25),
        "business_unit": plans(["Retail", "Wholesale", "Online", "unassigned"], 35),
        "acquisition_channel": plans(["Search", "Social", "Referral", "Email", "Store", "unassigned"], 20),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


class Client:
    """One keep-alive HTTP connection per thread, with the session cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.port = port
        self.cookie = cookie
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.local.conn = conn
        return conn

    def get(self, path: str, *, gzip: bool = False) -> tuple[int, bytes, float, dict[str, str]]:
        headers = {"Cookie": self.cookie, "Host": "127.0.0.1"}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        for attempt in range(2):
            conn = self._conn()
            try:
                start = time.perf_counter()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - start
                return response.status, body, elapsed, {k.lower(): v for k, v in response.getheaders()}
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--replace", action="store_true", help="delete the snapshots already in the database")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL (a PostgreSQL database for the benchmark; REDIS_URL for the cache)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.cache import cache
    from django.core.management import call_command

    from clv_dashboard import roles
    from metrics.models import CohortCell, MonthlySnapshot, RecomputeRun
    from tests.metrics.board.builders import snapshots_create

    # 1. Data.
    call_command("migrate", verbosity=0)
    if MonthlySnapshot.objects.exists():
        if not args.replace:
            parser.error("the database already has snapshots: use --replace to delete them, or another database")
        MonthlySnapshot.objects.all().delete()
        CohortCell.objects.all().delete()
        RecomputeRun.objects.all().delete()
    cache.clear()
    started = time.perf_counter()
    created = snapshots_create(months=args.months, segments=_segments())
    print(f"data: {created['snapshots']} snapshots ({args.months} months x {created['scopes']} scopes), "
          f"{created['cohort_cells']} cohort cells, written in {time.perf_counter() - started:.1f} s")

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    roles.sync_role_groups(group_model=Group, permission_model=Permission)
    user, _ = get_user_model().objects.get_or_create(username="bench-executive")
    user.groups.set([Group.objects.get(name=roles.EXECUTIVE)])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "clv_dashboard.permissions.CachedPermissionsBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    cookie = f"sessionid={session.session_key}"

    # 2. Static files as production serves them, and gunicorn.
    print("collecting static files (compressed, as in production)...")
    call_command("collectstatic", interactive=False, verbosity=0)
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-board-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    access = Path(tempfile.mkdtemp(prefix="bench-board-")) / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "clv_dashboard.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(args.workers), "--threads", str(args.threads), "-k", "gthread", "--keep-alive", "30",
         # %(D)s: the server's own time for the request, in microseconds.
         "--access-logfile", str(access), "--access-logformat", "BENCH %(s)s %(D)s %(U)s"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        client = Client(port, cookie)
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _body, _t, _h = client.get("/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print(Path(log.name).read_text())
                    raise
                time.sleep(0.3)

        months = list(MonthlySnapshot.objects.filter(scope_dimension="company").order_by("month")
                      .values_list("month", flat=True))
        scopes = ["company"] + [f"{d}:{v}" for d, v in MonthlySnapshot.objects.exclude(scope_dimension="company")
                                .values_list("scope_dimension", "scope_value").distinct()]
        dimensions = ["region", "product_line", "business_unit", "acquisition_channel"]

        # 3a. Warm: the default board, figures from the cache. First every server thread opens
        #     its database and cache connections.
        run(client, ["/board/"] * (4 * args.workers * args.threads), args.concurrency)
        status, html, _t, _h = client.get("/board/")
        assert status == 200, status
        assert b"js-chart" in html and b'id="board-figures"' in html, "the board did not render its charts"
        mark = server_times(access)
        warm = run(client, ["/board/"] * args.requests, args.concurrency)
        warm_server = server_times(access)[len(mark):]

        # 3b. Cold: a month/scope/dimension not requested before, every time.
        combos = [f"/board/?month={m:%Y-%m}&scope={s}&dimension={d}"
                  for m in reversed(months) for s in scopes for d in dimensions]
        mark = server_times(access)
        cold = run(client, combos[: args.requests], args.concurrency)
        cold_server = server_times(access)[len(mark):]

        # 4. Transferred size of one page view.
        status, html, _t, headers = client.get("/board/", gzip=True)
        page_bytes = len(html)
        assets = re.findall(rb'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html)
        transferred = page_bytes
        uncompressed = page_bytes
        lines = []
        for asset in dict.fromkeys(a.decode() for a in assets):
            s1, body_gz, _t, h1 = client.get(asset, gzip=True)
            s2, body_raw, _t, _h2 = client.get(asset)
            assert s1 == 200 and s2 == 200, (asset, s1, s2)
            transferred += len(body_gz)
            uncompressed += len(body_raw)
            lines.append(f"    {asset}: {len(body_gz) / 1024:,.0f} KiB sent ({h1.get('content-encoding', 'identity')}), "
                         f"{len(body_raw) / 1024:,.0f} KiB raw")
    finally:
        server.terminate()
        server.wait(timeout=30)

    cpu = os.cpu_count()
    print(f"\nboard page, {args.requests} requests, {args.concurrency} concurrent, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {cpu} CPU cores (shared with other work while measured)")
    print("  response time seen by the client (includes waiting for a free server thread):")
    report("warm (figures cached)", warm)
    report("cold (figures built) ", cold)
    print("  server time (gunicorn's own measure of each request, %(D)s):")
    report("warm (figures cached)", warm_server)
    report("cold (figures built) ", cold_server)
    print(f"  page size: HTML {page_bytes / 1024:,.0f} KiB (content-encoding "
          f"{headers.get('content-encoding', 'identity')}); with its CSS and JS: {transferred / 1024 / 1024:.2f} MiB "
          f"transferred, {uncompressed / 1024 / 1024:.2f} MiB uncompressed")
    print("\n".join(lines))
    ok_time = _percentile(warm_server, 0.95) * 1000 < TARGET_P95_MS
    ok_size = transferred < TARGET_PAGE_BYTES
    print(f"  target p95 server time < {TARGET_P95_MS:.0f} ms (warm): {'met' if ok_time else 'NOT met'}; "
          f"page < 2 MB transferred: {'met' if ok_size else 'NOT met'}")
    return 0


def server_times(access: Path) -> list[float]:
    """The request durations gunicorn logged so far, in seconds (the log is flushed per line)."""
    time.sleep(0.5)  # let the server write the last lines
    if not access.exists():
        return []
    times = []
    for line in access.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "BENCH" and parts[3].startswith("/board/"):
            times.append(int(parts[2]) / 1e6)
    return times


def run(client: Client, paths: list[str], concurrency: int) -> list[float]:
    def one(path: str) -> float:
        status, _body, elapsed, _h = client.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        return elapsed

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, paths))


def report(label: str, times: list[float]) -> None:
    ms = [t * 1000 for t in times]
    print(f"  {label}: median {statistics.median(ms):6.1f} ms, p95 {_percentile(ms, 0.95):6.1f} ms, "
          f"max {max(ms):6.1f} ms over {len(ms)} requests")


if __name__ == "__main__":
    raise SystemExit(main())
