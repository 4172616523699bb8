"""python manage.py import_csv {transactions|customers|costs} PATH [--sheet NAME] [--skip-invalid] [--map FIELD=COLUMN]..."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Action, audit_record_import
from customers.models import ImportJob
from customers.services import ImportRefused, import_claim, import_create, import_run
from customers.services.imports import file_chunks
from customers.services.parsing import DATE_ORDERS, mapping_parse


class Command(BaseCommand):
    help = (
        "Import a CSV file or an Excel workbook of transactions, customers or costs, the same way as an upload on the imports page "
        "but in this process. Prints the report; exits non-zero when the file is refused or the import fails."
    )
    # The system checks load every URL module and view (about a second) and check nothing this
    # command uses: the web process and `manage.py check` run them. A worker's import skips them too.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=[k.value for k in ImportJob.Kind])
        parser.add_argument("path", type=Path)
        parser.add_argument("--skip-invalid", action="store_true", help="load the valid rows, skip the invalid ones")
        parser.add_argument(
            "--map", action="append", default=[], metavar="FIELD=COLUMN",
            help="use COLUMN (a header name, or #N for the N-th column) for FIELD, e.g. --map revenue=dollar_value",
        )
        parser.add_argument("--sheet", default="", help="the sheet of an Excel workbook to read (default: the first visible one whose header names columns of this kind)")
        parser.add_argument("--date-order", choices=DATE_ORDERS, default="", help="day/month order of D.M.YYYY dates")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            mapping = mapping_parse(items=options["map"])
            with path.open("rb") as handle:
                job = import_create(
                    kind=options["kind"], chunks=file_chunks(handle), original_name=path.name,
                    skip_invalid=options["skip_invalid"], date_order=options["date_order"], mapping=mapping,
                    enqueue=False, sheet=options["sheet"],
                )
        except ImportRefused as exc:
            raise CommandError(str(exc)) from exc
        # On the record like an upload on the page (by nobody: the command is the system's).
        audit_record_import(action=Action.IMPORT_UPLOAD, job=job)
        claimed = import_claim(job_id=job.pk)
        assert claimed is not None
        job = import_run(job=claimed)
        self._report(job)
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"Import #{job.pk}: {job.get_status_display()}.")

    def _report(self, job: ImportJob) -> None:
        out = self.stdout
        detected = job.detected or {}
        out.write(f"Import #{job.pk} ({job.kind}) of {job.original_name}: {job.get_status_display()}")
        workbook = detected.get("workbook")
        if workbook:
            out.write(f"  sheet {workbook['sheet']!r}, header on row {workbook['header_row']}"
                      + (f", sheets passed over (no column of this kind): {', '.join(workbook['passed_over'])}"
                         if workbook.get("passed_over") else "")
                      + (f", hidden sheets not read: {', '.join(workbook['hidden_sheets'])}" if workbook["hidden_sheets"] else ""))
        if detected:
            out.write(f"  encoding {detected.get('encoding')}, delimiter {detected.get('delimiter')}")
            if detected.get("reader"):
                written = {"direct": "while read", "staged": "through the staging table"}.get(detected.get("writer", ""))
                out.write(f"  read by the {detected['reader']} reader" + (f", written {written}" if written else ""))
            for note in ("encoding_note", "excel_text_note", "profile_note", "scale_note", "revenue_note", "not_revenue_note", "repeated_header_note", "summary_note", "lone_cell_note", "currency_mark_note", "month_date_note", "date_note"):  # in the page's order
                if detected.get(note):
                    out.write(f"  note: {detected[note]}")
            columns = ", ".join(f"{k}={v!r}" for k, v in detected.get("columns", {}).items())
            out.write(f"  columns: {columns}")
            if detected.get("learned_mapping"):
                learned = ", ".join(f"{k}={v!r}" for k, v in detected["learned_mapping"].items())
                out.write(f"  columns mapped as last time: {learned}")
            if detected.get("ignored"):
                out.write(f"  ignored columns: {', '.join(detected['ignored'])}")
        out.write(f"  rows {job.rows_total}, invalid {job.rows_invalid}, skipped {job.rows_skipped}, "
                  f"written {job.rows_written}")
        new_values = (job.result or {}).get("new_segment_values") or []
        if new_values:
            listed = ", ".join(f"{v['value']} ({v['dimension']}, {v['customers']} customers)" for v in new_values)
            out.write(f"  new segment values: {listed} (map them on /aliases/)")
        for move in (job.result or {}).get("segment_moves") or []:
            flows = ", ".join(f"{old} -> {new} ({n})" for old, new, n in move["changes"])
            out.write(f"  moved to another segment ({move['dimension']}): {move['customers']} customer(s): {flows}"
                      " (their whole history moves; closed months show a restatement)")
        for conflict in (job.result or {}).get("segment_conflicts") or []:
            examples = "; ".join(f"{c}: {' -> '.join(v)}" for c, v in conflict["examples"])
            out.write(f"  given different values in the file ({conflict['dimension']}): {conflict['customers']} "
                      f"customer(s), the last kept: {examples}")
        for found in (job.result or {}).get("referral_warnings") or []:
            examples = ", ".join(f"{c} <- {r}" for c, r in found["examples"])
            out.write(f"  referrals that cannot count yet ({found['kind']}): {found['customers']} customer(s), "
                      f"e.g. {examples}")
        for key, value in (job.result or {}).items():
            if key in ("new_segment_values", "aliases_applied", "referral_warnings") and not value:
                continue
            if key not in ("rows_written", "new_segment_values", "referral_warnings", "segment_moves",
                           "segment_conflicts"):
                out.write(f"  {key.replace('_', ' ')}: {value}")
        for error in job.error_report:
            where = f"row {error['line']}, cell {error['cell']}" if error.get("cell") else f"line {error['line']}"
            out.write(f"  {where}, column {error['column']!r}, value {error['value']!r}: {error['reason']}")
        if job.rows_invalid > len(job.error_report) and job.error_report_file:
            out.write(f"  ... full error report: {job.error_report_file} (under the media root)")
        if job.message:
            out.write(job.message)
