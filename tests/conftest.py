"""Shared fixtures.

Tests that need PostgreSQL, Redis, a real Celery worker or a browser carry a marker
(`postgres`, `redis`, `worker`, `browser`). Where the service is missing they are skipped,
unless CLV_REQUIRE_SERVICES=1 (as .ci/run sets), which turns every such skip into a failure;
then any other skip fails the run too (tests/strict.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.test import Client

from clv_dashboard import roles
from tests.factories import UserFactory

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Under CLV_REQUIRE_SERVICES=1 any skipped test fails the run (tests/strict.py).
pytest_plugins = ["tests.strict"]

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
STRICT = os.environ.get("CLV_REQUIRE_SERVICES") == "1"
PASSWORD = "pass-word-123"


def _is_postgres() -> bool:
    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def chromium_path() -> str | None:
    return os.environ.get("CLV_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _requirement_missing(marker: str) -> str | None:
    if marker == "postgres" and not _is_postgres():
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not _redis_reachable():
        return "needs Redis: set REDIS_URL=redis://... to a running server"
    if marker == "worker":
        return _requirement_missing("postgres") or _requirement_missing("redis")
    if marker == "browser" and not chromium_path():
        return "needs Chromium: apt-get install chromium (or set CLV_CHROMIUM)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "worker", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        missing = _requirement_missing(marker)
        if missing:
            if STRICT:
                pytest.fail(f"{item.nodeid} {missing} (CLV_REQUIRE_SERVICES=1 forbids skipping)")
            pytest.skip(missing)


@pytest.fixture
def tasks_in_thread(settings: Any) -> Iterator[None]:
    """In-process tasks run in the background thread, as in the demo. The test waits for that
    thread's jobs at the end (an import queues its recompute), so that a job still running
    cannot meet the flush of the test database, even when the test failed halfway."""
    from clv_dashboard.background import in_process_wait

    settings.CLV_TASKS_IN_THREAD = True
    yield
    assert in_process_wait(timeout=180), "a background job was still running 180 s after the test"


# --- Users and roles --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _data_cache_per_test(settings: Any) -> None:
    """Each test its own cached board and page parts: test databases are rebuilt from empty, so
    two tests (or two runs against the same Redis) could otherwise meet the same data version."""
    settings.CLV_DATA_CACHE_SALT = f"test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _language_per_test() -> Iterator[None]:
    """Each test starts in the default language: a request served in this thread (the test
    client) leaves its language active, which would leak into whichever test runs next."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def role_groups(db: None) -> None:
    """The role groups; recreated because transactional tests flush what migrations made."""
    roles.sync_role_groups(group_model=Group, permission_model=Permission)


@pytest.fixture
def make_user(role_groups: None) -> Callable[..., Any]:
    def make(role: str | None, username: str | None = None, **extra: Any) -> Any:
        user: Any = UserFactory(username=username or f"{(role or 'norole').lower()}-{uuid.uuid4().hex[:6]}", **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        if role == roles.ADMIN:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        return user

    return make


@pytest.fixture
def executive(make_user: Callable[..., Any]) -> Any:
    return make_user(roles.EXECUTIVE, "exec")


@pytest.fixture
def analyst(make_user: Callable[..., Any]) -> Any:
    return make_user(roles.ANALYST, "analyst")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user(roles.ADMIN, "admin")


@pytest.fixture
def client_as(make_user: Callable[..., Any]) -> Callable[[str | None], Client]:
    """A logged-in test client for a role (None: logged out)."""

    def make(role: str | None) -> Client:
        client = Client()
        if role is not None:
            client.force_login(make_user(role))
        return client

    return make


# --- A real Celery worker ---------------------------------------------------------------------


@dataclass
class WorkerHandle:
    process: subprocess.Popen[bytes]
    queue: str
    hostname: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Terminate the worker process at once (SIGKILL), as a crash would."""
        self.process.kill()
        self.process.wait(timeout=30)


def _database_url_of_test_db() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def start_worker(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerHandle]]:
    """Start `celery worker` processes on the test database and a private queue.

    Use with @pytest.mark.worker; the test must commit its data (transactional_db)."""
    from clv_dashboard.celery import app as celery_app

    started: list[WorkerHandle] = []
    queue = f"test-{uuid.uuid4().hex[:10]}"
    old = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue

    def start(*, beat: bool = False, env: dict[str, str] | None = None) -> WorkerHandle:
        """beat: run the periodic schedule in the worker too (-B); env: extra variables."""
        hostname = f"{queue}-{len(started)}@{socket.gethostname()}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.test",
            "DATABASE_URL": _database_url_of_test_db(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            **(env or {}),
        }
        log_path = tmp_path / f"worker-{len(started)}.log"
        beat_args = ["-B", "-s", str(tmp_path / f"beat-schedule-{len(started)}")] if beat else []
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clv_dashboard", "worker", "--pool=solo", "-Q", queue,
             "-n", hostname, "--without-gossip", "--without-mingle", "-l", "INFO", *beat_args],
            cwd=REPO_ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
        )
        handle = WorkerHandle(process=process, queue=queue, hostname=hostname, log_path=log_path)
        started.append(handle)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{handle.log()}")
            if celery_app.control.ping(destination=[hostname], timeout=0.5):
                return handle
        raise RuntimeError(f"worker did not answer within 60 s:\n{handle.log()}")

    yield start

    for handle in started:
        if handle.process.poll() is None:
            handle.process.terminate()
            try:
                handle.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                handle.kill()
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = old


# --- A real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (use with @pytest.mark.browser)."""
    path = chromium_path()
    if not path:
        pytest.fail("Chromium not found") if STRICT else pytest.skip("needs Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=path,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page_for(browser: Any, live_server: Any, make_user: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A logged-in browser page for a role; console errors and failed responses are collected on
    page.console_errors."""
    contexts: list[Any] = []

    def make(role: str | None, *, language: str = "en", viewport: tuple[int, int] = (1440, 900)) -> Any:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
        contexts.append(context)
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))
        # A failed response (a missing static file, a 500 behind a fetch) counts as an error too.
        page.on("response", lambda r: r.status >= 400 and page.console_errors.append(f"{r.status} {r.url}"))
        if role is not None:
            user = make_user(role)
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", user.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
        page.base_url = live_server.url
        return page

    yield make
    for c in contexts:
        c.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = ARTIFACTS / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
