"""Learned column mappings: once an analyst has mapped a file's unrecognised columns by hand
(dollar_value -> revenue) and the file loaded, the next file of the same kind with the same set
of column names is mapped the same way, and its import says so ("columns mapped as last time").

A hand mapping given with a file always wins over a learned one; a learned mapping is only
looked up when no hand mapping was given.
"""

from __future__ import annotations

import hashlib

from django.db.models import F

from customers.models import HeaderMapping, ImportJob

from .parsing import _norm


def header_key(header: list[str]) -> str:
    """The same for the same column names in any order, case, width or spacing."""
    names = sorted({_norm(h) for h in header if h.strip()})
    return hashlib.sha1("\x1f".join(names).encode(), usedforsecurity=False).hexdigest()


def header_mapping_find(*, kind: str, header: list[str]) -> dict[str, str] | None:
    found = (HeaderMapping.objects.filter(kind=kind, header_key=header_key(header))
             .values_list("pk", "mapping").first())
    if found is None:
        return None
    HeaderMapping.objects.filter(pk=found[0]).update(times_applied=F("times_applied") + 1)
    return dict(found[1])


def header_mapping_learn(*, job: ImportJob) -> HeaderMapping | None:
    """Keep the hand mapping of a loaded import for its header set (not a learned one again)."""
    detected = job.detected or {}
    mapping = (job.options or {}).get("mapping") or {}
    header = detected.get("header") or []
    if not mapping or not header or detected.get("learned_mapping"):
        return None
    username = job.created_by.get_username() if job.created_by_id and job.created_by else ""
    learned, _created = HeaderMapping.objects.update_or_create(
        kind=job.kind, header_key=header_key(header),
        defaults={"header": header, "mapping": mapping, "learned_from": job, "username": username},
    )
    return learned
