"""gunicorn settings for the web container (docker-compose.yml), chosen by measurement on a
2-core host with bench/load.py (figures in docs/reliability.md).

Threads: a request spends part of its time waiting on PostgreSQL and Redis, and sync workers
made 50 users queue for a free worker. 4 processes x 16 threads: with 2 processes one held the
GIL while the other's threads waited, and with fewer threads than users the requests queued in
order, cheap or not; 4 x 16 served 270-303 requests a second flat out instead of 214, for about
700 MB of memory instead of 380 (figures in docs/reliability.md). On a host short of memory,
GUNICORN_WORKERS=2 keeps the earlier size. Override with GUNICORN_WORKERS / GUNICORN_THREADS."""

from __future__ import annotations

import os

# Marks the web process: its queries wait for a table's lock at most CLV_WEB_LOCK_WAIT_SECONDS
# (settings), workers' as long as it takes.
os.environ.setdefault("CLV_WEB_PROCESS", "1")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
worker_class = "gthread"
keepalive = 30
timeout = 120
graceful_timeout = 30
# Recycle a process now and then so that memory held by a big export does not stay forever:
# rarely, and at different times (the jitter), since a process that exits closes its idle
# keep-alive connections and, until its successor is up, leaves the other process alone (with
# 2000 +- 200 both restarted within seconds of each other every 80 s under bench/load.py, and
# the requests queued behind them waited up to 8 s).
max_requests = 20000
max_requests_jitter = 10000
# The application is imported once, in the master: a recycled process is forked ready to serve
# instead of importing Django, the app and pandas again (2 s on a busy machine).
preload_app = True
