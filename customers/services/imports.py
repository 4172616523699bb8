"""Import services: store an upload, run an import (validate, then write in one transaction),
undo an import, run a refused or failed one again.

An import runs in two steps:
1. Validate while streaming: every row of the file is parsed and checked, in blocks checked
   column by column (columnar.py) where the file allows, row by row (parsing.py) otherwise;
   valid rows go in chunks into a temporary staging table, errors into the error report (a CSV
   file beside the upload; the first 100 also on the job). Progress is saved at most ~100 times.
   Then the cross-row check: an order's lines must name one customer (only when an order id
   is on more than one line).
2. Write, in one transaction: the duplicate-file check, then set-based statements from the
   staging table (customers and costs upserted with ON CONFLICT; stored orders the file
   replaces deleted, the file's orders inserted), and the job marked as loaded. Any failure
   rolls all of it back.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from aliases import services as aliases_services
from clv_dashboard.background import MSG_IMPORT_WAITING, dead_before, in_process_submit, task_send, tasks_in_thread
from clv_dashboard.messages import message_part
from clv_dashboard.spreadsheets import spreadsheet_safe
from customers.models import NOTE_PARTS, CostEntry, ImportJob, Transaction

from . import loading
from .columnar import ColumnarReader, NotColumnar, columnar_applies
from .direct import DirectWriter, NotDirect, direct_applies
from .headers import header_mapping_find, header_mapping_learn
from .parsing import (
    DATE_ORDERS,
    ENCODING_LABELS,
    FIELDS,
    NOTE_AMOUNT_SCALE,
    NOTE_CURRENCY_MARK,
    NOTE_CURRENCY_MARKS,
    NOTE_EXCEL_DAY_NUMBERS,
    NOTE_EXCEL_TEXT,
    NOTE_LONE_CELLS,
    NOTE_MONTH_DATES,
    NOTE_NOT_REVENUE,
    NOTE_REPEATED_HEADER,
    NOTE_REVENUE_FROM_QUANTITY,
    NOTE_SUMMARY_ROWS,
    NOTE_WESTERN_ENCODING,
    PROFILE_NOTES,
    REASON_ORDER_CUSTOMERS,
    WESTERN,
    ColumnPlan,
    CurrencyMarks,
    DateParser,
    ImportRefused,
    OrderStatusRule,
    RowError,
    SourceFile,
    Validated,
    columns_resolve,
    currency_marks,
    delimiter_label,
    header_key,
    known_names,
    refused,
    row_is_blank,
    row_is_summary,
    row_lone_cell,
    row_nul_error,
    row_repeats_header,
    row_validator,
    source_open,
)
from .workbooks import ConvertedSheet, sheet_convert, workbook_kind

logger = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods")
ERROR_PREVIEW = 100

ERR_FILE_TYPE = _("Only .csv, .txt, .tsv and Excel (.xlsx, .xls) files can be imported (got \"{name}\").")
ERR_TOO_LARGE = _("The file is larger than the limit of {limit} MB. Split it into smaller files.")
ERR_BINARY = _("The file is neither text nor an Excel workbook. Export the data as CSV or .xlsx and upload that file.")
ERR_DUPLICATE_FILE = _(
    "This file has no order ids and is identical (SHA-256) to import #{pk} \"{name}\" loaded on {date}. "
    "Loading it again would count its transactions twice. Undo import #{pk} first to replace it."
)
ERR_INVALID_ROWS = _(
    "{count} row(s) are invalid, so nothing was loaded. Fix them (see the error report), or import again "
    "with \"load the valid rows and skip the invalid ones\"."
)
ERR_NOTHING_VALID = _("No valid row to load: all {count} row(s) are invalid (see the error report).")
ERR_NO_DATA_ROWS = _("The file has a header row but no data rows.")
ERR_FAILED = _("The import failed and nothing was loaded ({error}). Run it again; if it fails again, tell an administrator.")
ERR_NOT_RUNNING = _("This import is not running any more (it was finished by another worker).")
ERR_UNDO_STATE = _("Only a loaded import can be undone (this one is: {status}).")
ERR_UNDO_CUSTOMERS = _(
    "A customers file cannot be undone: its customers may have transactions from other files. "
    "Upload a corrected customers file instead."
)
ERR_RERUN_STATE = _("Only a refused or failed import can be run again (this one is: {status}).")
ERR_SOURCE_MISSING = _("The stored file of this import is missing; upload it again.")
ERR_DATE_ORDER = _("Choose the date order \"dmy\" (day first) or \"mdy\" (month first).")
MSG_LOADED = _("Loaded {rows} row(s).")
MSG_LOADED_SKIPPED = _("Loaded {rows} row(s); {skipped} invalid row(s) skipped (listed in the error report).")
MSG_UNDONE = _("Undone: {transactions} transaction(s) and {costs} cost entr(ies) removed.")

# How the rows were read (job.detected["reader"]): column by column in blocks, or row by row
# (files whose records are not one per line, whitespace-separated files, other encodings).
READER_COLUMNAR = "columnar"
READER_ROWS = "rows"
# How the rows were written (job.detected["writer"]): through the staging table after reading,
# or straight into the transactions table while reading (direct.py).
WRITER_STAGED = "staged"
WRITER_DIRECT = "direct"

REPORT_HEADER = (_("line"), _("column"), _("value"), _("reason"))
REPORT_HEADER_WORKBOOK = (_("row"), _("column"), _("value"), _("reason"), _("cell"))


# --- Files ------------------------------------------------------------------------------------


def _storage_dir(name: str) -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_source_path(job: ImportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / job.stored_file


def upload_check(*, name: str, size: int | None) -> None:
    """Name and declared size, checked before anything is stored."""
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise refused(ERR_FILE_TYPE, name=name)
    if size is not None and size > settings.CLV_MAX_UPLOAD_BYTES:
        raise refused(ERR_TOO_LARGE, limit=settings.CLV_MAX_UPLOAD_BYTES // (1024 * 1024))


def _content_check(head: bytes) -> None:
    """The browser's content type is not trusted: look at the bytes (a workbook is read as one
    whatever its name; see workbooks.py)."""
    if workbook_kind(head) is not None:
        return
    if b"\x00" in head[:8192] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise refused(ERR_BINARY)


def import_create(
    *,
    kind: str,
    chunks: Iterable[bytes],
    original_name: str,
    user: Any = None,
    skip_invalid: bool = False,
    date_order: str = "",
    mapping: dict[str, str] | None = None,
    language: str | None = None,
    enqueue: bool = True,
    sheet: str = "",
) -> ImportJob:
    """Store the file under a generated name (size limit and content checked while streaming),
    create its ImportJob and, after commit, queue the import task."""
    upload_check(name=original_name, size=None)
    if date_order and date_order not in DATE_ORDERS:
        raise refused(ERR_DATE_ORDER)
    suffix = Path(original_name).suffix.lower()
    relative = Path("imports") / "uploads" / f"{uuid.uuid4().hex}{suffix}"
    target = _storage_dir("uploads") / relative.name
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("wb") as out:
            for chunk in chunks:
                if size == 0:
                    _content_check(chunk)
                size += len(chunk)
                if size > settings.CLV_MAX_UPLOAD_BYTES:
                    upload_check(name=original_name, size=size)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return _job_create(
        kind=kind, original_name=original_name, stored_file=str(relative), sha256=digest.hexdigest(), size=size,
        user=user, skip_invalid=skip_invalid, date_order=date_order, mapping=mapping, language=language,
        enqueue=enqueue, sheet=sheet,
    )


def import_create_stored(
    *,
    kind: str,
    stored_file: str,
    sha256: str,
    size: int,
    original_name: str,
    user: Any = None,
    skip_invalid: bool = False,
    date_order: str = "",
    mapping: dict[str, str] | None = None,
    language: str | None = None,
    enqueue: bool = True,
    sheet: str = "",
) -> ImportJob:
    """Adopt a file the upload handler already wrote under imports/uploads/ (path relative to
    MEDIA_ROOT, its SHA-256 and size computed while it was received): the same checks as
    import_create, without a second copy. A refused file is deleted."""
    target = Path(settings.MEDIA_ROOT) / stored_file
    try:
        if target.parent.resolve() != _storage_dir("uploads").resolve():
            raise ValueError(f"not a stored upload: {stored_file}")
        upload_check(name=original_name, size=size)
        if date_order and date_order not in DATE_ORDERS:
            raise refused(ERR_DATE_ORDER)
        with target.open("rb") as handle:
            _content_check(handle.read(64 * 1024))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return _job_create(
        kind=kind, original_name=original_name, stored_file=stored_file, sha256=sha256, size=size, user=user,
        skip_invalid=skip_invalid, date_order=date_order, mapping=mapping, language=language, enqueue=enqueue,
        sheet=sheet,
    )


def _job_create(
    *, kind: str, original_name: str, stored_file: str, sha256: str, size: int, user: Any, skip_invalid: bool,
    date_order: str, mapping: dict[str, str] | None, language: str | None, enqueue: bool, sheet: str = "",
) -> ImportJob:
    job = ImportJob.objects.create(
        kind=kind,
        original_name=original_name[:255],
        stored_file=stored_file,
        sha256=sha256,
        size_bytes=size,
        created_by=user if getattr(user, "pk", None) else None,
        options={
            "skip_invalid": bool(skip_invalid),
            "date_order": date_order,
            "mapping": mapping or {},
            "language": language or translation.get_language() or settings.LANGUAGE_CODE,
            "sheet": (sheet or "").strip()[:100],
        },
    )
    if enqueue:
        import_enqueue(job=job)
    return job


def file_chunks(handle: IO[bytes], size: int = 1 << 20) -> Iterable[bytes]:
    while chunk := handle.read(size):
        yield chunk


def import_enqueue(*, job: ImportJob) -> None:
    """Queue the job once the current transaction commits. When the broker is unreachable the
    job stays stored and waiting, without a task id and with a message saying so; the sweep
    (customers.services.recovery) queues it when the service is back. For a waiting job,
    heartbeat_at is when it was last queued."""
    task_id = uuid.uuid4().hex
    ImportJob.objects.filter(pk=job.pk).update(celery_task_id=task_id, heartbeat_at=timezone.now())
    job.celery_task_id = task_id
    transaction.on_commit(lambda: _publish(job_id=job.pk, task_id=task_id))


def _publish(*, job_id: int, task_id: str) -> None:
    from customers.tasks import process_import

    waiting = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING, celery_task_id=task_id)
    if tasks_in_thread():
        # No worker (the demo): the request returns now and the page follows the progress.
        in_process_submit(process_import, job_id)
        return
    if not task_send(process_import, args=(job_id,), task_id=task_id):
        waiting.update(celery_task_id="", message=str(MSG_IMPORT_WAITING),
                       message_parts=[message_part(MSG_IMPORT_WAITING)])
    elif not settings.CELERY_TASK_ALWAYS_EAGER:
        waiting.filter(message=str(MSG_IMPORT_WAITING)).update(message="", message_parts=[])


def import_is_waiting_for_the_service(*, job: ImportJob) -> bool:
    """Whether the job is stored but could not be queued (the broker was unreachable)."""
    return (ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING, celery_task_id="")
            .exists())


# --- Running ----------------------------------------------------------------------------------


def import_claim(*, job_id: int) -> ImportJob | None:
    """Take a waiting job, or one whose worker died (its heartbeat stopped, or it started longer
    ago than the task time limit); None when someone else has it. Each claim is an attempt:
    only the latest attempt may write or finish the job."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(Q(status=ImportJob.Status.PENDING)
                | Q(status=ImportJob.Status.RUNNING, started_at__lt=stale)
                | Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=dead_before()))
        .update(status=ImportJob.Status.RUNNING, started_at=now, finished_at=None, progress=0, heartbeat_at=now,
                attempts=F("attempts") + 1)
    )
    return ImportJob.objects.get(pk=job_id) if claimed else None


