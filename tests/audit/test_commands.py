from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.management.commands.audit_log import ERROR_DATE
from audit.models import AuditEvent
from audit.services import Action, audit_record


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("audit_log", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def entries(db: None) -> None:
    audit_record(action=Action.LOGIN, username="ann", target="ann")
    audit_record(action=Action.TOKEN_ISSUE, username="=bob", details={"prefix": "clv_abc"})


def test_audit_log_prints_json_of_every_entry(entries: None) -> None:
    data = json.loads(_run("--format", "json"))
    assert len(data) == AuditEvent.objects.count()
    assert {"ann", "=bob"} <= {row["username"] for row in data}


def test_audit_log_prints_safe_csv_since_a_day(entries: None) -> None:
    today = dt.date.today().isoformat()
    rows = list(csv.DictReader(io.StringIO(_run("--since", today, "--format", "csv", "--action", "token_issue"))))
    assert [r["username"] for r in rows] == ["'=bob"]
    assert json.loads(rows[0]["details"]) == {"prefix": "clv_abc"}
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert json.loads(_run("--since", future, "--format", "json")) == []


def test_audit_log_refuses_a_date_it_cannot_read(db: None) -> None:
    with pytest.raises(CommandError, match=ERROR_DATE.format(option="since", value="yesterday").replace("(", r"\(")):
        _run("--since", "yesterday")
