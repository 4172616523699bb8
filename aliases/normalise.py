"""Pure: how two spellings of one segment value are recognised as the same. No ORM here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_SPACES = re.compile(r"\s+")


def alias_key(value: str) -> str:
    """Case- and width-insensitive: NFKC (full-width Ｅａｓｔ -> East), casefold, spaces collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()


def relabel_plan(*, values: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """For each value (as stored) whose key has an alias, the canonical value it becomes;
    values already canonical, blank or without an alias are left out. `aliases`: key -> canonical."""
    plan: dict[str, str] = {}
    for value in values:
        if not value:
            continue
        canonical = aliases.get(alias_key(value))
        if canonical is not None and canonical != value:
            plan[value] = canonical
    return plan
