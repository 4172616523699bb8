"""A real gunicorn on loopback for the tests about the web process (its settings, its limits):
test settings on the test database, a temp dir and a media dir of its own, gunicorn.conf.py read
from the repository as in production."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, REPO_ROOT, _database_url_of_test_db


def dir_size(path: Path) -> int:
    """Bytes in the files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


@dataclass
class Server:
    url: str
    port: int
    tmp_dir: Path
    media_dir: Path
    log: Path

    def disk_used(self) -> int:
        """Bytes in the server's temp dir (its tempfile.gettempdir() and upload temp dir) and media dir."""
        return dir_size(self.tmp_dir) + dir_size(self.media_dir)


@pytest.fixture
def gunicorn_server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    tmp_dir, media_dir = tmp_path / "server-tmp", tmp_path / "server-media"
    tmp_dir.mkdir()
    media_dir.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.test", "DATABASE_URL": _database_url_of_test_db(),
        # TMPDIR is what tempfile.gettempdir() answers, and FILE_UPLOAD_TEMP_DIR is unset, so
        # this is also where Django would write temporary upload files.
        "TMPDIR": str(tmp_dir), "CLV_MEDIA_ROOT": str(media_dir), "CLV_MAX_UPLOAD_MB": "10",
        # Tasks go to an in-memory broker that no worker reads: the import is stored, not run.
        "REDIS_URL": "", "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "clv_dashboard.wsgi", "-b", f"127.0.0.1:{port}", "--workers", "1",
         "--timeout", "60", "--worker-tmp-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/login/", timeout=10)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text(errors='replace')}") from None
                time.sleep(0.2)
        yield Server(url=url, port=port, tmp_dir=tmp_dir, media_dir=media_dir, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def gunicorn_login(server: Server, username: str) -> dict[str, str]:
    """The session cookies of `username` logged in on the server (the test password)."""
    session = requests.Session()
    session.get(f"{server.url}/login/", timeout=10)
    response = session.post(f"{server.url}/login/", data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=10, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return {c.name: c.value or "" for c in session.cookies}
