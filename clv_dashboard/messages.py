"""Stored messages kept as template + values, so that each reader sees them in their language.

A job (an import, a recompute run, a fit) stores its message twice: `message`, the text in the
language it was written in (for logs, the command line and the API), and `message_parts`, a
list of {"template": msgid, "params": {...}}. Pages show `message_translate(message, parts)`:
each template translated into the active language, then filled in.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext


def msgid(template: Any) -> str:
    """The untranslated text of a (lazy) translatable string."""
    with translation.override(None):
        return str(template)


def message_part(template: Any, **params: Any) -> dict[str, Any]:
    """One part of a stored message; the values are kept as text (JSON)."""
    return {"template": msgid(template), "params": {k: v if isinstance(v, (int, float)) else str(v)
                                                   for k, v in params.items()}}


def parts_translate(text: str, parts: list[dict[str, Any]] | None, *, joiner: str) -> str:
    """Stored text in the active language: each part's template translated, then filled in, the
    parts joined by `joiner`; the stored text when there are no parts (or a translation does
    not fit)."""
    if not parts:
        return text
    try:
        return joiner.join(gettext(part["template"]).format(**part["params"]) for part in parts)
    except (KeyError, IndexError, ValueError, TypeError):
        return text


def message_translate(message: str, parts: list[dict[str, Any]] | None) -> str:
    """A stored message in the active language (its parts joined by "; ")."""
    return parts_translate(message, parts, joiner="; ")
