"""The demo and development settings: DEBUG on, SQLite and in-process tasks unless configured."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "0.0.0.0"])

# With in-process tasks (no REDIS_URL), imports run in a background thread of the web process,
# so an upload returns at once and its progress bar moves, as with a real worker.
CLV_TASKS_IN_THREAD = env.bool("CLV_TASKS_IN_THREAD", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # The import thread and the requests write to the same SQLite file: a transaction takes the
    # write lock when it begins, so two never deadlock upgrading a read lock (they wait instead).
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"  # noqa: F405
