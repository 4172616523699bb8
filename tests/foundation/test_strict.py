"""CI cannot pass by skipping: under CLV_REQUIRE_SERVICES=1 a skipped test fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = """
import pytest

def test_passes():
    assert True

def test_skips():
    pytest.skip("a service is missing")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
"""


def _run(tmp_path: Path, strict: bool, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLV_REQUIRE_SERVICES": "1" if strict else "0"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", "-p", "tests.strict",
         "-q", "--rootdir", str(tmp_path), *extra, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_skip_fails_the_run_when_services_are_required(tmp_path: Path) -> None:
    result = _run(tmp_path, strict=True)
    assert result.returncode == 1, result.stdout
    assert "1 test(s) skipped, which fails the run" in result.stdout and "test_skips" in result.stdout


def test_a_skip_fails_a_parallel_run_too(tmp_path: Path) -> None:
    """bin/test runs the suite in parallel processes (pytest-xdist): the skip reported by a
    worker process still fails the whole run."""
    result = _run(tmp_path, True, "-n", "2", "--dist", "worksteal")
    assert result.returncode == 1, result.stdout
    assert "1 test(s) skipped, which fails the run" in result.stdout and "test_skips" in result.stdout


def test_a_skip_is_only_a_skip_otherwise(tmp_path: Path) -> None:
    result = _run(tmp_path, strict=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout and "fails the run" not in result.stdout
