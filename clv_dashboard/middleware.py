"""The web layer's protections that apply to every request.

`RequestBodyLimitMiddleware` is the first middleware: it judges a request from its headers alone,
before anything (the CSRF check, a form, the upload parser) reads the body, so that no client can
make the server store what it is about to refuse.

1. A body must declare its length: a chunked body (no Content-Length) is refused with 411, a
   malformed Content-Length with 400.
2. A body larger than the limit of its URL is refused with 413: the upload page
   (`CLV_UPLOAD_URL_NAMES`) takes `CLV_MAX_UPLOAD_MB` plus the form's overhead, every other URL
   `CLV_MAX_REQUEST_KB`.
3. A multipart body from a visitor who may not upload (`customers.manage_imports`; logged-out
   visitors included) is refused with 403. The user is read from the session cookie, as the
   authentication middleware would later.
4. A NUL character in the query string is refused with 400 (PostgreSQL cannot compare text with
   it, so no parameter accepts it).
5. At the end of the request, an upload that the handler stored but no import adopted is deleted.

`SecurityHeadersMiddleware` (after WhiteNoise, so static files keep their long cache headers)
gives every response of the application a Content-Security-Policy (`CLV_CONTENT_SECURITY_POLICY`)
and `Cache-Control: no-store`: pages, exports and API answers carry company data, which no browser
or proxy cache may keep.

`DatabaseBusyMiddleware`: in the web process a query waits at most `CLV_WEB_LOCK_WAIT_SECONDS`
for a table that a write holds until it commits (a large import building the transactions'
indexes after its rows, a recompute rewriting its per-customer tables); the request then
answers 503 with Retry-After, saying the data are being written, instead of holding one of the
server's threads until the write ends.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from clv_dashboard.bulk import lock_wait_ended
from customers.uploads import stored_uploads_discard, upload_paths

ERR_UPLOAD_TOO_LARGE = _("The file is larger than the limit of %(limit)s MB. Split it into smaller files.")
ERR_BODY_TOO_LARGE = _("The request is larger than this page accepts (%(limit)s KB).")
ERR_UPLOAD_FORBIDDEN = _("This account may not upload files: only analysts and admins can, once logged in.")
ERR_LENGTH_REQUIRED = _("The request must state its length (Content-Length); chunked bodies are not accepted.")
ERR_BAD_LENGTH = _("The request's Content-Length is not a number.")
ERR_NUL_IN_QUERY = _("The address contains a NUL character (code 0), which no parameter accepts.")

# Room for the form's other fields and the multipart boundaries around the file itself.
UPLOAD_FORM_OVERHEAD = 64 * 1024
UPLOAD_PERMISSION = "customers.manage_imports"


def content_security_policy() -> str:
    return "; ".join(f"{name} {' '.join(values)}".strip() for name, values in settings.CLV_CONTENT_SECURITY_POLICY.items())


def security_headers_apply(response: HttpResponse) -> HttpResponse:
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = content_security_policy()
    add_never_cache_headers(response)
    return response


def _session_user(request: HttpRequest) -> Any:
    """The user the session cookie names (anonymous without one), without touching the body."""
    if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return auth.models.AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)
    holder = SimpleNamespace(session=engine.SessionStore(request.COOKIES[settings.SESSION_COOKIE_NAME]))
    return auth.get_user(holder)  # type: ignore[arg-type]


def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"error": message}, status=status)
    else:
        response = render(request, "request_refused.html", {"message": message, "status": status}, status=status)
    # The body was not read: the server must not wait for it on a kept-alive connection.
    response["Connection"] = "close"
    return security_headers_apply(response)


def request_refusal(request: HttpRequest) -> tuple[str, int] | None:
    """The message and status that refuse this request from its headers, or None."""
    if "\x00" in unquote_plus(request.META.get("QUERY_STRING", "")) + request.path_info:
        return str(ERR_NUL_IN_QUERY), 400
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return str(ERR_LENGTH_REQUIRED), 411
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return str(ERR_BAD_LENGTH), 400
    if length < 0:
        return str(ERR_BAD_LENGTH), 400
    is_upload = request.path_info in upload_paths()
    if is_upload and length > settings.CLV_MAX_UPLOAD_BYTES + UPLOAD_FORM_OVERHEAD:
        return str(ERR_UPLOAD_TOO_LARGE) % {"limit": settings.CLV_MAX_UPLOAD_BYTES // (1024 * 1024)}, 413
    if not is_upload and length > settings.CLV_MAX_REQUEST_BYTES:
        return str(ERR_BODY_TOO_LARGE) % {"limit": settings.CLV_MAX_REQUEST_BYTES // 1024}, 413
    content_type = request.META.get("CONTENT_TYPE", "").lower()
    if length and content_type.startswith("multipart/") and not _session_user(request).has_perm(UPLOAD_PERMISSION):
        return str(ERR_UPLOAD_FORBIDDEN), 403
    return None


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with translation.override(translation.get_language_from_request(request)):
            refusal = request_refusal(request)
            if refusal is not None:
                return _refuse(request, *refusal)
        try:
            return self.get_response(request)
        finally:
            stored_uploads_discard(request)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return security_headers_apply(self.get_response(request))


MSG_DATA_BUSY = _(
    "The data this page reads are being written (a large import or a recompute holds them until it "
    "finishes). Nothing is lost: try again in a minute."
)
class DatabaseBusyMiddleware:
    """A view whose query waited the web's lock_timeout for a table held by a write answers 503
    (see the module's docstring); the JSON API answers the same as JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not lock_wait_ended(exception):
            return None
        message = str(MSG_DATA_BUSY)
        if request.path_info.startswith("/api/"):
            response: HttpResponse = JsonResponse({"error": message}, status=503)
        else:
            response = render(request, "data_busy.html", {"message": message}, status=503)
        response["Retry-After"] = "60"
        return response

