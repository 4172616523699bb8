from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import health_report


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to the first page of their role."""
    if request.user.has_perm("metrics.view_board"):
        return redirect("board:index")
    return render(request, "no_role.html", status=403)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, checks = health_report()
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links: a small icon, never a 404."""
    icon = (settings.BASE_DIR / "static" / "img" / "favicon.ico").read_bytes()
    response = HttpResponse(icon, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
