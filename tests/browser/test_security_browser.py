"""In a real Chromium, every page works under the Content-Security-Policy (no violation, no
console error) and the charts' toolbar offers nothing that sends data to Plotly's cloud."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from clv_dashboard import roles
from customers.models import ImportJob
from metrics.models import MonthlySnapshot
from tests.browser.test_board import wait_for_charts
from tests.metrics.board.builders import default_assumptions
from tests.metrics.board.conftest import private_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded before any page script runs, so that a violation during loading is caught too.
VIOLATIONS_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber);
});
"""


def _visit(page: Any, path: str) -> list[str]:
    response = page.goto(f"{page.base_url}{path}")
    assert response is not None and response.status < 400, path
    assert "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()} or \
        "content-security-policy" in response.headers, path
    page.wait_for_load_state("networkidle")
    return list(page.evaluate("window.__cspViolations"))


def test_every_page_works_under_the_policy_and_the_charts_offer_no_cloud_buttons(
    page_for: Callable[..., Any], transactional_db: None, settings: Any
) -> None:
    settings.CACHES = private_cache()
    default_assumptions()
    call_command("seed_demo", customers=200, months=18, stdout=io.StringIO())
    assert MonthlySnapshot.objects.exists()
    page = page_for(roles.ADMIN)
    page.add_init_script(VIOLATIONS_SCRIPT)
    violations: dict[str, list[str]] = {}

    violations["/board/"] = _visit(page, "/board/")
    assert wait_for_charts(page) > 0
    # The toolbar: no Plotly logo link, no "send data to cloud" or "edit in Chart Studio".
    page.locator(".js-plotly-plot").first.hover()
    buttons = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title') || '')")
    assert buttons, "the chart has no toolbar"
    assert not [b for b in buttons if "cloud" in b.lower() or "chart studio" in b.lower() or "edit" in b.lower()]
    assert page.locator(".modebar a[href*='plotly'], a.modebar-btn[href]").count() == 0
    assert page.locator("[data-title*='Plotly']").count() == 0
    # The what-if and the explanation still work (scripts from files only).
    explain = page.locator("[data-explain], .js-explain, button:has-text('How was this computed')").first
    if explain.count():
        explain.click()
        page.wait_for_timeout(500)
    violations["/board/ (after interaction)"] = list(page.evaluate("window.__cspViolations"))

    violations["/board/pack/"] = _visit(page, "/board/pack/")
    wait_for_charts(page)
    violations["/customers/"] = _visit(page, "/customers/")
    from metrics.models import CustomerPrediction

    prediction = CustomerPrediction.objects.first()
    if prediction is not None:
        violations["customer detail"] = _visit(page, f"/customers/{prediction.customer_id}/")
        page.wait_for_selector("#history-chart[data-rendered='true']", timeout=20_000)
    violations["/imports/"] = _visit(page, "/imports/")
    job = ImportJob.objects.first()
    if job is not None:
        violations["import detail"] = _visit(page, f"/imports/{job.pk}/")
    violations["/assumptions/"] = _visit(page, "/assumptions/")
    for path in ["/admin/", "/admin/auth/user/", "/admin/customers/importjob/", "/admin/metrics/monthlysnapshot/"]:
        violations[path] = _visit(page, path)
    # The language switch is a script from a file now, not an inline handler.
    violations["/imports/ again"] = _visit(page, "/imports/")
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    page.wait_for_load_state("networkidle")
    assert page.locator("html[lang='zh-hans']").count() == 1
    violations["language switch"] = list(page.evaluate("window.__cspViolations"))

    assert not {k: v for k, v in violations.items() if v}, violations
    assert not [e for e in page.console_errors if "Content Security Policy" in e or "Refused" in e], page.console_errors
    # The admin's pages have no icon link, so Chromium asks for /favicon.ico (404) itself; that
    # request is not the page's, and Playwright reports only its console line.
    assert not [e for e in page.console_errors if "favicon" not in e and "Failed to load resource" not in e], \
        page.console_errors


def test_the_login_page_works_under_the_policy(page_for: Callable[..., Any], transactional_db: None) -> None:
    page = page_for(None)
    page.add_init_script(VIOLATIONS_SCRIPT)
    assert _visit(page, "/login/") == []
    assert _visit(page, "/admin/login/") == []
    assert not page.console_errors, page.console_errors
