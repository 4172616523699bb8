"""The zh-hans catalogue covers every translatable string and is compiled."""

from __future__ import annotations

import datetime as dt
import gettext
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from clv_dashboard.formatting import format_money, format_month, format_percent

REPO = Path(__file__).resolve().parents[2]
PO = REPO / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SOURCE_DIRS = ["clv_dashboard", "customers", "metrics", "aliases", "templates", "static"]


def _parse_po(path: Path) -> list[dict[str, Any]]:
    """Entries of a PO file: msgid, msgstr (joined plural forms), flags."""
    entries: list[dict[str, Any]] = []
    current: dict[str, Any] = {"flags": "", "msgid": None, "msgstr": []}
    key = None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if current["msgid"] is not None:
                entries.append(current)
            current, key = {"flags": "", "msgid": None, "msgstr": []}, None
        elif line.startswith("#,"):
            current["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid_plural"):
            key = "plural"
        elif line.startswith("msgid "):
            current["msgid"], key = _unquote(line[6:]), "msgid"
        elif line.startswith("msgstr"):
            current["msgstr"].append(_unquote(line.split(" ", 1)[1]))
            key = "msgstr"
        elif line.startswith('"') and key == "msgid":
            current["msgid"] += _unquote(line)
        elif line.startswith('"') and key == "msgstr":
            current["msgstr"][-1] += _unquote(line)
    return [e for e in entries if e["msgid"]]


def _unquote(text: str) -> str:
    return text.strip()[1:-1].encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")


@pytest.mark.skipif(not shutil.which("xgettext") and os.environ.get("CLV_REQUIRE_SERVICES") != "1", reason="needs gettext")
def test_every_translatable_string_has_a_chinese_translation(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    copy.mkdir()
    for name in [*SOURCE_DIRS, "locale", "manage.py"]:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, copy / name)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "clv_dashboard.settings.test", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", "--no-location"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    entries = _parse_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 50
    missing = [e["msgid"] for e in entries if not all(e["msgstr"]) or "fuzzy" in e["flags"]]
    assert not missing, f"{len(missing)} strings lack a zh-hans translation, e.g. {missing[:15]}"


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in _parse_po(PO):
        if "fuzzy" in entry["flags"] or not entry["msgstr"][0]:
            continue
        assert compiled.gettext(entry["msgid"]) == entry["msgstr"][0] or len(entry["msgstr"]) > 1, entry["msgid"]


def test_pages_are_served_in_chinese_when_chosen(db: None) -> None:
    client = Client()
    response = client.post("/i18n/setlang/", "language=zh-hans&next=/login/",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    page = client.get("/login/").content.decode()
    assert "登录" in page
    assert 'lang="zh-hans"' in page


def test_money_percent_and_months_follow_the_language(settings: Any) -> None:
    settings.CLV_CURRENCY = "CNY"
    with translation.override("en"):
        assert format_money(Decimal("1234567.5")) == "¥1,234,567.50"
        assert format_money(Decimal("-12.5")) == "\u2212¥12.50"
        assert format_percent(0.8765) == "87.7%"
        assert format_month(dt.date(2026, 3, 1)) == "March 2026"
    with translation.override("zh-hans"):
        assert format_month(dt.date(2026, 3, 1)) == "2026年3月"
        assert format_money(Decimal("1234567.5")) == "¥1,234,567.50"
    assert format_money(None) == "–"
