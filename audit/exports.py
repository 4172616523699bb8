"""The audit log as CSV or JSON, streamed row by row.

CSV cells that a spreadsheet would run as a formula are neutralised (spreadsheet_safe): a
username or an import's file name is whatever someone typed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from clv_dashboard.spreadsheets import spreadsheet_safe

from .models import AuditEvent

COLUMNS = ["id", "time", "action", "username", "address", "target_type", "target_id", "target", "details"]
FORMATS = ("csv", "json")


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "time": timezone.localtime(event.created_at).isoformat(),
        "action": event.action,
        "username": event.username,
        "address": event.address or "",
        "target_type": event.target_type,
        "target_id": event.target_id,
        "target": event.target_repr,
        "details": event.details,
    }


class _Line:
    """A file-like object for csv.writer that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(COLUMNS)
    for event in events:
        row = event_as_dict(event)
        row["details"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
        yield writer.writerow([spreadsheet_safe(row[c]) for c in COLUMNS])


def json_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """A JSON array, one entry per line."""
    yield "["
    for i, event in enumerate(events):
        text = json.dumps(event_as_dict(event), ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
        yield ("\n" if i == 0 else ",\n") + text
    yield "\n]\n"


def export_lines(events: Iterable[AuditEvent], *, fmt: str) -> Iterator[str]:
    return csv_lines(events) if fmt == "csv" else json_lines(events)
