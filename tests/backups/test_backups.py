"""Backups: a populated PostgreSQL database restored into a fresh one has every row of every table;
SQLite round-trips too; damaged, foreign or misplaced backups are refused with a clear message."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.services import Action, audit_record
from backups.services import (
    ERROR_CHECKSUM,
    ERROR_DATABASE_NOT_EMPTY,
    ERROR_DIR_NOT_EMPTY,
    ERROR_FILE_MISSING,
    ERROR_MEDIA_NOT_EMPTY,
    ERROR_NO_MANIFEST,
    MANIFEST,
    MEDIA_FILE,
    PG_DUMP_FILE,
)
from clv_dashboard import roles
from metrics.services import api_token_issue, assumptions_record, snapshots_recompute
from tests.conftest import REPO_ROOT
from tests.factories import CostEntryFactory, CustomerFactory, ImportJobFactory, TransactionFactory


def _pg_params(name: str) -> dict[str, Any]:
    s = connection.settings_dict
    return {"dbname": name, "user": s["USER"], "password": s.get("PASSWORD") or None,
            "host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432}


def _pg_url(name: str) -> str:
    p = _pg_params(name)
    auth = p["user"] + (f":{p['password']}" if p["password"] else "")
    return f"postgres://{auth}@{p['host']}:{p['port']}/{name}"


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.local", "DJANGO_DEBUG": "false",
                "REDIS_URL": "", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=full_env, capture_output=True,
                          text=True, timeout=240, check=False)


def _pg_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [r[0] for r in cursor.fetchall()]


def _pg_contents(name: str) -> dict[str, list[str]]:
    """Every row of every table (as JSON text, sorted) and every sequence's position."""
    with psycopg2.connect(**_pg_params(name)) as conn, conn.cursor() as cursor:
        contents = {}
        for table in _pg_tables(cursor):
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            contents[table] = sorted(r[0] for r in cursor.fetchall())
        cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")
        contents["(sequences)"] = sorted(f"{n}={v}" for n, v in cursor.fetchall())
    conn.close()
    return contents


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restore"
    admin = psycopg2.connect(**_pg_params("postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def populated(transactional_db: None, make_user: Callable[..., Any], settings: Any, tmp_path: Path) -> Path:
    """Committed data in most tables, and stored files in the media dir."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    (media / "imports" / "2024").mkdir(parents=True)
    (media / "imports" / "2024" / "upload-1.csv").write_bytes("customer_id,order_id\nC1,O1\n华东,O2\n".encode())
    (media / "imports" / "2024" / "upload-1-errors.csv").write_bytes(b"line,column,value,reason\n3,x,y,z\n")
    admin = make_user(roles.ADMIN, "backup-admin")
    analyst = make_user(roles.ANALYST, "backup-analyst")
    job = ImportJobFactory(created_by=analyst, stored_file="imports/2024/upload-1.csv", detected={"encoding": "utf-8"})
    for i in range(40):
        customer = CustomerFactory(region=["华东", "华北"][i % 2], product_line="retail")
        for month in (1, 2, 3):
            TransactionFactory(customer=customer, import_job=job, order_date=dt.date(2024, month, 5 + i % 20),
                               revenue=Decimal("120.50") + i, cost=Decimal("70.25"))
    for month in (1, 2, 3):
        CostEntryFactory(month=dt.date(2024, month, 1), amount=Decimal("900.00"))
    assumptions_record(user=admin, note="backup test", recompute=False, annual_discount_rate=Decimal("0.11"))
    snapshots_recompute(trigger="test")
    api_token_issue(user=analyst, name="bi")
    audit_record(action=Action.LOGIN, actor=admin, address="203.0.113.1", details={"note": "before backup"})
    return media


@pytest.mark.postgres
def test_a_backup_restored_into_a_fresh_database_has_every_row_of_every_table(
    populated: Path, fresh_database: str, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backup"
    call_command("backup", str(backup_dir))
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    assert set(manifest["files"]) == {PG_DUMP_FILE, MEDIA_FILE}
    assert manifest["tables"]["customers_transaction"] == 120 and manifest["media_files"] == 2
    assert manifest["tables"]["metrics_monthlysnapshot"] > 0

    restored_media = tmp_path / "restored-media"
    env = {"DATABASE_URL": _pg_url(fresh_database), "CLV_MEDIA_ROOT": str(restored_media)}
    done = _manage("restore", str(backup_dir), env=env)
    assert done.returncode == 0, done.stderr
    assert "every count checked" in done.stdout

    source, restored = _pg_contents(connection.settings_dict["NAME"]), _pg_contents(fresh_database)
    assert set(restored) == set(source)
    for table in source:
        assert restored[table] == source[table], table
    for path in populated.rglob("*"):
        if path.is_file():
            assert (restored_media / path.relative_to(populated)).read_bytes() == path.read_bytes()

    # The restored audit log is still append-only, and a second restore is refused.
    with psycopg2.connect(**_pg_params(fresh_database)) as conn, conn.cursor() as cursor, \
            pytest.raises(psycopg2.Error, match="append-only"):
        cursor.execute("DELETE FROM audit_auditevent")
    conn.close()
    again = _manage("restore", str(backup_dir), env=env)
    assert again.returncode != 0
    assert ERROR_DATABASE_NOT_EMPTY.split("{")[0] in again.stderr and "Nothing was restored" in again.stderr


@pytest.fixture
def pg_backup(db: None, tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    backup_dir = tmp_path / "backup"
    call_command("backup", str(backup_dir))
    return backup_dir


@pytest.mark.postgres
def test_restore_refuses_a_database_that_is_not_empty(pg_backup: Path) -> None:
    name = connection.settings_dict["NAME"]
    with pytest.raises(CommandError, match=f"The database {name} is not empty"):
        call_command("restore", str(pg_backup))


@pytest.mark.postgres
@pytest.mark.parametrize("name", [PG_DUMP_FILE, MEDIA_FILE])
def test_restore_refuses_a_backup_whose_file_was_changed(pg_backup: Path, name: str) -> None:
    path = pg_backup / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match=ERROR_CHECKSUM.format(name=name).replace("(", r"\(").replace(")", r"\)")):
        call_command("restore", str(pg_backup))


@pytest.mark.postgres
def test_restore_refuses_a_manifest_that_lists_a_missing_file(pg_backup: Path) -> None:
    (pg_backup / MEDIA_FILE).unlink()
    with pytest.raises(CommandError, match=ERROR_FILE_MISSING.format(name=MEDIA_FILE, path=pg_backup)):
        call_command("restore", str(pg_backup))


def test_restore_refuses_a_directory_without_a_manifest(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=ERROR_NO_MANIFEST.format(path=tmp_path).replace("`", ".")):
        call_command("restore", str(tmp_path))


def test_backup_refuses_a_directory_that_is_not_empty(db: None, tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(CommandError, match=ERROR_DIR_NOT_EMPTY.format(path=tmp_path)):
        call_command("backup", str(tmp_path))


def test_an_sqlite_database_and_its_media_round_trip(tmp_path: Path) -> None:
    import sqlite3

    source_db, media = tmp_path / "source.sqlite3", tmp_path / "media"
    (media / "imports").mkdir(parents=True)
    (media / "imports" / "a.csv").write_bytes(b"customer_id\nC1\n")
    env = {"DATABASE_URL": f"sqlite:///{source_db}", "CLV_MEDIA_ROOT": str(media)}
    assert _manage("migrate", "-v0", env=env).returncode == 0
    script = ("from audit.services import audit_record; from django.contrib.auth.models import User;"
              "u = User.objects.create_user('sqlite-user', password='Pass-word-2026');"
              "audit_record(action='login', actor=u)")
    created = _manage("shell", "-c", script, env=env)
    assert created.returncode == 0, created.stderr
    backup_dir = tmp_path / "backup"
    done = _manage("backup", str(backup_dir), env=env)
    assert done.returncode == 0, done.stderr

    target_db, target_media = tmp_path / "restored.sqlite3", tmp_path / "restored-media"
    target_env = {"DATABASE_URL": f"sqlite:///{target_db}", "CLV_MEDIA_ROOT": str(target_media)}
    done = _manage("restore", str(backup_dir), env=target_env)
    assert done.returncode == 0, done.stderr

    def contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
        conn = sqlite3.connect(path)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        found = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
        conn.close()
        return found

    source = contents(source_db)
    assert contents(target_db) == source and source["auth_user"]
    assert (target_media / "imports" / "a.csv").read_bytes() == b"customer_id\nC1\n"
    # Restoring again into another empty database but the same, now full, media dir is refused.
    other_env = {**target_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    refused = _manage("restore", str(backup_dir), env=other_env)
    assert refused.returncode != 0
    assert ERROR_MEDIA_NOT_EMPTY.format(path=target_media).split(":")[0] in refused.stderr
