"""Every page an admin can reach, the Django admin index and every admin changelist, rendered in
zh-hans, show no English word other than proper names, codes and units.

Data is written in English on purpose (an import uploaded by an English-speaking analyst, a
failed recompute run): the stored messages must still read in Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any, cast

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation
from django.utils.html import escape

from audit.models import AuditEvent
from clv_dashboard import roles
from customers.models import Customer, ImportJob
from customers.services.parsing import FIELDS
from metrics.models import DEFAULT_NOTE, ApiToken, AssumptionSet, CustomerPrediction, PredictiveFit, RecomputeRun
from metrics.predictive.services import clv_models_fit
from metrics.services import MSG_RUN_ABANDONED
from tests.metrics.board.builders import snapshots_create
from tests.metrics.predictive.db import business_simulate

pytestmark = pytest.mark.django_db

# Words that stay as they are in Chinese: codes, units, formula symbols, model and product names.
ALLOWED = {
    "CLV", "CAC", "CSV", "API", "ID", "IDs", "URL", "JSON", "XLSX", "PDF", "UTF", "BOM", "GBK", "GB", "SHA",
    "CNY", "USD", "EUR", "RMB", "BG", "NBD", "MBG", "Pareto", "MAE", "RMSE", "Gamma", "RFM", "P", "alive", "Excel", "Plotly", "Celery", "Redis",
    "PostgreSQL", "SQLite", "Django", "Chromium", "HTTP", "HTTPS", "IP", "MB", "KB", "KiB", "MiB", "CDNOW",
    "python", "manage", "py", "issue_api_token", "recompute_snapshots", "English", "pt", "k", "R", "E", "L",
    "H", "r", "a", "b", "p", "q", "alpha", "gamma", "Windows", "dmy", "mdy", "csv", "txt", "tsv", "xlsx",
    "json", "ISO", "T", "M", "Q", "x", "n", "m", "v", "d", "W", "Shapley", "Axes", "METRICS", "md",
    # Django's admin writes a boolean's icon with alt="True"/"False", untranslated.
    "True", "False",
    # The customer-based valuation's model and formula symbols, and the authors it cites.
    "sBG", "S", "N", "t", "exp", "Fader", "Hardie", "Gupta", "Lehmann", "Stuart",
    # Pareto/NBD's parameters, and the exponent of a number in scientific notation (8.76e+06).
    "s", "beta", "e",
}
# The CSV format's field names are codes (written as they are in the files).
ALLOWED |= {spec.name for specs in FIELDS.values() for spec in specs}
# Excel file types, and the alias page's example of one region spelled two ways (华东 = East).
ALLOWED |= {"xls", "xlsm", "ods", "East", "east", "NFKC"}
# django-axes writes its access log entries' names in English ("Access Log for <user> @ <time>",
# the path "<unknown>"): a third-party model's text, not translatable from here.
PAGE_ALLOWED = {"/admin/axes/accesslog/": {"Access", "Log", "for", "unknown"}}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
SKIP_TAGS = {"script", "style", "code", "pre", "kbd", "samp", "var"}
TEXT_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}

# URL patterns that are not pages: files, JSON, POST-only actions (each has its own tests).
NOT_PAGES = {
    "healthz", "favicon", "logout", "set_language", "imports:progress", "imports:report", "imports:undo",
    "imports:rerun", "board:whatif", "board:status", "board:export_csv", "board:export_xlsx",
    "predictive:export", "predictive:fit_status", "predictive:fit", "audit:export", "metrics:recompute_status",
    "metrics:month_close", "metrics:month_reopen", "metrics:api_snapshots", "metrics:api_snapshot_explain",
    "metrics:api_customers", "profitability:export", "valuation:market_value", "aliases:add", "aliases:retire",
}


class _Text(HTMLParser):
    """The text a reader sees: text nodes outside scripts and code, and the attributes read aloud."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self._skip += 1
        for name, value in attrs:
            if name in TEXT_ATTRIBUTES and value:
                self.parts.append(value)
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.parts.append(dict(attrs).get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return [p.strip() for p in parser.parts if p.strip()]


def data_words() -> set[str]:
    """Proper names from the data: customers, segments, users, files."""
    words: set[str] = set()
    values: list[Any] = []
    for field in ("external_id", "name", "region", "product_line", "business_unit", "acquisition_channel"):
        values += list(Customer.objects.values_list(field, flat=True).distinct())
    values += list(User.objects.values_list("username", flat=True))
    values += list(Group.objects.values_list("name", flat=True))  # the role names
    values += [t for t in RecomputeRun.objects.values_list("trigger", flat=True)
               if t not in RecomputeRun.Trigger.values]  # codes outside the choices, shown as they are
    values += list(ImportJob.objects.values_list("original_name", flat=True))
    values += list(ApiToken.objects.values_list("name", flat=True))
    values += list(ApiToken.objects.values_list("prefix", flat=True))
    values += list(AssumptionSet.objects.exclude(note=DEFAULT_NOTE).values_list("note", flat=True))  # typed by users
    for detected in ImportJob.objects.values_list("detected", flat=True):
        values += list((detected or {}).get("columns", {}).values())  # the file's own headers
    values += ["North", "South", "Search", "Referral", "Atlantis"]  # segments of the board's snapshots
    for value in values:
        words.update(WORD.findall(str(value)))
    return words


def english_words(html: str, allowed: set[str]) -> list[tuple[str, str]]:
    found = []
    for text in visible_text(html):
        for word in WORD.findall(text):
            # snake_case words and words with digits are identifiers (CSV columns, order ids): codes.
            if word not in allowed and "_" not in word and not any(ch.isdigit() for ch in word):
                found.append((word, text[:80]))
    return found


def _patterns(patterns: list[Any], namespace: str | None = None) -> Iterator[str]:
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue
            yield from _patterns(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}:{p.name}" if namespace else p.name


@pytest.fixture
def data(client_as: Callable[[str | None], Client], make_user: Callable[..., Any],
         django_capture_on_commit_callbacks: Any) -> dict[str, Any]:
    snapshots_create(months=14)
    customers = business_simulate(n=40)
    for i, c in enumerate(customers):
        c.region = ["North", "South", ""][i % 3]
        c.save(update_fields=["region"])
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    RecomputeRun.objects.create(trigger="import", status=RecomputeRun.Status.FAILED, message=str(MSG_RUN_ABANDONED),
                                message_parts=[{"template": "abandoned: its worker stopped", "params": {}}])
    RecomputeRun.objects.create(trigger="rerun:1", status=RecomputeRun.Status.SUCCEEDED)
    # Uploaded by an analyst reading English.
    analyst = client_as(roles.ANALYST)
    analyst.cookies["django_language"] = "en"
    jobs = {}
    for name, content in [
        ("refused.csv", b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,100\n,O2,2024-01-06,bad\n"),
        ("loaded.csv", b"customer_id,order_id,order_date,revenue\nC1,O9,2024-01-05,100\n"),
        ("empty.csv", b"customer_id,order_id,order_date,revenue\n"),
    ]:
        with django_capture_on_commit_callbacks(execute=True):
            response = analyst.post("/imports/", {"kind": "transactions",
                                                  "file": SimpleUploadedFile(name, content, content_type="text/csv")})
        assert response.status_code == 302, response.content[:500]
        jobs[name] = ImportJob.objects.get(original_name=name)
    assert jobs["refused.csv"].status == ImportJob.Status.REJECTED
    assert "row(s) are invalid" in jobs["refused.csv"].message  # stored in the uploader's English
    user = make_user(roles.ADMIN, "boss", is_superuser=True)
    ApiToken.objects.create(user=user, name="reporting", key_hash="0" * 64, prefix="abcd1234")
    AuditEvent.objects.create(action=AuditEvent.Action.LOGIN, username="boss")
    prediction = CustomerPrediction.objects.order_by("-predicted_clv").first()
    assert prediction is not None
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "zh-hans"
    return {"client": client, "jobs": jobs, "customer": prediction.customer_id}


def _pages(data: dict[str, Any]) -> dict[str, list[str]]:
    jobs = data["jobs"]
    return {
        "home": ["/"],
        "login": [],  # for a visitor: rendered by test_the_login_page_is_in_chinese
        "imports:list": ["/imports/"],
        "imports:detail": [f"/imports/{j.pk}/" for j in jobs.values()],
        "board:index": ["/board/", "/board/?scope=region:North", "/board/?scope=region:unassigned",
                        "/board/?scope=region:Atlantis", "/board/?month=2019-01"],
        "board:pack": ["/board/pack/"],
        "predictive:list": ["/customers/", "/customers/?segment=region%3Dunassigned"],
        "predictive:detail": [f"/customers/{data['customer']}/"],
        "predictive:model_check": ["/customers/model-check/", "/customers/model-check/?calibration_end=2000-01-01"],
        "audit:list": ["/audit/"],
        "aliases:list": ["/aliases/"],
        "metrics:assumptions": ["/assumptions/"],
        "profitability:index": ["/profitability/"],
        "valuation:index": ["/valuation/", "/valuation/?scope=region:North&model=logistic", "/board/pack/?investor=1"],
    }


def _admin_pages() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    return urls


def test_every_url_pattern_is_a_page_here_or_named_as_not_a_page(data: dict[str, Any]) -> None:
    names = set(_patterns(get_resolver().url_patterns))
    covered = set(_pages(data)) | NOT_PAGES
    assert names <= covered, f"URL patterns the zh-hans render test does not know: {sorted(names - covered)}"


def test_every_page_and_admin_changelist_reads_in_chinese(data: dict[str, Any]) -> None:
    client: Client = data["client"]
    allowed = ALLOWED | data_words()
    problems: dict[str, list[tuple[str, str]]] = {}
    urls = [u for group in _pages(data).values() for u in group] + _admin_pages()
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code in (200, 404), (url, response.status_code)
        assert response["Content-Type"].startswith("text/html"), url
        with translation.override("zh-hans"):
            words = english_words(response.content.decode(), allowed | PAGE_ALLOWED.get(url, set()))
        if words:
            problems[url] = words[:8]
    assert not problems, "English on zh-hans pages:\n" + "\n".join(f"{u}: {w}" for u, w in problems.items())


def test_stored_import_messages_read_in_the_readers_language(data: dict[str, Any]) -> None:
    job = data["jobs"]["refused.csv"]
    client: Client = data["client"]
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "row(s) are invalid" not in page
    with translation.override("zh-hans"):
        shown = cast(ImportJob, ImportJob.objects.get(pk=job.pk)).message_shown
    assert shown != job.message and escape(shown) in page
    assert "为空" in page  # the error report's reason too ("is empty; a value is required")
    client.cookies["django_language"] = "en"
    assert escape(job.message) in client.get(f"/imports/{job.pk}/").content.decode()


def test_the_login_page_is_in_chinese(db: None) -> None:
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/login/").content.decode()
    assert english_words(html, ALLOWED) == []
