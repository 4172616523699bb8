"""Backups of the database and the stored upload files, and their restore into an empty database.

A backup is a directory of three files:
- `database.dump` (PostgreSQL, `pg_dump -Fc`) or `database.sqlite3` (a copy made with SQLite's
  online backup API, so consistent while the application writes);
- `media.tar.gz`, the media directory (the stored uploads and error reports, which a database
  dump does not contain);
- `manifest.json`: the engine, versions, the row count of every table and the size and SHA-256
  of each file.

On PostgreSQL the row counts and the dump read the same snapshot: the backup opens a
REPEATABLE READ transaction, exports its snapshot and runs `pg_dump --snapshot`, so the counts
describe exactly what was dumped even while imports write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_FILE = "media.tar.gz"
FORMAT_VERSION = 1

ERROR_DIR_NOT_EMPTY = "The backup directory {path} is not empty: give a new or empty directory."
ERROR_ENGINE_UNSUPPORTED = "Backups support PostgreSQL and SQLite, not {engine}."
ERROR_TOOL_MISSING = "{tool} was not found: install the PostgreSQL client (apt-get install postgresql-client)."
ERROR_PG_DUMP_OLDER = (
    "pg_dump {client} is older than the PostgreSQL server {server}: install the client of the server's "
    "major version (apt-get install postgresql-client-{server})."
)
ERROR_PG_RESTORE_OLDER = "pg_restore {client} cannot read a dump made by pg_dump {dumped}: install a newer PostgreSQL client."
ERROR_TOOL_FAILED = "{tool} failed (exit {code}): {stderr}"
ERROR_NO_MANIFEST = "{path} has no manifest.json: it is not a backup made by `manage.py backup`."
ERROR_BAD_MANIFEST = "{path} is not a valid backup manifest: {reason}."
ERROR_FILE_MISSING = "{name} is listed in the manifest but missing from {path}: nothing was restored."
ERROR_CHECKSUM = (
    "{name} does not match the checksum in the manifest (the file is damaged or was changed): nothing was restored."
)
ERROR_ENGINE_MISMATCH = "This backup is of a {backup} database but the configured database is {current}: nothing was restored."
ERROR_DATABASE_NOT_EMPTY = (
    "The database {name} is not empty ({count} tables): restore only into an empty database "
    "(create a new one, point DATABASE_URL at it, and run restore again). Nothing was restored."
)
ERROR_MEDIA_NOT_EMPTY = (
    "The media directory {path} is not empty: restore into an empty one (move the files away or set "
    "CLV_MEDIA_ROOT to a new directory). Nothing was restored."
)
ERROR_COUNT_MISMATCH = "After the restore, table {table} has {found} rows where the manifest says {expected}."


class BackupError(Exception):
    """A backup or a restore refused or failed; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


# --- Helpers ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _engine(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(ERROR_ENGINE_UNSUPPORTED.format(engine=vendor))
    return vendor


def _pg_env(alias: str = "default") -> dict[str, str]:
    s = connections[alias].settings_dict
    env = {**os.environ, "PGDATABASE": s["NAME"]}
    for key, var in (("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"), ("HOST", "PGHOST"), ("PORT", "PGPORT")):
        if s.get(key):
            env[var] = str(s[key])
    return env


def _tool_major(tool: str) -> int:
    """The major version of pg_dump or pg_restore (`pg_dump (PostgreSQL) 15.20 ...` -> 15)."""
    if shutil.which(tool) is None:
        raise BackupError(ERROR_TOOL_MISSING.format(tool=tool))
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if not found:
        raise BackupError(ERROR_TOOL_MISSING.format(tool=tool))
    return int(found.group(1))


