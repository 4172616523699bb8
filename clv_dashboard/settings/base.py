"""Settings shared by every environment; everything that differs comes from the environment.

Variables (all optional except where production says otherwise):
DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DJANGO_TIME_ZONE,
CLV_CURRENCY, DJANGO_LANGUAGE_CODE, CLV_MAX_UPLOAD_MB, CLV_MAX_REQUEST_KB, CLV_MEDIA_ROOT,
CLV_LOGIN_FAILURE_LIMIT, CLV_LOGIN_COOLOFF_MINUTES, CLV_TRUSTED_PROXIES, CLV_AUTO_CLOSE_MONTH.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import environ
import plotly
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-dev-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "customers.apps.CustomersConfig",
    "metrics.apps.MetricsConfig",
    "audit.apps.AuditConfig",
    "aliases.apps.AliasesConfig",
    "backups.apps.BackupsConfig",
    "axes",
]

MIDDLEWARE = [
    # First: refuses oversized, chunked or unauthorised multipart bodies from the headers alone,
    # before anything below reads (and stores) the body.
    "clv_dashboard.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: every response of the application (not the static files) gets the
    # Content-Security-Policy and Cache-Control: no-store.
    "clv_dashboard.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A view that gave up waiting for a table a write holds answers 503 (CLV_WEB_LOCK_WAIT_SECONDS).
    "clv_dashboard.middleware.DatabaseBusyMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Keeps the request at hand for audit entries recorded in signals and services.
    "audit.context.AuditRequestMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the page that says when to
    # try again (clv_dashboard.throttling).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clv_dashboard.urls"
WSGI_APPLICATION = "clv_dashboard.wsgi.application"
ASGI_APPLICATION = "clv_dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clv_dashboard.context_processors.site",
            ],
            # clv_dashboard is not an app, so its tag library is registered by name.
            "libraries": {"clv_format": "clv_dashboard.templatetags.clv_format"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# PostgreSQL through psycopg2 in production (DATABASE_URL=postgres://...); an SQLite file
# when unset, so the demo runs anywhere.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
# In the web process (gunicorn.conf.py sets CLV_WEB_PROCESS), a query waits at most this long for
# a lock a write holds until it commits (a large import, a recompute's rewrite); the page then
# says the data are being written (503, clv_dashboard.middleware.DatabaseBusyMiddleware) instead
# of holding a server thread. Workers and commands wait as long as it takes. 0: no limit.
CLV_WEB_LOCK_WAIT_SECONDS = env.float("CLV_WEB_LOCK_WAIT_SECONDS", default=5)
if (os.environ.get("CLV_WEB_PROCESS") and DATABASES["default"]["ENGINE"].endswith("postgresql")
        and CLV_WEB_LOCK_WAIT_SECONDS > 0):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c lock_timeout={int(CLV_WEB_LOCK_WAIT_SECONDS * 1000)}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------------------
REDIS_URL: str = env("REDIS_URL", default="")

# Short socket timeouts: with Redis down a page pays at most one of them and is then built
# from the database (clv_dashboard.cache), instead of waiting on a dead connection.
CLV_REDIS_TIMEOUT_SECONDS = env.float("CLV_REDIS_TIMEOUT_SECONDS", default=0.25)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "clv_dashboard.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "RETRY_AFTER": 5,
            "OPTIONS": {
                "socket_connect_timeout": CLV_REDIS_TIMEOUT_SECONDS,
                "socket_timeout": CLV_REDIS_TIMEOUT_SECONDS,
            },
        }
    }
    # Sessions are read from Redis on every request and written through to the database, which
    # stays the record (a session survives a Redis restart; with Redis down they are read from it).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without Redis the tasks run in-process (eagerly), so the demo needs no broker or worker.
# An in-memory broker (named with a host so that kombu does not warn) when tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_ACKS_LATE = True
# A task whose worker dies is given back to the queue instead of being lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing a task with Redis down fails within about a second instead of retrying for ~20 s;
# the caller then tells the user, and the job stays stored for the sweep to queue.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# A task is redelivered by the broker only after the visibility timeout: it must outlast the
# longest task (the hard time limit), or a long import would run twice. A task whose worker
# dies is taken up sooner than that by the sweep below, from its heartbeat.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60,
    "socket_connect_timeout": 1.0,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1.0
# Heartbeats: a running import or recompute updates heartbeat_at every CLV_HEARTBEAT_SECONDS;
# one whose heartbeat is older than CLV_HEARTBEAT_DEAD_SECONDS is dead, and the sweep (every
# CLV_SWEEP_SECONDS on beat, and at each worker start) takes it up again.
CLV_HEARTBEAT_SECONDS = env.float("CLV_HEARTBEAT_SECONDS", default=15)
CLV_HEARTBEAT_DEAD_SECONDS = env.float("CLV_HEARTBEAT_DEAD_SECONDS", default=90)
CLV_SWEEP_SECONDS = env.float("CLV_SWEEP_SECONDS", default=60)
# A waiting job not taken up after this long is queued again by the sweep (its message may have
# been lost with Redis); a second delivery of a job changes nothing.
CLV_REQUEUE_WAITING_SECONDS = env.float("CLV_REQUEUE_WAITING_SECONDS", default=120)
# An import whose worker died this many times is failed instead of queued again.
CLV_IMPORT_MAX_ATTEMPTS = env.int("CLV_IMPORT_MAX_ATTEMPTS", default=3)
# A transactions file of at least this size, imported into a table that holds few rows beside
# it, has the table's indexes built after its rows instead of kept up to date row by row
# (customers.services.bulkload), if the table's lock is free within the wait given.
CLV_IMPORT_INDEX_BUILD_MIN_MB = env.float("CLV_IMPORT_INDEX_BUILD_MIN_MB", default=16)
CLV_IMPORT_INDEX_LOCK_WAIT_SECONDS = env.float("CLV_IMPORT_INDEX_LOCK_WAIT_SECONDS", default=2)
# The per-customer pass of a recompute in this many customer-hash partitions, one Celery task
# each, summed at the end (metrics.partitions); 1 is a single pass. PostgreSQL only.
CLV_RECOMPUTE_PARTITIONS = env.int("CLV_RECOMPUTE_PARTITIONS", default=1)
if CLV_RECOMPUTE_PARTITIONS < 1:
    # Refused when the web or a worker starts, not when the first recompute runs.
    raise ImproperlyConfigured(
        f"CLV_RECOMPUTE_PARTITIONS (the customer-hash partitions of a recompute) must be 1 or more, not "
        f"{CLV_RECOMPUTE_PARTITIONS}; 1 is a single pass."
    )
# A successful recompute queues the predictive model fit (metrics.predictive) unless this is off.
CLV_FIT_AFTER_RECOMPUTE = env.bool("CLV_FIT_AFTER_RECOMPUTE", default=True)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = env("DJANGO_TIME_ZONE", default="Asia/Shanghai")

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes checks every authentication (the login page and the admin's) first.
AUTHENTICATION_BACKENDS = [
    "clv_dashboard.throttling.LoginThrottleBackend",
    # Django's ModelBackend, with each user's permissions cached (clv_dashboard.permissions).
    "clv_dashboard.permissions.CachedPermissionsBackend",
]
# After CLV_LOGIN_FAILURE_LIMIT failed logins for one username, or from one address, further
# attempts are refused for CLV_LOGIN_COOLOFF_MINUTES after the last one (each refused attempt
# starts the wait again); a successful login clears the count.
AXES_FAILURE_LIMIT = env.int("CLV_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("CLV_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "clv_dashboard.throttling.lockout_response"
# The client's address: REMOTE_ADDR, or behind CLV_TRUSTED_PROXIES proxies (nginx in front of
# gunicorn: 1) the entry those proxies appended to X-Forwarded-For (clv_dashboard.throttling).
CLV_TRUSTED_PROXIES = env.int("CLV_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "clv_dashboard.throttling.client_ip"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Languages, time, money -----------------------------------------------------------------
LANGUAGE_CODE = env("DJANGO_LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_THOUSAND_SEPARATOR = True
FORMAT_MODULE_PATH = ["clv_dashboard.formats"]
# The monthly job closes the month just ended (METRICS.md, "Closing a month").
CLV_AUTO_CLOSE_MONTH = env.bool("CLV_AUTO_CLOSE_MONTH", default=True)
# ISO 4217 code of the currency every amount in the data is in.
CLV_CURRENCY = env("CLV_CURRENCY", default="CNY")
# Put in front of every cache key of data-versioned results (metrics.datacache, the board): a
# new value makes every cached page part miss at once. The test suite sets one per test. By
# default a digest of the code, templates and compiled translations, so that pages cached by
# the release before an upgrade are not served after it (they are kept for up to an hour).
def code_digest(base: Path = BASE_DIR) -> str:
    """A digest of the application's code, templates and compiled translations under `base`."""
    digest = hashlib.sha256()
    packages = ["clv_dashboard", *sorted(p.parent.name for p in base.glob("*/apps.py"))]  # the project and its apps
    for pattern in (*(f"{package}/**/*.py" for package in packages), "templates/**/*.html", "locale/**/*.mo"):
        for path in sorted(base.glob(pattern)):
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


