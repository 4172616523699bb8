"""Uploads on the import page go straight into the media dir, never through the temp dir.

Django's default handlers keep a file part in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE and
write anything bigger to a temporary file, which the import then copied into the media dir.
`MediaUploadHandler` (first in FILE_UPLOAD_HANDLERS) instead writes each file part of a request
to an upload URL into `MEDIA_ROOT/imports/uploads/` under a generated name while the body is
parsed, hashing it on the way, and hands the view a `StoredUpload` that the import adopts
without copying. Requests to any other URL fall through to the memory handler only (their bodies
are capped small by `clv_dashboard.middleware.RequestBodyLimitMiddleware`); no handler writes a
temporary file.

A stored upload that no import adopts (refused form, CSRF failure, broken connection) is deleted
at the end of the request by the middleware (`stored_uploads_discard`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import HttpRequest
from django.urls import reverse

UPLOAD_SUBDIR = Path("imports") / "uploads"
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def upload_paths() -> frozenset[str]:
    """The paths whose requests may carry a file of up to CLV_MAX_UPLOAD_MB."""
    return frozenset(reverse(name) for name in settings.CLV_UPLOAD_URL_NAMES)


def upload_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_SUBDIR


class StoredUpload(UploadedFile):
    """A file part already written to its final place in the media dir."""

    def __init__(self, *, path: Path, name: str, content_type: str, size: int, charset: str | None,
                 sha256: str, content_type_extra: dict[str, Any] | None = None) -> None:
        self.path = path
        self.sha256 = sha256
        self.adopted = False
        super().__init__(file=path.open("rb"), name=name, content_type=content_type, size=size, charset=charset,
                         content_type_extra=content_type_extra)

    @property
    def relative_path(self) -> str:
        return str(self.path.relative_to(Path(settings.MEDIA_ROOT)))

    def temporary_file_path(self) -> str:
        return str(self.path)

    def discard(self) -> None:
        """Delete the stored bytes (the upload was not adopted by an import)."""
        self.close()
        self.path.unlink(missing_ok=True)


class MediaUploadHandler(FileUploadHandler):
    """Writes the file parts of requests to an upload URL into the media dir (see the module)."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.activated = False
        self.path: Path | None = None
        self.out: IO[bytes] | None = None
        self.digest = hashlib.sha256()
        self.size = 0

    def handle_raw_input(self, input_data: Any, META: dict[str, Any], content_length: int, boundary: str,
                         encoding: str | None = None) -> None:
        self.activated = self.request is not None and self.request.path_info in upload_paths()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if not self.activated:
            return
        directory = upload_dir()
        directory.mkdir(parents=True, exist_ok=True)
        suffix = Path(self.file_name or "").suffix
        suffix = suffix.lower() if _SUFFIX.fullmatch(suffix) else ""
        self.path = directory / f"{uuid.uuid4().hex}{suffix}"
        self.out = self.path.open("xb")
        self.digest = hashlib.sha256()
        self.size = 0
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if not self.activated or self.out is None:
            return raw_data
        self.out.write(raw_data)
        self.digest.update(raw_data)
        self.size += len(raw_data)
        return None

    def file_complete(self, file_size: int) -> StoredUpload | None:
        if not self.activated or self.out is None or self.path is None:
            return None
        self.out.close()
        self.out = None
        upload = StoredUpload(
            path=self.path, name=self.file_name or "", content_type=self.content_type or "",
            size=self.size, charset=self.charset, sha256=self.digest.hexdigest(),
            content_type_extra=self.content_type_extra,
        )
        if self.request is not None:
            self.request.__dict__.setdefault("_stored_uploads", []).append(upload)
        self.path = None
        return upload

    def upload_interrupted(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def stored_uploads_discard(request: HttpRequest) -> None:
    """Delete the stored uploads of this request that no import adopted."""
    for upload in request.__dict__.get("_stored_uploads", []):
        if not upload.adopted:
            upload.discard()
        else:
            upload.close()
