"""Settings for the test suite: fast hashing, eager tasks unless a test starts a real worker."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
from pathlib import Path  # noqa: E402

# A test that starts its own server process gives it a media dir of its own.
MEDIA_ROOT = Path(env("CLV_MEDIA_ROOT", default=str(BASE_DIR / ".test-media")))
ALLOWED_HOSTS = ["*"]
LANGUAGE_CODE = "en"