def _run(args: list[str], *, env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(ERROR_TOOL_FAILED.format(tool=args[0], code=done.returncode, stderr=done.stderr.strip()[-2000:]))


def _count_rows(cursor: Any, tables: list[str], quote: Any) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _pg_tables(cursor: Any) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return [row[0] for row in cursor.fetchall()]


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [row[0] for row in rows]


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _tar_media(target: Path) -> int:
    """Every file under the media dir, paths relative to it; returns how many files."""
    root = _media_root()
    files = 0
    with tarfile.open(target, "w:gz") as tar:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
                    files += 1
    return files


# --- Backup -----------------------------------------------------------------------------------


def _pg_backup(directory: Path) -> dict[str, Any]:
    """Dump and count in one exported snapshot (see the module docstring)."""
    client = _tool_major("pg_dump")
    conn = connections.create_connection("default")
    try:
        conn.ensure_connection()
        raw = conn.connection
        raw.autocommit = False
        with raw.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SHOW server_version_num")
            server = int(cursor.fetchone()[0]) // 10000
            if client < server:
                raise BackupError(ERROR_PG_DUMP_OLDER.format(client=client, server=server))
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = _count_rows(cursor, _pg_tables(cursor), conn.ops.quote_name)
            _run(["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={directory / PG_DUMP_FILE}"],
                 env=_pg_env())
        raw.rollback()
    finally:
        conn.close()
    return {"engine": "postgresql", "file": PG_DUMP_FILE, "server_major": server, "pg_dump_major": client,
            "tables": counts}


def _sqlite_backup(directory: Path) -> dict[str, Any]:
    connection = connections["default"]
    connection.ensure_connection()
    target = directory / SQLITE_FILE
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        counts = _count_rows(copy.cursor(), _sqlite_tables(copy), lambda name: '"' + name.replace('"', '""') + '"')
    finally:
        copy.close()
    return {"engine": "sqlite", "file": SQLITE_FILE, "tables": counts}


def backup_create(*, directory: Path) -> BackupResult:
    """Write a backup into `directory` (new or empty): the database, then the media dir, then
    the manifest last, so a directory with a manifest is a complete backup."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(ERROR_DIR_NOT_EMPTY.format(path=directory))
    directory.mkdir(parents=True, exist_ok=True)
    engine = _engine()
    database = _pg_backup(directory) if engine == "postgresql" else _sqlite_backup(directory)
    # After the database: every upload the dump refers to was stored before the snapshot.
    media_files = _tar_media(directory / MEDIA_FILE)
    files = {}
    for name in (database["file"], MEDIA_FILE):
        path = directory / name
        files[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "database": {k: v for k, v in database.items() if k != "tables"},
        "tables": database["tables"],
        "media_files": media_files,
        "files": files,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return BackupResult(path=directory, manifest=manifest)


# --- Restore ----------------------------------------------------------------------------------


def backup_verify(*, directory: Path) -> dict[str, Any]:
    """The manifest of a backup whose files are all present with their recorded checksums."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(ERROR_NO_MANIFEST.format(path=directory))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        database_file = manifest["database"]["file"]
        tables = manifest["tables"]
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT_VERSION}")
        if database_file not in files or MEDIA_FILE not in files or not isinstance(tables, dict):
            raise ValueError("it does not list the database file and the media archive")
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(ERROR_BAD_MANIFEST.format(path=path, reason=exc)) from None
    for name, meta in files.items():
        file = directory / name
        if not file.is_file():
            raise BackupError(ERROR_FILE_MISSING.format(name=name, path=directory))
        if file.stat().st_size != meta["bytes"] or _sha256(file) != meta["sha256"]:
            raise BackupError(ERROR_CHECKSUM.format(name=name))
    return dict(manifest)


def _current_tables() -> list[str]:
    connection = connections["default"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _pg_tables(cursor)
        return [t for t in connection.introspection.table_names(cursor) if not t.startswith("sqlite_")]


def _restore_media(archive: Path) -> None:
    root = _media_root()
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # The "data" filter refuses absolute paths, "..", links out of the tree and devices.
        tar.extractall(root, filter="data")


def backup_restore(*, directory: Path) -> dict[str, Any]:
    """Restore a verified backup into the configured database, which must be empty, and its
    media archive into an empty media dir; then check every table's row count. Returns the
    manifest.

    1. Verify the manifest and every checksum; refuse another engine, a database with any
       table, a media dir with any file.
    2. PostgreSQL: `pg_restore --single-transaction --exit-on-error` (all or nothing);
       SQLite: copy the backup into the database file with SQLite's backup API.
    3. Extract the media archive, then compare the row count of every table with the manifest.
    """
    directory = Path(directory)
    manifest = backup_verify(directory=directory)
    engine = _engine()
    backup_engine = manifest["database"]["engine"]
    if backup_engine != engine:
        raise BackupError(ERROR_ENGINE_MISMATCH.format(backup=backup_engine, current=engine))
    tables = _current_tables()
    if tables:
        raise BackupError(ERROR_DATABASE_NOT_EMPTY.format(name=connections["default"].settings_dict["NAME"],
                                                          count=len(tables)))
    root = _media_root()
    if root.is_dir() and any(p.is_file() for p in root.rglob("*")):
        raise BackupError(ERROR_MEDIA_NOT_EMPTY.format(path=root))
    database_file = directory / manifest["database"]["file"]
    if engine == "postgresql":
        client = _tool_major("pg_restore")
        dumped = int(manifest["database"].get("pg_dump_major", 0))
        if client < dumped:
            raise BackupError(ERROR_PG_RESTORE_OLDER.format(client=client, dumped=dumped))
        connections["default"].close()
        _run(["pg_restore", "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
              f"--dbname={connections['default'].settings_dict['NAME']}", str(database_file)], env=_pg_env())
    else:
        connection = connections["default"]
        connection.ensure_connection()
        source = sqlite3.connect(database_file)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    _restore_media(directory / MEDIA_FILE)
    connection = connections["default"]
    with connection.cursor() as cursor:
        for table, expected in manifest["tables"].items():
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            found = int(cursor.fetchone()[0])
            if found != expected:
                raise BackupError(ERROR_COUNT_MISMATCH.format(table=table, found=found, expected=expected))
    return manifest
