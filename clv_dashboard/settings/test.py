"""Settings for the test suite: fast hashing, eager tasks unless a test starts a real worker."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, REDIS_URL, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
ALLOWED_HOSTS = ["*"]
LANGUAGE_CODE = "en"

# The suite runs in parallel processes (pytest-xdist: gw0, gw1, ...). Each has a test database
# of its own (pytest-django names it *_gw0, ...); it gets a Redis database and a media dir of
# its own too, or the job progress and cache entries keyed by row ids, and stored files, of one
# process would meet another's.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_worker_index = int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") and XDIST_WORKER[2:].isdigit() else None


def redis_url_of_worker(url: str, index: int) -> str:
    """The Redis database `index` below the one `url` names (0-15, wrapping round)."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number - index) % 16}"))


# Shift only the suite's own REDIS_URL, once: a process started by a test inherits the shifted
# value, or is given one of its own on purpose ("" for no Redis, a dead port for an outage).
_suite_redis_url = os.environ.setdefault("CLV_TEST_REDIS_URL", REDIS_URL) if _worker_index is not None else ""
if _worker_index is not None and REDIS_URL and _suite_redis_url == REDIS_URL:
    REDIS_URL = redis_url_of_worker(REDIS_URL, _worker_index)
    os.environ["REDIS_URL"] = REDIS_URL
    CACHES["default"]["LOCATION"] = REDIS_URL
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL

# A test that starts its own server process gives it a media dir of its own.
MEDIA_ROOT = Path(env("CLV_MEDIA_ROOT", default=str(BASE_DIR / ".test-media" / (XDIST_WORKER or "main"))))
