"""Talking to the background service (Celery on Redis) so that its outages cost seconds.

- `task_send` publishes a task and says whether the broker took it, instead of raising after
  a long retry: callers keep the job stored and tell the user (MSG_IMPORT_WAITING, MSG_FIT_UNAVAILABLE).
- `in_process_submit` runs a job in a background thread of this process: with in-process tasks
  (no broker, the demo) and CLV_TASKS_IN_THREAD on, an upload returns at once and its page
  shows the import's progress as it runs, as it does with a real worker.
- `heartbeat` keeps a job's `heartbeat_at` fresh while a worker runs it, from a thread of its
  own (so a long SQL statement does not stop it); when the worker dies, the beats stop, and
  `dead_before` is the instant before which a heartbeat means a dead worker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

MSG_IMPORT_WAITING = _(
    "The background service is unavailable right now. The file is stored and its import starts "
    "by itself as soon as the service is back; nothing more to do."
)
MSG_FIT_UNAVAILABLE = _(
    "The background service is unavailable right now, so the models cannot be fitted. Nothing was "
    "changed; try again in a few minutes."
)


def task_send(task: Any, *, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
              task_id: str | None = None) -> bool:
    """Queue `task`; False (logged) when the broker cannot be reached."""
    try:
        task.apply_async(args=args, kwargs=kwargs or {}, task_id=task_id)
    except Exception as exc:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise  # in-process: a failure is the task's own, not the broker's
        logger.warning("task %s not queued: the broker is unavailable (%s: %s)", task.name, type(exc).__name__, exc)
        return False
    return True


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_outstanding: set[Future[Any]] = set()  # submitted and not finished yet


def tasks_in_thread() -> bool:
    """Whether in-process tasks run in a background thread rather than in the request."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER and getattr(settings, "CLV_TASKS_IN_THREAD", False))


def _executor_get() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # One thread: jobs run one after the other, as on a single worker.
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clv-task")
        return _executor


def _lock_wait_unlimited() -> None:
    """A job run by the web process waits for locks as long as it takes, as a worker's does
    (the web's own queries give up after CLV_WEB_LOCK_WAIT_SECONDS): on this thread's own
    connection, closed after the job."""
    if os.environ.get("CLV_WEB_PROCESS") and connections["default"].vendor == "postgresql":
        with connections["default"].cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")


def in_process_submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
    """Run fn(*args, **kwargs) in the background thread; its failures are logged (the job
    records its own status), and the thread's database connection is closed after each job."""

    def run() -> Any:
        try:
            _lock_wait_unlimited()
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("background job %s failed", getattr(fn, "__name__", fn))
            raise
        finally:
            connections.close_all()

    future = _executor_get().submit(run)
    with _executor_lock:
        _outstanding.add(future)
    future.add_done_callback(_finished)
    return future


def _finished(future: Future[Any]) -> None:
    with _executor_lock:
        _outstanding.discard(future)


def in_process_wait(timeout: float) -> bool:
    """Wait until no background job is queued or running, including jobs those jobs queue
    (an import queues its recompute); False if some are still there after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with _executor_lock:
            pending = list(_outstanding)
        if not pending:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        futures.wait(pending, timeout=left)


def dead_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=float(settings.CLV_HEARTBEAT_DEAD_SECONDS))


def heartbeat_touch(model: type[Model], pk: int) -> None:
    """Beat once. A row locked by the job's own open write transaction is skipped, not waited
    for: that lock already shows the job is alive (and the sweep skips locked rows too)."""
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (f"UPDATE {table} SET heartbeat_at = %s WHERE id IN "
               f"(SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED)")
    else:
        sql = f"UPDATE {table} SET heartbeat_at = %s WHERE id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), pk])


@contextlib.contextmanager
def heartbeat(model: type[Model], pk: int) -> Iterator[None]:
    """Beat now and then every CLV_HEARTBEAT_SECONDS until the block ends.

    In-process (eager) runs beat once: they run inside the caller's transaction, where a second
    connection could wait on the caller's own row locks."""
    heartbeat_touch(model, pk)
    if settings.CELERY_TASK_ALWAYS_EAGER or connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(float(settings.CLV_HEARTBEAT_SECONDS)):
                try:
                    heartbeat_touch(model, pk)
                except Exception:
                    logger.warning("heartbeat of %s #%s missed", model.__name__, pk, exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
