"""Request bodies are refused from their headers, before anything stores them.

The disk-fill tests run a real gunicorn on loopback (test settings, the test database) with a
temp dir and a media dir of its own, send a 50 MB multipart body the way an attacker would
(headers, then the body as fast as the server takes it) and measure both directories before,
during and after: they must not grow by 1 MB. The other tests use the test client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from clv_dashboard import middleware, roles
from customers.models import ImportJob
from tests.foundation.conftest import Server, dir_size, gunicorn_login

MB = 1024 * 1024
BOUNDARY = "----clvboundary7MA4YWxkTrZu0gW"


def _multipart_post(server: Server, path: str, *, file_bytes: int, cookies: dict[str, str],
                    fields: dict[str, str] | None = None, on_sent: Callable[[], None] | None = None) -> tuple[int, bytes]:
    """POST a multipart body with one file part of file_bytes bytes over a raw socket; the
    response is read while the body is being sent (a server that refuses from the headers
    answers and closes). Returns the status and the response body."""
    head = "".join(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n" for k, v in (fields or {}).items()
    ) + f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n"
    tail = f"\r\n--{BOUNDARY}--\r\n"
    header_line = b"customer_id,order_date,revenue\n"
    length = len(head.encode()) + file_bytes + len(tail.encode())
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    ).encode()
    received = bytearray()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                received.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    try:
        sock.sendall(request + head.encode())
        row = b"C00001,2024-01-01,12.50\n"
        block = header_line + row * ((MB - len(header_line)) // len(row))
        block += b"x" * (MB - len(block))
        sent = 0
        while sent < file_bytes:
            piece = block[: min(MB, file_bytes - sent)]
            sock.sendall(piece)
            sent += len(piece)
        sock.sendall(tail.encode())
    except OSError:
        pass  # the server refused and closed: what a refusal from the headers looks like
    if on_sent is not None:
        on_sent()
    reader.join(timeout=60)
    sock.close()
    status_line, _, rest = bytes(received).partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1."), f"no response: {bytes(received)[:200]!r}"
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _measured(server: Server, send: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes, int, int]:
    """Status, body, peak growth while sending and growth after, of the server's temp and media dirs."""
    before = server.disk_used()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.disk_used() - before)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        status, body = send()
    finally:
        done.set()
        sampler.join()
    time.sleep(0.5)
    after = server.disk_used() - before
    return status, body, max(peak[0], after), after


@pytest.mark.postgres
def test_an_anonymous_50_mb_multipart_post_is_refused_before_anything_is_stored(gunicorn_server: Server) -> None:
    csrf = requests.get(f"{gunicorn_server.url}/login/", timeout=10).cookies["csrftoken"] or ""
    status, body, peak, growth = _measured(gunicorn_server, lambda: _multipart_post(
        gunicorn_server, "/login/", file_bytes=50 * MB, cookies={"csrftoken": csrf},
        fields={"csrfmiddlewaretoken": csrf, "username": "x", "password": "y"}))
    print(f"anonymous 50 MB multipart to /login/: {status}, temp+media dir peak growth {peak} bytes, after {growth}")
    assert status == 413
    assert "larger than this page accepts" in body.decode(errors="replace")
    assert peak < MB and growth < MB


@pytest.mark.postgres
def test_an_anonymous_multipart_post_to_the_upload_page_is_refused_unread(gunicorn_server: Server) -> None:
    status, body, peak, growth = _measured(gunicorn_server, lambda: _multipart_post(
        gunicorn_server, "/imports/", file_bytes=5 * MB, cookies={}))
    print(f"anonymous 5 MB multipart to /imports/: {status}, peak growth {peak} bytes, after {growth}")
    assert status == 403
    assert "may not upload files" in body.decode(errors="replace")
    assert peak < MB and growth < MB


@pytest.mark.postgres
def test_an_executive_cannot_send_a_multipart_body_anywhere(gunicorn_server: Server, make_user: Any) -> None:
    executive = make_user(roles.EXECUTIVE)
    cookies = gunicorn_login(gunicorn_server, executive.username)
    status, _, peak, growth = _measured(gunicorn_server, lambda: _multipart_post(
        gunicorn_server, "/board/", file_bytes=512 * 1024, cookies=cookies))
    assert status == 403
    assert peak < MB and growth < MB