def _attempt_is_current(job: ImportJob) -> bool:
    current = ImportJob.objects.filter(pk=job.pk).values_list("attempts", flat=True).first()
    return current is None or current == job.attempts


class ErrorReport:
    """All row errors in a CSV file (UTF-8 with BOM, so Excel shows Chinese), the first 100 kept."""

    def __init__(self) -> None:
        # For a workbook: the sheet's address of an error's line and column (Orders!D7).
        self.cell_of: Callable[[RowError], tuple[int, str]] | None = None
        self.relative = Path("imports") / "reports" / f"{uuid.uuid4().hex}.csv"
        self.path = _storage_dir("reports") / self.relative.name
        self.first: list[dict[str, Any]] = []
        self.count = 0
        self._file: IO[str] | None = None
        self._writer: Any = None

    def add(self, error: RowError) -> None:
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow([str(h) for h in (REPORT_HEADER if self.cell_of is None else REPORT_HEADER_WORKBOOK)])
        # Column names and values come from the uploaded file: neutralised for spreadsheets.
        row: list[Any] = [error.line, spreadsheet_safe(error.column), spreadsheet_safe(error.value), error.reason]
        shown = error.as_dict()
        if self.cell_of is not None:
            row[0], cell = self.cell_of(error)
            row.append(spreadsheet_safe(cell))
            shown.update(line=row[0], cell=cell)
        self._writer.writerow(row)
        self.count += 1
        if len(self.first) < ERROR_PREVIEW:
            self.first.append(shown)

    def reset(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.first, self.count, self._writer = [], 0, None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def latest_order_date() -> dt.date:
    """The last order date an import accepts: tomorrow, in the server's time zone (a day's
    margin for a file written where it is already tomorrow). A later one is a typed year or a
    misread day/month order, and it would move the board's latest month into the future."""
    return timezone.localdate() + dt.timedelta(days=1)


def _save_progress(job: ImportJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


class _ProgressBeside:
    """Progress saved from a thread of its own, on its own connection, in its own transactions:
    for an import whose rows are written while they are read, inside a transaction that the
    page cannot see into until it commits. The saves are sent in order without waiting;
    `close()` waits for them and closes that connection."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-progress")
        self._closed = False

    def save(self, job: ImportJob, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(job, name, value)
        self._thread.submit(self._update, job.pk, fields)

    @staticmethod
    def _update(pk: int, fields: dict[str, Any]) -> None:
        try:
            ImportJob.objects.filter(pk=pk).update(**fields)
        except DatabaseError:
            logger.warning("progress of import %s not saved", pk, exc_info=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.submit(self._connection_close)
        self._thread.shutdown(wait=True)

    @staticmethod
    def _connection_close() -> None:
        connection.close()  # looked up in this thread: its own connection


@dataclass
class NotRead:
    """The lines of a file that are not rows of data, listed on the import: totals rows (their
    line numbers) and lines of a single filled cell (with its text)."""

    summaries: list[int]
    lone_cells: list[tuple[int, str]]
    repeated_headers: list[int] = field(default_factory=list)  # the header again (files joined)
    # Lines of cancelled, unpaid or fully refunded orders: their status as written -> lines.
    not_revenue: dict[str, int] = field(default_factory=dict)
    # Amounts written with another currency's sign or code (US$5 under CNY), read as they are.
    currency_marks: CurrencyMarks | None = None


class _Tally:
    """Rows seen and invalid ones; each row validated, staged or reported; progress saved."""

    def __init__(self, *, job: ImportJob, size: int, plan: ColumnPlan, validate: Callable[[int, list[str]], Validated],
                 stager: loading.Stager | DirectWriter, report: ErrorReport, skip_invalid: bool,
                 save: Callable[..., None] = _save_progress) -> None:
        self.job, self.size, self.validate, self.stager, self.report = job, max(size, 1), validate, stager, report
        self.save = save
        self.plan = plan
        self.skip_invalid = skip_invalid
        self.total = self.invalid = 0
        self.summaries: list[int] = []  # the lines of totals rows, not read (parsing.row_is_summary)
        self.lone_cells: list[tuple[int, str]] = []  # lines of one filled cell, not read (parsing.row_lone_cell)
        self.repeated_headers: list[int] = []  # lines repeating the header, not read (parsing.row_repeats_header)
        self.not_revenue: dict[str, int] = {}  # statuses of orders that are not revenue (parsing.row_not_revenue)
        self.statuses = OrderStatusRule(plan) if plan.has("order_status") else None
        self._next_percent = 1

    @property
    def staging(self) -> bool:
        """Valid rows are staged until the first invalid one, unless invalid ones are skipped."""
        return self.invalid == 0 or self.skip_invalid

    def row(self, line: int, values: list[str], *, nul_possible: bool = False) -> None:
        if row_repeats_header(header=self.plan.header, values=values):
            self.repeated_headers.append(line)
            return
        if row_is_summary(plan=self.plan, values=values):
            self.summaries.append(line)
            return
        status = self.statuses.left_out(values) if self.statuses is not None else None
        if status is not None:
            self.not_revenue[status] = self.not_revenue.get(status, 0) + 1
            return
        lone = row_lone_cell(plan=self.plan, values=values)
        if lone is not None:
            self.lone_cells.append((line, lone))
            return
        self.total += 1
        nul = row_nul_error(plan=self.plan, line=line, values=values) if nul_possible else None
        row, errors = (None, [nul]) if nul is not None else self.validate(line, values)
        if errors:
            self.invalid += 1
            for error in errors:
                self.report.add(error)
        elif isinstance(row, tuple) and self.staging:
            self.stager.add(row)
        elif isinstance(row, list) and self.staging:  # a wide cost row: an entry per kind
            for each in row:
                self.stager.add(each)

    def progress(self, bytes_read: int) -> None:
        percent = min(bytes_read * 90 // self.size, 90)
        if percent >= self._next_percent:
            self._next_percent = percent + 1
            self.save(self.job, rows_parsed=self.total, rows_invalid=self.invalid, progress=percent)


def _stage(
    *, job: ImportJob, source: SourceFile, plan: ColumnPlan, dates: DateParser, stager: loading.Stager | DirectWriter,
    report: ErrorReport, skip_invalid: bool, columnar: bool, save: Callable[..., None] = _save_progress,
) -> tuple[int, int, NotRead]:
    """Step 1: validate every row, stage the valid ones (or, with a DirectWriter, write them).
    Returns (rows, invalid rows, the lines not read as rows of data).

    Raises NotColumnar when the columnar reader finds it cannot number the file's lines, and
    NotDirect when a DirectWriter is given a file whose order ids do not rise."""
    marks = currency_marks()
    tally = _Tally(job=job, size=source.size, plan=plan, validate=row_validator(plan=plan, dates=dates, marks=marks),
                   stager=stager,
                   report=report, skip_invalid=skip_invalid, save=save)
    direct = isinstance(stager, DirectWriter)
    if columnar:
        reader = ColumnarReader(source=source, plan=plan, latest=dates.latest)
        # While a block is copied in the background, the next one is read and checked.
        for block in reader.blocks():
            if direct and not reader.order_ids_ascending:
                raise NotDirect("the order ids do not rise")
            for line, values in block.leftovers:
                if not row_is_blank(values):
                    tally.row(line, values)
            stager.wait()
            tally.progress(block.bytes_read)
            tally.total += block.staged.num_rows
            if tally.staging:
                stager.add_table(block.staged)
        reader.finish()
        if reader.order_ids_ascending:
            stager.line_items = False  # every order id once: nothing to sum or to check
    else:
        for line, values in source.rows():
            tally.row(line, values, nul_possible=source.nul_seen)
            if tally.total % 2048 == 0:
                tally.progress(source.bytes_read)
    stager.finish()
    save(job, rows_parsed=tally.total, rows_total=tally.total, rows_invalid=tally.invalid, progress=90)
    return tally.total, tally.invalid, NotRead(summaries=tally.summaries, lone_cells=tally.lone_cells,
                                             repeated_headers=tally.repeated_headers, not_revenue=tally.not_revenue,
                                             currency_marks=marks)


def _order_conflicts_check(
    *, plan: ColumnPlan, stager: loading.Stager, report: ErrorReport, skip_invalid: bool
) -> int:
    """Report the lines of orders whose lines name different customers (removed from the staging
    table when invalid rows are skipped). Returns how many lines that is."""
    bad_lines = 0
    with transaction.atomic():
        loading.aggregation_memory_raise(connection=connection)
        if not loading.staged_line_items(connection=connection, stager=stager):
            return 0
        for line, order_id, _customer, customers in loading.order_conflicts(connection=connection, stager=stager):
            bad_lines += 1
            report.add(RowError(line, plan.column_label("order_id"), order_id,
                                str(REASON_ORDER_CUSTOMERS).format(order_id=order_id, customers=customers),
                                [message_part(REASON_ORDER_CUSTOMERS, order_id=order_id, customers=customers)]))
        if bad_lines and skip_invalid:
            loading.order_conflicts_remove(connection=connection, stager=stager)
    return bad_lines


def _duplicate_refuse(job: ImportJob) -> None:
    earlier = (
        ImportJob.objects.filter(kind=ImportJob.Kind.TRANSACTIONS, sha256=job.sha256, status=ImportJob.Status.SUCCEEDED)
        .exclude(pk=job.pk)
        .order_by("created_at")
        .first()
    )
    if earlier is not None:
        raise refused(
            ERR_DUPLICATE_FILE, pk=earlier.pk, name=earlier.original_name,
                date=timezone.localtime(earlier.finished_at or earlier.created_at).strftime("%Y-%m-%d %H:%M"),
        )


def _first_of_month(day: dt.date | None) -> dt.date | None:
    return day.replace(day=1) if day else None


def _request_recompute(*, from_month: dt.date | None, trigger: str) -> None:
    """The hook that asks for the snapshots to be recomputed once this transaction commits."""
    from metrics.services import snapshots_request_recompute

    # Called after the import's own commit: a broker outage must not turn a loaded file into a
    # failed import (the monthly schedule and the next import recompute anyway).
    try:
        snapshots_request_recompute(from_month=_first_of_month(from_month), trigger=trigger)
    except Exception:
        logger.exception("the snapshot recompute after %s could not be queued", trigger)


def _connection_reset() -> None:
    """After a dropped connection, close it so the next query opens a fresh one."""
    if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
        connection.close()


def import_run(*, job: ImportJob) -> ImportJob:
    """Run a claimed import to its end: loaded, refused (with the reason) or failed (nothing loaded)."""
    language = job.options.get("language") or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            _run(job)
        except ImportRefused as exc:
            _connection_reset()
            _finish(job, status=ImportJob.Status.REJECTED, message=str(exc), parts=exc.parts)
        except Exception as exc:
            logger.exception("import %s failed", job.pk)
            _connection_reset()
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            _finish(job, status=ImportJob.Status.FAILED, message=str(ERR_FAILED).format(error=detail),
                    parts=[message_part(ERR_FAILED, error=detail)])
    return job


def _finish(job: ImportJob, *, status: str, message: str, parts: list[dict[str, Any]] | None = None) -> None:
    if not _attempt_is_current(job):
        # This worker was given up for dead and the job taken up again: the new attempt reports.
        logger.warning("import %s: attempt %s ended after a newer one began", job.pk, job.attempts)
        return
    job.status = status
    job.message = message
    job.message_parts = parts or []
    job.finished_at = timezone.now()
    if status != ImportJob.Status.SUCCEEDED:
        job.rows_written = 0
    job.save()


def _run(job: ImportJob) -> None:
    path = job_source_path(job)
    if not job.stored_file or not path.is_file():
        raise refused(ERR_SOURCE_MISSING)
    with path.open("rb") as handle:
        is_workbook = workbook_kind(handle.read(8)) is not None
    if not is_workbook:
        _run_source(job, path, None)
        return
    options = job.options or {}
    # The sheet becomes a CSV beside the upload, read like any CSV, and removed afterwards. One
    # left by an earlier attempt whose worker died is removed first (this attempt holds the claim).
    conversions_remove(job=job)
    target = path.with_name(f"{path.name}.{job.pk}.{uuid.uuid4().hex[:8]}.csv")
    try:
        converted = sheet_convert(path=path, kind=job.kind, sheet=options.get("sheet") or "",
                                  mapping=options.get("mapping") or {}, target=target)
        job.detected = {"workbook": converted.as_dict()}
        _run_source(job, converted.path, converted)
    finally:
        target.unlink(missing_ok=True)


def conversions_remove(*, job: ImportJob) -> int:
    """Remove the CSVs converted from the job's workbook that an attempt left behind (its worker
    died before its `finally`); returns how many. Only for a job no live worker runs."""
    if not job.stored_file:
        return 0
    path = job_source_path(job)
    removed = 0
    for left in path.parent.glob(f"{glob.escape(path.name)}.{int(job.pk)}.*.csv"):
        left.unlink(missing_ok=True)
        removed += 1
    return removed


def _cell_locator(plan: ColumnPlan, converted: ConvertedSheet) -> Callable[[RowError], tuple[int, str]]:
    positions = {name: i for i, name in reversed(list(enumerate(plan.header)))}

    def locate(error: RowError) -> tuple[int, str]:
        column = positions.get(error.column)
        return error.line + converted.row_offset, converted.cell(line=error.line, column=column)

    return locate


def _run_source(job: ImportJob, path: Path, converted: ConvertedSheet | None) -> None:
    options = job.options or {}
    skip_invalid = bool(options.get("skip_invalid"))
    date_order = options.get("date_order") or None
    mapping = options.get("mapping") or {}
    # A CSV's header may stand below title lines (a workbook's was found when it was converted).
    known = known_names(job.kind) | {header_key(column) for column in mapping.values()}
    source = (source_open(path=path, known=known) if converted is None
              else source_open(path=path, encoding="utf-8", delimiter=","))
    job.detected = {
        **(job.detected if converted is not None else {}),
        **({"header_line": source.header_line, "title_rows": source.title_lines} if source.title_lines else {}),
        "encoding": ENCODING_LABELS.get(source.encoding, source.encoding),
        "delimiter": delimiter_label(source.delimiter),
        "header": source.header,
    }
    if source.excel_text:
        _note(job, "excel_text_note", (NOTE_EXCEL_TEXT, {}))
    if source.encoding == WESTERN:
        _note(job, "encoding_note", (NOTE_WESTERN_ENCODING, {"example": source.encoding_example}))
    job.save(update_fields=["detected"])
    if not mapping:
        learned = header_mapping_find(kind=job.kind, header=source.header)
        if learned:
            mapping = learned
            job.detected["learned_mapping"] = learned
    plan = columns_resolve(kind=job.kind, header=source.header, mapping=mapping)
    job.detected.update({"columns": {name: plan.column_label(name) for name in plan.indexes}, "ignored": plan.unknown})
    job.save(update_fields=["detected"])
    if job.kind == ImportJob.Kind.TRANSACTIONS and not plan.has("order_id"):
        _duplicate_refuse(job)

    report = ErrorReport()
    if converted is not None:
        report.cell_of = _cell_locator(plan, converted)
    stager = loading.Stager(connection=connection, kind=job.kind, job_id=job.pk)
    started = time.monotonic()
    try:
        columnar = columnar_applies(source=source, plan=plan)
        direct = direct_applies(connection=connection, kind=job.kind, has_order_ids=plan.has("order_id"),
                                attributes=_attributes(plan), columnar=columnar)
        while True:
            dates = DateParser(order=date_order)
            if job.kind == ImportJob.Kind.TRANSACTIONS:
                dates.latest = latest_order_date().isoformat()
            dates.line_offset = converted.row_offset if converted is not None else 0
            report.reset()
            if direct:
                try:
                    needed = _run_direct(job=job, source=source, plan=plan, dates=dates, report=report,
                                         skip_invalid=skip_invalid, date_order=date_order, started=started)
                except (NotDirect, NotColumnar) as exc:
                    # Rolled back: read again, into the staging table (row by row if need be).
                    logger.info("import %s: written through the staging table (%s)", job.pk, exc)
                    direct = False
                    columnar = columnar and not isinstance(exc, NotColumnar)
                    continue
                if needed is None:
                    return
                date_order = needed  # the file settles it the other way: read it again that way
                continue
            stager.create()
            try:
                total, invalid, not_read = _stage(job=job, source=source, plan=plan, dates=dates, stager=stager,
                                                  report=report, skip_invalid=skip_invalid, columnar=columnar)
            except NotColumnar as exc:
                logger.info("import %s: read again row by row (%s)", job.pk, exc)
                columnar = False
                continue
            needed, problem = dates.order_problem()
            if problem:
                raise ImportRefused(problem)
            if needed is None:
                break
            date_order = needed  # the file settles it the other way: read it again that way
        job.detected.update(date_order=date_order or "", reader=READER_COLUMNAR if columnar else READER_ROWS,
                            writer=WRITER_STAGED)
        _reading_notes(job, dates, not_read, plan)
        if job.kind == ImportJob.Kind.TRANSACTIONS and plan.has("order_id"):
            invalid += _order_conflicts_check(plan=plan, stager=stager, report=report, skip_invalid=skip_invalid)
        _counts_check(job=job, report=report, total=total, invalid=invalid, skip_invalid=skip_invalid)
        _save_progress(job, progress=92)
        _write(job=job, plan=plan, stager=stager, skipped=invalid if skip_invalid else 0,
               validate_seconds=time.monotonic() - started)
    finally:
        report.close()
        try:
            stager.drop()
        except (DatabaseError, InterfaceError):
            logger.info("staging table of import %s went with its connection", job.pk)


def _lines_shown(numbers: list[int], offset: int) -> str:
    """Line numbers for a note: the first ten, as the reader counts them (a workbook's rows)."""
    return ", ".join(str(line + offset) for line in numbers[:10]) + (", …" if len(numbers) > 10 else "")


def _note(job: ImportJob, key: str, *parts: tuple[Any, dict[str, Any]]) -> None:
    """A reading note on the job, as `detected[key]` (its text in the language the import runs
    in: the command line's report, logs) and as message parts under `detected["note_parts"]`,
    which the page translates into each reader's language (ImportJob.notes_shown)."""
    job.detected[key] = " ".join(str(template).format(**params) for template, params in parts)
    job.detected.setdefault(NOTE_PARTS, {})[key] = [message_part(template, **params) for template, params in parts]


def _reading_notes(job: ImportJob, dates: DateParser, not_read: NotRead, plan: ColumnPlan) -> None:
    """Say on the import how the file was read where a reader would not guess it: as an export
    with its own rules (Shopify's), which amount columns were multiplied by the scale in their
    names (金额(万元)), which totals rows and lone-cell notes were not read (line numbers of the
    sheet for a workbook), and when dates were read from Excel day numbers (45356 = 2024-03-05)."""
    if plan.profile is not None:
        job.detected["profile"] = plan.profile.key
        _note(job, "profile_note", (PROFILE_NOTES[plan.profile.key], {}))
    if plan.scales:
        _note(job, "scale_note", *(
            (NOTE_AMOUNT_SCALE, {"column": plan.column_label(name), "unit": unit, "factor": f"{factor:,}",
                                 "example": f"{Decimal('1.5') * factor:,.2f}"})
            for name, (factor, unit) in plan.scales.items()))
    if plan.revenue_from_quantity:
        _note(job, "revenue_note", (NOTE_REVENUE_FROM_QUANTITY, {
            "quantity": plan.column_label("quantity"), "price": plan.column_label("unit_price")}))
    if not_read.not_revenue:
        counted = sorted(not_read.not_revenue.items(), key=lambda item: (-item[1], item[0]))
        _note(job, "not_revenue_note", (NOTE_NOT_REVENUE, {
            "count": sum(not_read.not_revenue.values()),
            "statuses": ", ".join(f"{status} {n:,}" for status, n in counted[:6]) + (", …" if len(counted) > 6 else "")}))
    if not_read.repeated_headers:
        _note(job, "repeated_header_note", (NOTE_REPEATED_HEADER, {
            "count": len(not_read.repeated_headers), "lines": _lines_shown(not_read.repeated_headers, dates.line_offset)}))
    if not_read.summaries:
        _note(job, "summary_note", (NOTE_SUMMARY_ROWS, {
            "count": len(not_read.summaries), "lines": _lines_shown(not_read.summaries, dates.line_offset)}))
    if not_read.lone_cells:
        _note(job, "lone_cell_note", (NOTE_LONE_CELLS, {
            "count": len(not_read.lone_cells), "example": not_read.lone_cells[0][1][:60],
            "lines": _lines_shown([line for line, _text in not_read.lone_cells], dates.line_offset)}))
    if dates.month_example is not None and job.kind == ImportJob.Kind.TRANSACTIONS:
        raw, value, line = dates.month_example
        _note(job, "month_date_note", (NOTE_MONTH_DATES, {"example": raw, "line": line + dates.line_offset, "date": value}))
    marks = not_read.currency_marks
    if marks is not None and marks.example is not None:
        raw, line = marks.example
        _note(job, "currency_mark_note", (NOTE_CURRENCY_MARKS if marks.count > 1 else NOTE_CURRENCY_MARK, {
            "count": f"{marks.count:,}", "example": raw[:40], "line": line + dates.line_offset, "currency": marks.board}))
    if dates.serial_example is not None:
        raw, value, line = dates.serial_example
        date_field = "month" if job.kind == ImportJob.Kind.COSTS else "order_date"
        _note(job, "date_note", (NOTE_EXCEL_DAY_NUMBERS, {
            "example": raw, "line": line + dates.line_offset, "date": value, "field": date_field}))


def _attributes(plan: ColumnPlan) -> tuple[str, ...]:
    return tuple(a for a in loading.ATTRIBUTES if plan.has(a))


def _counts_check(*, job: ImportJob, report: ErrorReport, total: int, invalid: int, skip_invalid: bool) -> None:
    """After reading: the error report recorded on the job, and the file refused when it has no
    valid row, or invalid ones that are not to be skipped."""
    report.close()
    job.rows_total, job.rows_invalid = total, invalid
    job.error_report = report.first
    job.error_report_file = str(report.relative) if report.count else ""
    if total == 0:
        raise refused(ERR_NO_DATA_ROWS)
    if invalid and not skip_invalid:
        raise refused(ERR_INVALID_ROWS, count=f"{invalid:,}")
    if invalid >= total:
        raise refused(ERR_NOTHING_VALID, count=invalid)


def _still_ours(job: ImportJob, *, lock: bool) -> None:
    """Refuse to go on when the job is no longer this attempt's (a sweep gave the worker up)."""
    jobs = ImportJob.objects.select_for_update() if lock else ImportJob.objects
    current = jobs.only("status", "attempts").get(pk=job.pk)
    if current.status != ImportJob.Status.RUNNING or current.attempts != job.attempts:
        raise refused(ERR_NOT_RUNNING)


class _ReadAgain(Exception):
    """Leave the transaction (rolled back) to read the file again with this date order."""

    def __init__(self, date_order: str) -> None:
        super().__init__(date_order)
        self.date_order = date_order


def _run_direct(
    *, job: ImportJob, source: SourceFile, plan: ColumnPlan, dates: DateParser, report: ErrorReport,
    skip_invalid: bool, date_order: str | None, started: float,
) -> str | None:
    """Read and write in one transaction (direct.py): the file's blocks go into the
    transactions table while the next is read, and the job is marked loaded at the end. Returns
    None once loaded, or the date order to read the file again with (nothing kept). Raises
    NotDirect or NotColumnar, after rolling back, when the file needs the staging table."""
    writer = DirectWriter(connection=connection, job_id=job.pk, file_bytes=source.size)
    progress = _ProgressBeside()
    try:
        with transaction.atomic():
            # No lock on the job row while reading: the progress is saved beside this transaction.
            _still_ours(job, lock=False)
            loading.imports_lock(connection=connection)
            loading.foreign_key_checks_defer_to_the_join(connection=connection)
            try:
                total, invalid, not_read = _stage(job=job, source=source, plan=plan, dates=dates, stager=writer,
                                                  report=report, skip_invalid=skip_invalid, columnar=True,
                                                  save=progress.save)
            except BaseException:
                # The blocks being written must end before the rollback uses the connection.
                writer.settle(raise_error=False)
                raise
            progress.close()
            needed, problem = dates.order_problem()
            if problem:
                raise ImportRefused(problem)
            if needed is not None:
                raise _ReadAgain(needed)
            job.detected.update(date_order=date_order or "", reader=READER_COLUMNAR, writer=WRITER_DIRECT)
            _reading_notes(job, dates, not_read, plan)
            _counts_check(job=job, report=report, total=total, invalid=invalid, skip_invalid=skip_invalid)
            writing = time.monotonic()
            _still_ours(job, lock=True)
            if not writer.has_order_ids:
                _duplicate_refuse(job)
            result = writer.result()
            _loaded(job=job, result=result, relabelled={}, new_values=[], referrals=[],
                    skipped=invalid if skip_invalid else 0, validate_seconds=writing - started, started=writing,
                    reading="seconds_reading_and_writing")
    except _ReadAgain as again:
        return again.date_order
    finally:
        progress.close()
        writer.drop()
    _request_recompute(from_month=result.earliest, trigger="import")
    return None


def _write(
    *, job: ImportJob, plan: ColumnPlan, stager: loading.Stager, skipped: int, validate_seconds: float
) -> None:
    """Step 2: everything the file changes, in one transaction."""
    started = time.monotonic()
    attributes = _attributes(plan)
    with transaction.atomic():
        _still_ours(job, lock=True)
        loading.imports_lock(connection=connection)
        loading.foreign_key_checks_defer_to_the_join(connection=connection)
        loading.aggregation_memory_raise(connection=connection)
        # Segment values: aliases first (华东 -> East), then what is still new is listed.
        relabelled = aliases_services.staging_apply(connection=connection, table=stager.table, kind=job.kind,
                                                    attributes=attributes)
        new_values = ([] if job.kind == ImportJob.Kind.COSTS else aliases_services.staging_new_values(
            connection=connection, table=stager.table, attributes=attributes))
        if job.kind == ImportJob.Kind.TRANSACTIONS:
            if not loading.staged_has_order_ids(connection=connection, stager=stager):
                _duplicate_refuse(job)
            result = loading.transactions_write(
                connection=connection, stager=stager, job_id=job.pk, attributes=attributes, file_bytes=job.size_bytes
            )
        elif job.kind == ImportJob.Kind.CUSTOMERS:
            result = loading.customers_write(connection=connection, stager=stager, attributes=attributes)
        else:
            result = loading.costs_write(connection=connection, stager=stager, job_id=job.pk)
        # Referrals that cannot count as things stand: reported, never refused (METRICS.md, Referrals).
        referrals = (loading.referral_problems(connection=connection, stager=stager)
                     if "referred_by" in attributes else [])
        _loaded(job=job, result=result, relabelled=relabelled, new_values=new_values, referrals=referrals,
                skipped=skipped, validate_seconds=validate_seconds, started=started)
    # A customers file can move any customer between segments: recompute everything.
    _request_recompute(from_month=None if job.kind == ImportJob.Kind.CUSTOMERS else result.earliest, trigger="import")


def _loaded(
    *, job: ImportJob, result: loading.WriteResult, relabelled: dict[str, int], new_values: list[dict[str, Any]],
    referrals: list[dict[str, Any]], skipped: int, validate_seconds: float, started: float,
    reading: str = "seconds_validating",
) -> None:
    """The job marked loaded, with what the write did (inside the write's transaction).
    `reading` names the time before `started`: validating, or (written while read) both."""
    job.rows_written = result.rows_written
    job.rows_skipped = skipped
    job.rows_parsed = job.rows_total
    job.result = {**result.as_dict(), "aliases_applied": relabelled, "new_segment_values": new_values,
                  "referral_warnings": referrals,
                  reading: round(validate_seconds, 2),
                  "seconds_writing": round(time.monotonic() - started, 2)}
    job.progress = 100
    job.status = ImportJob.Status.SUCCEEDED
    job.finished_at = timezone.now()
    loaded = (message_part(MSG_LOADED_SKIPPED, rows=f"{result.rows_written:,}", skipped=f"{skipped:,}")
              if skipped else message_part(MSG_LOADED, rows=f"{result.rows_written:,}"))
    job.message = str(MSG_LOADED_SKIPPED if skipped else MSG_LOADED).format(**loaded["params"])
    job.message_parts = [loaded]
    job.save()
    header_mapping_learn(job=job)


# --- Undo and run again -----------------------------------------------------------------------


def import_undo(*, job: ImportJob) -> ImportJob:
    """Delete the transactions and cost entries the import holds (orders a later import replaced
    belong to that later import and stay), mark it undone and ask for a recompute."""
    if job.kind == ImportJob.Kind.CUSTOMERS:
        raise refused(ERR_UNDO_CUSTOMERS)
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status != ImportJob.Status.SUCCEEDED:
            raise refused(ERR_UNDO_STATE, status=locked.get_status_display())
        loading.imports_lock(connection=connection)
        transactions = Transaction.objects.filter(import_job=locked)
        costs = CostEntry.objects.filter(import_job=locked)
        earliest = [d for d in (
            transactions.order_by("order_date").values_list("order_date", flat=True).first(),
            costs.order_by("month").values_list("month", flat=True).first(),
        ) if d is not None]
        # Neither model has signals or dependants, so each is one DELETE statement.
        removed_transactions = transactions.delete()[0]
        removed_costs = costs.delete()[0]
        locked.status = ImportJob.Status.UNDONE
        undone = message_part(MSG_UNDONE, transactions=f"{removed_transactions:,}", costs=f"{removed_costs:,}")
        locked.message = str(MSG_UNDONE).format(**undone["params"])
        locked.message_parts = [undone]
        locked.result = {**locked.result, "undone_transactions": removed_transactions, "undone_costs": removed_costs,
                         "undone_at": timezone.now().isoformat()}
        locked.save(update_fields=["status", "message", "message_parts", "result"])
    if earliest:
        _request_recompute(from_month=min(earliest), trigger="undo")
    return locked


def import_rerun(
    *, job: ImportJob, mapping: dict[str, str] | None = None, date_order: str | None = None,
    skip_invalid: bool | None = None, enqueue: bool = True, sheet: str | None = None,
) -> ImportJob:
    """Queue a refused or failed import again, optionally with a column mapping or a date order."""
    if job.status not in (ImportJob.Status.REJECTED, ImportJob.Status.FAILED):
        raise refused(ERR_RERUN_STATE, status=job.get_status_display())
    if date_order and date_order not in DATE_ORDERS:
        raise refused(ERR_DATE_ORDER)
    if mapping is not None:
        known = {s.name for s in FIELDS[job.kind]}
        job.options["mapping"] = {k: v for k, v in mapping.items() if k in known and v}
    if date_order is not None:
        job.options["date_order"] = date_order
    if skip_invalid is not None:
        job.options["skip_invalid"] = skip_invalid
    if sheet is not None:
        job.options["sheet"] = sheet.strip()[:100]
    reset = {
        "status": ImportJob.Status.PENDING, "progress": 0, "rows_total": 0, "rows_parsed": 0, "rows_written": 0,
        "rows_invalid": 0, "rows_skipped": 0, "message": "", "message_parts": [], "error_report": [], "error_report_file": "",
        "result": {}, "started_at": None, "finished_at": None, "heartbeat_at": None,
    }
    for name, value in reset.items():
        setattr(job, name, value)
    job.save()
    if enqueue:
        import_enqueue(job=job)
    return job
