"""gunicorn settings for the web container (docker-compose.yml), chosen by measurement on a
2-core host with bench/load.py (figures in docs/reliability.md).

Threads, not more processes: a request spends most of its time waiting on PostgreSQL and
Redis, so 2 processes (one per core) x 8 threads keep both cores busy without the memory of
more processes; sync workers made 50 users queue for a free worker. Override with
GUNICORN_WORKERS / GUNICORN_THREADS."""

from __future__ import annotations

import os

# Marks the web process: its queries wait for a table's lock at most CLV_WEB_LOCK_WAIT_SECONDS
# (settings), workers' as long as it takes.
os.environ.setdefault("CLV_WEB_PROCESS", "1")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
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