CLV_DATA_CACHE_SALT = env("CLV_DATA_CACHE_SALT", default=None) or code_digest()

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js comes from the installed plotly package: no CDN, no copy to keep in sync.
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded CSV files live outside the static root under generated names.
MEDIA_ROOT = Path(env("CLV_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media-not-served/"
CLV_MAX_UPLOAD_BYTES = env.int("CLV_MAX_UPLOAD_MB", default=200) * 1024 * 1024
# The pages whose requests may carry a file of up to CLV_MAX_UPLOAD_MB; every other request
# body is limited to CLV_MAX_REQUEST_KB (clv_dashboard.middleware).
CLV_UPLOAD_URL_NAMES = ["imports:list"]
CLV_MAX_REQUEST_BYTES = env.int("CLV_MAX_REQUEST_KB", default=1024) * 1024
# Files on the upload page are written straight into the media dir; anywhere else a file part
# (of a body already capped at CLV_MAX_REQUEST_KB) stays in memory. Nothing goes to the temp dir.
FILE_UPLOAD_HANDLERS = [
    "customers.uploads.MediaUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Audit log: take the client address from the last X-Forwarded-For entry (set it only behind a
# proxy that appends the address it saw, as nginx's $proxy_add_x_forwarded_for does).
CLV_AUDIT_X_FORWARDED_FOR = env.bool("CLV_AUDIT_X_FORWARDED_FOR", default=False)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Sent with every response of the application (clv_dashboard.middleware). Scripts come only
# from this site's files (no inline script, no eval: plotly.js draws the board's charts
# without it); styles also allow inline style attributes and the <style> rules plotly.js
# inserts for its charts and toolbar. Images from data: and blob: URLs are the charts'
# PNG downloads.
CLV_CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
