"""The audit log page and its exports: Admins only (permission audit.view_auditevent), read-only."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .exports import FORMATS, export_lines
from .forms import AuditFilterForm

VIEW = "audit.view_auditevent"
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


@require_GET
@permission_required(VIEW, raise_exception=True)
def audit_event_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = selectors.audit_events_filter(**form.filters())  # type: ignore[arg-type]
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.details_text = json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else ""
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/list.html", {
        "form": form, "page": page, "query": query.urlencode(),
    }, status=400 if form.is_bound and not form.is_valid() else 200)


@require_GET
@permission_required(VIEW, raise_exception=True)
def audit_event_export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    if fmt not in FORMATS:
        raise Http404
    form = AuditFilterForm(request.GET or None)
    events = selectors.audit_events_filter(**form.filters()).iterator(chunk_size=2000)  # type: ignore[arg-type]
    response = StreamingHttpResponse(export_lines(events, fmt=fmt), content_type=CONTENT_TYPES[fmt])
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
