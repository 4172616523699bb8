"""Temporary: a page for a URL whose feature is being built. Removed when the feature lands."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def placeholder(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("This page is being built.", status=501)
