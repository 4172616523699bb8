"""Import pages: upload and list, one import's progress and result, its error report, undo."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import Action, audit_record_import
from clv_dashboard.background import MSG_IMPORT_WAITING
from customers import selectors
from customers.forms import RerunForm, UploadForm
from customers.models import ImportJob
from customers.services import ImportRefused, import_create, import_create_stored, import_rerun, import_undo
from customers.services.imports import import_is_waiting_for_the_service, job_source_path, upload_check
from customers.uploads import StoredUpload

MANAGE = "customers.manage_imports"
DELIMITER_LABELS = {
    "comma": _lazy("comma"), "semicolon": _lazy("semicolon"), "tab": _lazy("tab"), "pipe": _lazy("pipe"),
    "full-width comma": _lazy("full-width comma"), "whitespace": _lazy("whitespace"),
}


def _get_job_for_user(request: HttpRequest, pk: int) -> ImportJob:
    """The one way a view reaches an import: the permission is checked by the decorator, and
    every analyst works on the company's shared data, so any import may be seen."""
    return get_object_or_404(ImportJob, pk=pk)


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE, raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    form = UploadForm()
    if request.method == "POST":
        # The body's size and the user's right to upload were checked from the headers before
        # anything read it (clv_dashboard.middleware.RequestBodyLimitMiddleware); the file part
        # is already in the media dir (customers.uploads.MediaUploadHandler).
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            options = {
                "kind": form.cleaned_data["kind"], "original_name": upload.name, "user": request.user,
                "skip_invalid": form.cleaned_data["skip_invalid"], "date_order": form.cleaned_data["date_order"],
                "mapping": form.cleaned_data["mapping"], "language": get_language(),
                "sheet": form.cleaned_data["sheet"],
            }
            try:
                upload_check(name=upload.name, size=upload.size)
                if isinstance(upload, StoredUpload):
                    job = import_create_stored(stored_file=upload.relative_path, sha256=upload.sha256,
                                               size=upload.size or 0, **options)
                    upload.adopted = True
                else:
                    job = import_create(chunks=upload.chunks(), **options)
            except ImportRefused as exc:
                form.add_error("file", str(exc))
            else:
                audit_record_import(action=Action.IMPORT_UPLOAD, job=job, request=request)
                if import_is_waiting_for_the_service(job=job):
                    messages.warning(request, str(MSG_IMPORT_WAITING))
                return redirect("imports:detail", pk=job.pk)
    page = Paginator(selectors.import_jobs_list(), 25).get_page(request.GET.get("page"))
    return render(request, "imports/list.html", {
        "form": form, "page": page, "max_mb": settings.CLV_MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_bytes": settings.CLV_MAX_UPLOAD_BYTES,
    }, status=400 if form.errors else 200)


@require_GET
@permission_required(MANAGE, raise_exception=True)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    rerun_form = RerunForm(job=job) if job.status in (ImportJob.Status.REJECTED, ImportJob.Status.FAILED) else None
    delimiter = (job.detected or {}).get("delimiter", "")
    return render(request, "imports/detail.html", {
        "job": job, "progress": selectors.import_job_progress(job=job), "rerun_form": rerun_form,
        "delimiter_label": DELIMITER_LABELS.get(delimiter, delimiter),
        "source_available": bool(job.stored_file) and job_source_path(job).is_file(),
        "recompute_status": selectors.import_job_recompute_status(job=job),
        "errors": selectors.import_job_errors(job=job),
        "segment_changes": selectors.import_job_segment_changes(job=job),
    })


@require_GET
@permission_required(MANAGE, raise_exception=True)
def import_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = _get_job_for_user(request, pk)
    return JsonResponse(selectors.import_job_progress(job=job))


@require_GET
@permission_required(MANAGE, raise_exception=True)
def import_report(request: HttpRequest, pk: int) -> FileResponse:
    job = _get_job_for_user(request, pk)
    path = Path(settings.MEDIA_ROOT) / job.error_report_file if job.error_report_file else None
    if path is None or not path.is_file():
        raise Http404(_("This import has no error report."))
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv",
                        content_type="text/csv; charset=utf-8")


@require_POST
@permission_required(MANAGE, raise_exception=True)
def import_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    try:
        job = import_undo(job=job)
    except ImportRefused as exc:
        messages.error(request, str(exc))
    else:
        audit_record_import(action=Action.IMPORT_UNDO, job=job, request=request)
        messages.success(request, job.message_shown)
    return redirect("imports:detail", pk=job.pk)


@require_POST
@permission_required(MANAGE, raise_exception=True)
def import_rerun_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    form = RerunForm(request.POST, job=job)
    if not form.is_valid():
        messages.error(request, _("Choose a column for each required field."))
        return redirect("imports:detail", pk=job.pk)
    try:
        import_rerun(job=job, mapping=form.mapping(), date_order=form.cleaned_data["date_order"],
                     skip_invalid=form.cleaned_data["skip_invalid"], sheet=form.cleaned_data.get("sheet"))
        audit_record_import(action=Action.IMPORT_RERUN, job=job, request=request)
    except ImportRefused as exc:
        messages.error(request, str(exc))
    else:
        if import_is_waiting_for_the_service(job=job):
            messages.warning(request, str(MSG_IMPORT_WAITING))
    return redirect("imports:detail", pk=job.pk)
