#!/usr/bin/env python
"""Load benchmark: many users at once over the board, the API and the customers list.

1. Data (once per database): the demo business (seed_demo) plus --transactions generated
   transactions (bench/ingest.py's generator, imported with import_csv), then a recompute and
   a predictive fit, so that every page has real work to do.
2. Starts gunicorn with the production settings on a free loopback port, --workers processes
   x --threads threads (gthread), as docker-compose.yml runs it.
3. A bounded asyncio client (--users connections, keep-alive, loopback only) runs twice for
   --seconds: each user, in turn, GETs the board, the API (/api/v1/snapshots/) and the
   customers list,
   - as people do: after each answer the user reads for a while (--think seconds on average,
     uniformly between half and one and a half times that) before the next request;
   - flat out: each request as soon as the previous answered. 50 users with no pause are a
     stress test, not 50 people: the server is saturated, every request queues behind the
     others, and the latency is users / throughput (Little's law) whatever one request costs.
4. Prints, for each run, req/s, p50/p95/p99 per page and overall, the error rate (any status
   but 200, or a connection broken twice) and the CPU per request (web, PostgreSQL, client),
   from which the capacity of the idle machine follows. Targets, judged on the first run:
   0 errors, board p95 < 300 ms, API p95 < 100 ms.
5. With --floor, a third run: the same users flat out on /favicon.ico only (no query, no
   template). Its latency is what gunicorn and Django alone cost at that concurrency on this
   machine: a page flat out cannot answer faster than that.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clv_load REDIS_URL=redis://127.0.0.1:6379/14 \\
      .venv/bin/python bench/load.py --workers 4 --threads 16
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = {
    "board": "/board/",
    "api": "/api/v1/snapshots/",
    "customers": "/customers/",
}
TARGET_P95_MS = {"board": 300.0, "api": 100.0}
# --floor: the cheapest page the application serves (a small icon read from disk, no query, no
# template), requested the same way: what the server alone costs per request at that concurrency.
FLOOR_PAGES = {"icon": "/favicon.ico"}
# The count of requests sent again on a new connection after the server closed a keep-alive one.
RETRIED = "retried"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def data_prepare(transactions: int) -> None:
    from django.core.management import call_command

    from customers.models import Transaction
    from metrics.models import PredictiveFit

    call_command("migrate", verbosity=0)
    if not Transaction.objects.exists():
        started = time.perf_counter()
        call_command("seed_demo", verbosity=0)
        print(f"data: demo seeded in {time.perf_counter() - started:.0f} s")
    if Transaction.objects.count() < transactions:
        # bench/ingest.py's generator (imported by path: bench/ is scripts, not a package).
        sys.path.insert(0, str(ROOT / "bench"))
        generate = importlib.import_module("ingest").generate
        path = Path(tempfile.mkdtemp(prefix="bench-load-")) / "transactions.csv"
        generate(path, transactions)
        started = time.perf_counter()
        call_command("import_csv", "transactions", str(path), verbosity=0)
        print(f"data: {transactions:,} transactions imported in {time.perf_counter() - started:.0f} s")
        path.unlink()
        started = time.perf_counter()
        call_command("recompute_snapshots", verbosity=0)
        print(f"data: snapshots recomputed in {time.perf_counter() - started:.0f} s")
    if not PredictiveFit.objects.filter(status=PredictiveFit.Status.SUCCEEDED).exists():
        started = time.perf_counter()
        call_command("fit_clv_models", verbosity=0)
        print(f"data: models fitted in {time.perf_counter() - started:.0f} s")
    print(f"data: {Transaction.objects.count():,} transactions")


def session_cookie() -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.sessions.backends.db import SessionStore

    from clv_dashboard import roles

    roles.sync_role_groups(group_model=Group, permission_model=Permission)
    user, _ = get_user_model().objects.get_or_create(username="bench-load-executive")
    user.groups.set([Group.objects.get(name=roles.EXECUTIVE)])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "clv_dashboard.permissions.CachedPermissionsBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def _cpu_seconds(pids: set[int], *, reaped: bool = False) -> dict[int, float]:
    """User + system CPU seconds of each live process (Linux /proc); with `reaped`, plus those
    of its children that exited and it waited for (gunicorn's master: its recycled workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if reaped:
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
        out[pid] = ticks / tick
    return out


def _server_pids(master: int) -> set[int]:
    """gunicorn's master and its worker processes."""
    pids = {master}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rpartition(")")[2].split()[1]) == master:
                pids.add(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def _database_pids() -> set[int]:
    """The PostgreSQL backends serving this benchmark's database (gunicorn's persistent
    connections), when the server runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return {int(row[0]) for row in cursor.fetchall()}


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between the two readings (a process started in between counts whole)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def user(port: int, cookie: str, until: float, offset: int,
               results: dict[str, list[float]], errors: dict[str, int], think: float,
               pages: dict[str, str]) -> None:
    names = list(pages)
    pauses = random.Random(offset)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.monotonic() < until:
            name = names[i % len(names)]
            i += 1
            request = (f"GET {pages[name]} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                       "Accept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n")
            started = time.perf_counter()
            status = 0
            for attempt in range(2):
                try:
                    writer.write(request.encode())
                    await writer.drain()
                    status = await _read_response(reader)
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    # The server closed the keep-alive connection (a recycled process): a browser
                    # sends an idempotent GET again once on a new connection, and so does this
                    # client; a second failure is an error.
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    if attempt == 0:
                        errors[RETRIED] += 1
            if status == 0:
                errors[name] += 1
                continue
            elapsed = time.perf_counter() - started
            if status == 200:
                results[name].append(elapsed)
            else:
                errors[name] += 1
            if think > 0:
                await asyncio.sleep(min(think * pauses.uniform(0.5, 1.5), max(until - time.monotonic(), 0)))
    finally:
        writer.close()


async def load(port: int, cookie: str, users: int, seconds: float, think: float,
               pages: dict[str, str] = PAGES) -> tuple[dict[str, list[float]], dict[str, int], float]:
    results: dict[str, list[float]] = {name: [] for name in pages}
    errors = dict.fromkeys([*pages, RETRIED], 0)
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(user(port, cookie, until, n, results, errors, think, pages) for n in range(users)))
    return results, errors, time.monotonic() - started


def measure(*, server_pid: int, port: int, cookie: str, users: int, seconds: float, think: float,
            pages: dict[str, str] = PAGES) -> bool:
    """One run of the client; prints its figures and says whether the targets were met."""
    load_before = os.getloadavg()[0]
    # The web's CPU as one total (a worker recycled meanwhile moves its CPU to the master's).
    web_before = sum(_cpu_seconds(_server_pids(server_pid), reaped=True).values())
    db_before = _cpu_seconds(_database_pids())
    client_before = time.process_time()
    results, errors, elapsed = asyncio.run(load(port, cookie, users, seconds, think, pages))
    client_cpu = time.process_time() - client_before
    web_cpu = sum(_cpu_seconds(_server_pids(server_pid), reaped=True).values()) - web_before
    db_cpu = _cpu_delta(db_before, _cpu_seconds(_database_pids()))
    load_after = os.getloadavg()[0]

    pace = (f"each reading {think:g} s on average between requests" if think > 0
            else "flat out, each request as soon as the previous answered")
    if pages is not PAGES:
        pace += f", only {', '.join(pages.values())} (the server's floor)"
    total = sum(len(v) for v in results.values())
    failed = sum(errors.values()) - errors[RETRIED]
    print(f"\n{users} users for {elapsed:.0f} s, {pace}; load average {load_before:.1f} before, "
          f"{load_after:.1f} after (the machine is shared with other work)")
    print(f"  overall: {total / elapsed:.1f} req/s, {failed} errors ({failed / max(total + failed, 1):.2%}); "
          f"{errors[RETRIED]} sent again on a new connection after the server closed a keep-alive one")
    # CPU per request, whatever else the machine is doing: what the figures above would be on a
    # quiet host follows from it (2 cores / CPU per request = the most requests per second).
    per = 1000 / max(total, 1)
    print(f"  CPU per request: web {web_cpu * per:.1f} ms, PostgreSQL {db_cpu * per:.1f} ms, "
          f"this client {client_cpu * per:.1f} ms; at that cost {os.cpu_count()} idle cores serve at most "
          f"{(os.cpu_count() or 1) * 1000 / max((web_cpu + db_cpu + client_cpu) * per, 1e-9):.0f} req/s")
    met = failed == 0
    for name, times in results.items():
        p50, p95, p99 = (_percentile(times, q) * 1000 for q in (0.50, 0.95, 0.99))
        target = TARGET_P95_MS.get(name)
        verdict = ""
        if target is not None:
            ok = p95 < target
            met = met and ok
            verdict = f"  target p95 < {target:.0f} ms: {'met' if ok else 'NOT met'}"
        print(f"  {name:9s} {len(times) / elapsed:7.1f} req/s  p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  "
              f"p99 {p99:6.0f} ms  errors {errors[name]}{verdict}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="length of each run")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between a user's requests in the first run (0: flat out only)")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (gunicorn.conf.py's default)")
    parser.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker (gunicorn.conf.py's default)")
    parser.add_argument("--floor", action="store_true",
                        help="then the same users flat out on /favicon.ico only: the latency of the "
                             "server and the framework alone at that concurrency, which no page can beat")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        parser.error("set DATABASE_URL (a PostgreSQL database of the benchmark's own; REDIS_URL for the cache)")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "1",  # the data step runs its tasks in this process
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    data_prepare(args.transactions)
    cookie = session_cookie()
    call_command("collectstatic", interactive=False, verbosity=0)

    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-load-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "clv_dashboard.wsgi",
         "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "--threads", str(args.threads)],
        cwd=ROOT, env={**env, "CELERY_TASK_ALWAYS_EAGER": "0"}, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print(Path(log.name).read_text())
                    raise
                time.sleep(0.3)
        asyncio.run(load(port, cookie, args.users, 5, 0))  # warm-up: connections and caches
        print(f"gunicorn {args.workers} workers x {args.threads} threads (gthread), {os.cpu_count()} CPU cores")
        met = measure(server_pid=server.pid, port=port, cookie=cookie, users=args.users, seconds=args.seconds,
                      think=args.think)
        if args.think > 0:
            measure(server_pid=server.pid, port=port, cookie=cookie, users=args.users, seconds=args.seconds, think=0)
        if args.floor:
            measure(server_pid=server.pid, port=port, cookie=cookie, users=args.users, seconds=args.seconds, think=0,
                    pages=FLOOR_PAGES)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"\ntargets (0 errors, board p95 < 300 ms, API p95 < 100 ms; {args.users} users reading "
          f"{args.think:g} s between requests): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
