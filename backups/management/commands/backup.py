from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.services import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump -Fc, or a consistent copy of the SQLite file) and the media "
        "directory into DIR (new or empty), with a manifest of row counts and checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(directory=options["directory"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        manifest = result.manifest
        rows = sum(manifest["tables"].values())
        self.stdout.write(
            f"Backed up {len(manifest['tables'])} tables ({rows} rows) and {manifest['media_files']} media files "
            f"to {result.path}"
        )
