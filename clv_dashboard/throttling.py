"""Login throttling (django-axes): what a locked-out visitor sees, and whose address counts.

The settings (clv_dashboard/settings/base.py) lock a username, and separately an address, after
AXES_FAILURE_LIMIT failed logins, for AXES_COOLOFF_TIME after the last attempt. The login page
and the admin's login both authenticate through the axes backend, so both are covered; the
refusal is their own page again, status 429, saying when to try again.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ERR_LOCKED_OUT = gettext_lazy(
    "Too many failed logins for this username or from this address. Try again in %(minutes)s minutes "
    "(after %(time)s)."
)
LOCKOUT_STATUS = 429


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' check, for authentications that come with a request (every login form).

    Code that authenticates without one (a script, the test client's login()) is not a login
    attempt from an address and goes on to the next backend instead of failing."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_message() -> str:
    cool_off = settings.AXES_COOLOFF_TIME
    until = timezone.localtime(timezone.now() + cool_off)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    return str(ERR_LOCKED_OUT) % {"minutes": minutes, "time": formats.time_format(until, "H:i")}


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """The login page (the admin's at /admin/login/) with the lock-out message, status 429."""
    message = lockout_message()
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    if request.path_info.startswith("/admin/"):
        messages.error(request, message)
        context = {
            **admin.site.each_context(request), "title": _("Log in"), "app_path": request.get_full_path(),
            "form": AdminAuthenticationForm(request, initial={"username": username}),
            "next": request.POST.get("next", ""),
        }
        response = TemplateResponse(request, "admin/login.html", context, status=LOCKOUT_STATUS)
        response.render()
        return response
    return render(request, "registration/login.html", {
        "form": AuthenticationForm(request, initial={"username": username}), "lockout_message": message,
        "next": request.POST.get("next", ""),
    }, status=LOCKOUT_STATUS)


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind CLV_TRUSTED_PROXIES proxies the address the outermost of them saw
    (the proxies append to X-Forwarded-For, so a client cannot choose it)."""
    proxies = settings.CLV_TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    address: str | None = request.META.get("REMOTE_ADDR")
    return address