@pytest.mark.postgres
def test_an_analysts_upload_over_the_limit_is_refused_before_it_is_stored(
    gunicorn_server: Server, make_user: Any
) -> None:
    analyst = make_user(roles.ANALYST)
    cookies = gunicorn_login(gunicorn_server, analyst.username)
    status, body, peak, growth = _measured(gunicorn_server, lambda: _multipart_post(
        gunicorn_server, "/imports/", file_bytes=50 * MB, cookies=cookies,
        fields={"csrfmiddlewaretoken": cookies["csrftoken"], "kind": "transactions"}))
    print(f"analyst 50 MB upload over a 10 MB limit: {status}, peak growth {peak} bytes, after {growth}")
    assert status == 413
    assert "larger than the limit of 10 MB" in body.decode(errors="replace")
    assert peak < MB and growth < MB
    assert ImportJob.objects.count() == 0


@pytest.mark.postgres
def test_an_accepted_upload_is_written_once_into_the_media_dir_and_never_to_the_temp_dir(
    gunicorn_server: Server, make_user: Any
) -> None:
    analyst = make_user(roles.ANALYST)
    cookies = gunicorn_login(gunicorn_server, analyst.username)
    tmp_before = dir_size(gunicorn_server.tmp_dir)
    tmp_peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            tmp_peak[0] = max(tmp_peak[0], dir_size(gunicorn_server.tmp_dir) - tmp_before)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        status, _ = _multipart_post(gunicorn_server, "/imports/", file_bytes=8 * MB, cookies=cookies,
                                    fields={"csrfmiddlewaretoken": cookies["csrftoken"], "kind": "transactions"})
    finally:
        done.set()
        sampler.join()
    print(f"analyst 8 MB upload: {status}, temp dir peak growth {tmp_peak[0]} bytes")
    assert status == 302
    job = ImportJob.objects.get()
    stored = list((gunicorn_server.media_dir / "imports" / "uploads").iterdir())
    assert [p.name for p in stored] == [Path(job.stored_file).name]
    assert stored[0].stat().st_size == job.size_bytes == 8 * MB
    assert tmp_peak[0] < MB


# --- From the headers, with the test client ---------------------------------------------------


def test_a_body_over_the_small_limit_is_refused_on_any_page_but_the_upload_page(
    client_as: Callable[[str | None], Client], settings: Any
) -> None:
    settings.CLV_MAX_REQUEST_BYTES = 1024
    response = client_as(roles.ADMIN).post(
        "/assumptions/", "x=" + "1" * 2000, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    with translation.override("en"):
        assert str(middleware.ERR_BODY_TOO_LARGE) % {"limit": 1} in response.content.decode()


def test_a_chunked_body_is_refused_with_411(client: Client) -> None:
    response = client.post("/login/", "", content_type="application/x-www-form-urlencoded",
                           HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 411
    with translation.override("en"):
        assert str(middleware.ERR_LENGTH_REQUIRED) in response.content.decode()


def test_a_malformed_content_length_is_refused_with_400() -> None:
    from django.test import RequestFactory

    request = RequestFactory().post("/login/", "a=1", content_type="application/x-www-form-urlencoded")
    request.META["CONTENT_LENGTH"] = "12abc"
    with translation.override("en"):
        assert middleware.request_refusal(request) == (str(middleware.ERR_BAD_LENGTH), 400)


def test_a_multipart_body_from_a_logged_out_visitor_is_refused_with_403(client: Client) -> None:
    response = client.post("/login/", {"username": "u", "password": "p"})  # the test client posts multipart
    assert response.status_code == 403
    with translation.override("en"):
        assert str(middleware.ERR_UPLOAD_FORBIDDEN) in response.content.decode()


def test_the_refusal_is_in_the_visitors_language(client: Client) -> None:
    client.cookies["django_language"] = "zh-hans"
    response = client.post("/login/", {"username": "u"})
    assert response.status_code == 403
    assert "此账户不能上传文件" in response.content.decode()


def test_a_refused_upload_leaves_no_file_in_the_media_dir(
    client_as: Callable[[str | None], Client], settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = client_as(roles.ANALYST).post("/imports/", {
        "kind": "transactions", "file": SimpleUploadedFile("t.csv", b"\x00\x01\x02 neither text nor a workbook\x00")})
    assert response.status_code == 400
    assert not list((tmp_path / "imports" / "uploads").iterdir())
    response = client_as(roles.ANALYST).post("/imports/", {
        "kind": "transactions", "mapping": "nonsense", "file": SimpleUploadedFile("t.csv", b"a,b\n1,2\n")})
    assert response.status_code == 400
    assert not list((tmp_path / "imports" / "uploads").iterdir())
    assert ImportJob.objects.count() == 0


def test_a_nul_in_the_address_is_refused_with_400_on_every_page(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    for url in ["/board/?month=%00", "/customers/?q=a%00b", "/admin/auth/user/?q=%00", "/imports/?page=%00"]:
        response = client.get(url)
        assert response.status_code == 400, url
        with translation.override("en"):
            assert str(middleware.ERR_NUL_IN_QUERY) in response.content.decode(), url
