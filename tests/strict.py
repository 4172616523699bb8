"""Under CLV_REQUIRE_SERVICES=1 (as .ci/run sets) a run with any skipped test fails.

The markers' own check (conftest.pytest_runtest_setup) already turns a missing service into a
failure; this catches every other way a test can skip (pytest.skip in a fixture or a test,
skipif, importorskip), so CI cannot pass by skipping. Expected failures (xfail) are not skips.
No Django here: the plugin is tested on its own in a separate pytest run.
"""

from __future__ import annotations

import os

import pytest

_skipped: list[str] = []


def _strict() -> bool:
    return os.environ.get("CLV_REQUIRE_SERVICES") == "1"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _strict() and report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not (_strict() and _skipped):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"CLV_REQUIRE_SERVICES=1: {len(_skipped)} test(s) skipped, which fails the run: "
            + ", ".join(_skipped[:10]), red=True,
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
