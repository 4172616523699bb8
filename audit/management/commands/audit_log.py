from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.exports import FORMATS, export_lines
from audit.selectors import audit_events_filter

ERROR_DATE = "--{option} takes a date as YYYY-MM-DD, not {value!r}."


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(ERROR_DATE.format(option=option, value=value)) from None


class Command(BaseCommand):
    help = "Print the audit log (newest first) as CSV or JSON, optionally from a day on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="entries from this day on (site time zone)")
        parser.add_argument("--until", metavar="YYYY-MM-DD", help="entries up to this day, included")
        parser.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or json")
        parser.add_argument("--action", default="", help="only this action, e.g. login_failed")
        parser.add_argument("--user", default="", help="only this username")

    def handle(self, *args: Any, **options: Any) -> None:
        events = audit_events_filter(
            action=options["action"], username=options["user"],
            since=_date("since", options["since"]), until=_date("until", options["until"]),
        ).iterator(chunk_size=2000)
        for chunk in export_lines(events, fmt=options["format"]):
            self.stdout.write(chunk, ending="")
