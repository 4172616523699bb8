"""Pages cached by one release are not served by the next: the cache keys' default salt is a
digest of the code, templates and compiled translations, which any change to them changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clv_dashboard.settings.base import BASE_DIR, code_digest


def test_a_change_to_a_template_or_the_code_changes_the_digest(tmp_path: Path) -> None:
    (tmp_path / "templates" / "board").mkdir(parents=True)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "apps.py").write_text("", encoding="utf-8")  # an app of the project
    template, code = tmp_path / "templates" / "board" / "index.html", tmp_path / "metrics" / "views.py"
    template.write_text("<p>Unprofitable</p>", encoding="utf-8")
    code.write_text("LABEL = 1\n", encoding="utf-8")
    first = code_digest(tmp_path)
    assert code_digest(tmp_path) == first  # the same files, the same digest
    template.write_text("<p>Unprofitable to date</p>", encoding="utf-8")
    second = code_digest(tmp_path)
    code.write_text("LABEL = 2\n", encoding="utf-8")
    assert len({first, second, code_digest(tmp_path)}) == 3


def test_without_a_salt_set_the_settings_take_the_digest_and_a_set_salt_wins() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLV_DATA_CACHE_SALT"}
    command = [sys.executable, "-c", "from clv_dashboard.settings import base; print(base.CLV_DATA_CACHE_SALT)"]
    default = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert default == code_digest() and len(default) == 12
    chosen = subprocess.run(command, cwd=BASE_DIR, env={**env, "CLV_DATA_CACHE_SALT": "release-42"},
                            capture_output=True, text=True, check=True).stdout.strip()
    assert chosen == "release-42"
