from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from clv_dashboard import roles
from clv_dashboard.formatting import format_money, format_percent
from metrics.board.assemble import TILE_KINDS, format_value
from metrics.models import MonthlySnapshot, RecomputeRun
from tests.metrics.board.conftest import LAST_MONTH
from tests.metrics.test_worked_example import worked_example  # noqa: F401 - the fixture

ROLES = [roles.EXECUTIVE, roles.ANALYST, roles.ADMIN]
TILE_RE = re.compile(r'<article class="tile" data-metric="(?P<metric>\w+)" data-value="(?P<raw>[^"]*)" '
                     r'data-display="(?P<display>[^"]*)">.*?<p class="tile-value" data-role="value">(?P<shown>[^<]*)</p>',
                     re.S)


def tiles_of(html: str) -> dict[str, dict[str, str]]:
    return {m["metric"]: m.groupdict() for m in TILE_RE.finditer(html)}


def figures_of(html: str) -> dict[str, dict]:
    raw = re.search(r'<script type="application/json" id="board-figures">(.*?)</script>', html, re.S)
    assert raw is not None
    return json.loads(raw.group(1))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_board(role: str, client_as: Callable[[str | None], Client], board_snapshots: dict) -> None:
    response = client_as(role).get("/board/")
    assert response.status_code == 200
    assert b'id="board-figures"' in response.content


BOARD_URLS = [
    "/board/?month=2025-06",
    "/board/pack/?month=2025-06",
    "/board/whatif/?month=2025-06&retention_pct=90&margin=40&discount_pct=10",
    "/board/status/",
    "/board/export.csv?month=2025-06",
    "/board/export.xlsx?month=2025-06",
]


@pytest.mark.parametrize("role", ROLES)
def test_every_board_url_serves_every_role(role: str, client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(role)
    for url in BOARD_URLS:
        assert client.get(url).status_code == 200, url


def test_logged_out_visitor_is_sent_to_login(db: None) -> None:
    for url in ["/board/", "/board/pack/", "/board/whatif/", "/board/export.csv?month=2025-12", "/board/status/"]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_a_user_without_the_board_permission_is_refused(make_user: Callable, board_snapshots: dict) -> None:
    client = Client()
    client.force_login(make_user(None))
    for url in BOARD_URLS:
        assert client.get(url).status_code == 403, url


def test_tiles_equal_the_stored_snapshot_values(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06&scope=region:North").content.decode()
    snapshot = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="region", scope_value="North")
    tiles = tiles_of(html)
    assert set(tiles) == {"customer_equity", "clv", "customers_end", "retention_rate", "acquisition_equity",
                          "retention_equity", "cac", "clv_to_cac", "referral_rate"}
    for metric, tile in tiles.items():
        stored = getattr(snapshot, metric)
        assert tile["raw"] == ("" if stored is None else str(stored)), metric
        if stored is None:
            continue
        if isinstance(stored, Decimal):
            assert Decimal(tile["raw"]) == stored
        else:
            assert float(tile["raw"]) == pytest.approx(float(stored), rel=0, abs=0)
    # What is shown is the stored value formatted, not something recomputed.
    assert tiles["customer_equity"]["shown"] == format_money(snapshot.customer_equity, decimals=0)
    assert tiles["clv"]["shown"] == format_money(snapshot.clv, decimals=2)
    assert tiles["retention_rate"]["shown"] == format_percent(snapshot.retention_rate)
    assert tiles["customers_end"]["shown"] == f"{snapshot.customers_end:,}"
    assert tiles["clv_to_cac"]["shown"] == format_value(snapshot.clv_to_cac, "ratio")


def test_the_board_defaults_to_the_latest_closed_month_of_the_company(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/")
    assert response.context["data"].month == LAST_MONTH
    assert response.context["data"].scope.is_company
    html = response.content.decode()
    company = MonthlySnapshot.objects.get(month=LAST_MONTH, scope_dimension="company")
    assert tiles_of(html)["customer_equity"]["raw"] == str(company.customer_equity)


def test_every_chart_is_built_and_states_month_scope_currency_and_version(
    client_as: Callable, board_snapshots: dict
) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06&scope=company&dimension=region").content.decode()
    figures = figures_of(html)
    assert set(figures) == {"equity_clv", "acquisition_retention", "customer_bridge", "equity_bridge", "segments",
                            "cohorts", "tornado"}
    for name, figure in figures.items():
        subtitle = figure["layout"]["title"]["subtitle"]["text"]
        assert "CNY" in subtitle and "v1" in subtitle and "Company" in subtitle, name
        assert figure["layout"]["title"]["text"], name
        assert figure["data"], name
    assert "June 2025" in figures["customer_bridge"]["layout"]["title"]["subtitle"]["text"]
    assert 'href="/assumptions/#v1"' in html


def test_the_customer_bridge_matches_the_snapshot(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06").content.decode()
    snapshot = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    trace = figures_of(html)["customer_bridge"]["data"][0]
    assert trace["measure"] == ["absolute", "relative", "relative", "relative", "total"]
    assert trace["y"][:4] == [snapshot.customers_start, snapshot.new_customers, snapshot.reactivated_customers,
                              -snapshot.churned_customers]
    assert sum(trace["y"][:4]) == snapshot.customers_end


def test_the_equity_bridge_sums_to_the_stored_change(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06").content.decode()
    now = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    before = MonthlySnapshot.objects.get(month="2025-05-01", scope_dimension="company")
    trace = figures_of(html)["equity_bridge"]["data"][0]
    assert trace["y"][0] == pytest.approx(float(before.customer_equity))
    steps = [Decimal(str(v)) for v in trace["y"][1:-1]]
    assert sum(steps) + before.customer_equity == now.customer_equity


def test_changing_month_and_scope_changes_the_figures(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    a = figures_of(client.get("/board/?month=2025-06").content.decode())
    b = figures_of(client.get("/board/?month=2025-03").content.decode())
    c = figures_of(client.get("/board/?month=2025-06&scope=region:South").content.decode())
    assert a["customer_bridge"]["data"][0]["y"] != b["customer_bridge"]["data"][0]["y"]
    assert a["customer_bridge"]["data"][0]["y"] != c["customer_bridge"]["data"][0]["y"]
    assert "South" in c["tornado"]["layout"]["title"]["subtitle"]["text"]


def test_the_segments_chart_shows_every_segment_of_the_dimension(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06&dimension=acquisition_channel").content.decode()
    segments = figures_of(html)["segments"]
    assert segments["data"][0]["y"] == ["Referral", "Search"]
    stored = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="acquisition_channel", scope_value="Search")
    assert segments["data"][0]["x"][1] == pytest.approx(float(stored.customer_equity))


def test_the_cohort_heatmap_stops_at_the_chosen_month(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2024-06").content.decode()
    heatmap = figures_of(html)["cohorts"]["data"][0]
    assert heatmap["y"][0] == "2023-01" and heatmap["y"][-1] == "2024-06"
    # The 2024-06 cohort has only its first month; the 2023-01 one 18 months.
    assert len(heatmap["x"]) == 18
    assert heatmap["z"][-1][1] is None and heatmap["z"][0][17] is not None


def test_retention_assumed_for_lack_of_history_is_said_on_the_tile(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2023-05").content.decode()
    # The data start in 2023-01 and W = 12: 2023-05 is a warm-up month, retention measured from 2024-01.
    assert "Warm-up month: nobody can have lapsed yet" in html
    assert "until January 2024" in html
    assert 'id="warm-up-notice"' in html


def test_bad_parameters_get_a_clear_400(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    response = client.get("/board/?scope=colour:red")
    assert response.status_code == 400
    assert b"Unknown scope" in response.content
    assert client.get("/board/?month=June").status_code == 400


def test_the_400_messages_speak_the_users_language(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    client.cookies["django_language"] = "zh-hans"
    scope = client.get("/board/?scope=colour:red")
    assert scope.status_code == 400 and "未知的范围" in scope.content.decode()
    month = client.get("/board/whatif/?month=June&retention_pct=50&margin=10&discount_pct=10")
    assert month.status_code == 400 and "未知的月份" in month.json()["error"]
    missing = client.get("/board/whatif/?month=2019-01&retention_pct=50&margin=10&discount_pct=10")
    assert missing.status_code == 404 and missing.json()["error"] == "该月份和范围暂无数据。"


def test_a_month_without_a_snapshot_for_the_scope_says_so(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/?month=2019-01")
    assert response.status_code == 200
    assert b'id="board-no-row"' in response.content


@pytest.mark.parametrize(("role", "upload_link"), [(roles.EXECUTIVE, False), (roles.ANALYST, True)])
def test_empty_board_says_there_is_no_data_and_analysts_get_the_upload_link(
    role: str, upload_link: bool, client_as: Callable
) -> None:
    html = client_as(role).get("/board/").content.decode()
    assert 'id="board-empty"' in html
    assert ('href="/imports/"' in html and "Upload transactions" in html) is upload_link
    assert "plotly.min.js" not in html


def test_a_recompute_in_progress_shows_its_progress(client_as: Callable, board_snapshots: dict) -> None:
    RecomputeRun.objects.create(trigger="import", status=RecomputeRun.Status.RUNNING, scopes_total=8, scopes_done=2)
    client = client_as(roles.EXECUTIVE)
    html = client.get("/board/").content.decode()
    assert 'id="recompute-banner"' in html
    assert "2 of 8 scopes done" in html
    status = client.get("/board/status/").json()
    assert status == {"status": "running", "percent": 25, "done": False, "scopes_done": 2, "scopes_total": 8,
                      "message": ""}


def test_the_cache_never_serves_figures_of_older_data(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    first = tiles_of(client.get("/board/?month=2025-06").content.decode())["customers_end"]["raw"]
    MonthlySnapshot.objects.filter(month="2025-06-01", scope_dimension="company").update(customers_end=12345)
    RecomputeRun.objects.create(trigger="test", status=RecomputeRun.Status.SUCCEEDED)
    second = tiles_of(client.get("/board/?month=2025-06").content.decode())["customers_end"]["raw"]
    assert first != "12345" and second == "12345"


def test_the_whatif_recomputes_clv_and_equity_without_storing(client_as: Callable, board_snapshots: dict) -> None:
    snapshot = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    client = client_as(roles.EXECUTIVE)
    url = "/board/whatif/?month=2025-06&scope=company"
    stored_r = snapshot.retention_rate * 100
    same = client.get(f"{url}&retention_pct={stored_r}&margin={snapshot.margin_per_customer}&discount_pct=10")
    assert same.status_code == 200
    tiles = same.json()["tiles"]
    assert tiles["clv"]["value"] == pytest.approx(float(snapshot.clv), abs=0.006)
    assert "retention_rate" not in tiles  # retention not moved
    higher = client.get(f"{url}&retention_pct=95&margin={snapshot.margin_per_customer}&discount_pct=10").json()
    clv = higher["tiles"]["clv"]["value"]
    assert clv > float(snapshot.clv)
    assert higher["tiles"]["customer_equity"]["value"] == pytest.approx(clv * snapshot.customers_end)
    assert json.loads(higher["tornado"])["data"]
    snapshot.refresh_from_db()
    assert MonthlySnapshot.objects.get(pk=snapshot.pk).clv == snapshot.clv


def test_the_whatif_at_the_stored_inputs_moves_no_tile(client_as: Callable, worked_example: None) -> None:  # noqa: F811
    """On recomputed figures (the worked example, April: m = 13/6 unrounded, r = 2/3) the
    what-if at the stored inputs, as the page sends them, differs from no stored figure."""
    from metrics.board.assemble import whatif_defaults
    from metrics.board.selectors import COMPANY_SCOPE, snapshot_row
    from metrics.explain import snapshot_explain

    snapshot = MonthlySnapshot.objects.get(month="2024-04-01", scope_dimension="company")
    row = snapshot_row(scope=COMPANY_SCOPE, month=snapshot.month)
    assert row is not None
    defaults = whatif_defaults(row, snapshot_explain(snapshot=snapshot))
    assert defaults["margin"] == 13 / 6 and defaults["retention"] == 2 / 3
    query = (f"retention_pct={defaults['retention'] * 100!r}&margin={defaults['margin']!r}"
             f"&discount_pct={defaults['discount'] * 100!r}")
    tiles = client_as(roles.EXECUTIVE).get(f"/board/whatif/?month=2024-04&scope=company&{query}").json()["tiles"]
    assert "retention_rate" not in tiles
    for metric in ("customer_equity", "clv", "acquisition_equity", "retention_equity"):
        assert tiles[metric]["display"] == format_value(getattr(snapshot, metric), TILE_KINDS[metric][0]), metric
        assert tiles[metric]["change"]["direction"] == "flat", metric
        assert tiles[metric]["change"]["absolute"].startswith("±"), metric
    assert tiles["clv_to_cac"]["change"]["direction"] == "none"  # no CAC in April


def test_whatif_tiles_show_the_difference_against_the_stored_figure(client_as: Callable, board_snapshots: dict) -> None:
    snapshot = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    url = f"/board/whatif/?month=2025-06&scope=company&retention_pct=99&margin={snapshot.margin_per_customer}"
    tiles = client_as(roles.EXECUTIVE).get(f"{url}&discount_pct=10").json()["tiles"]
    assert set(tiles) == {"customer_equity", "clv", "retention_rate", "acquisition_equity", "retention_equity",
                          "clv_to_cac"}
    retention = tiles["retention_rate"]
    assert retention["display"] == "99.0%"
    points = (0.99 - snapshot.retention_rate) * 100
    assert retention["change"]["absolute"] == f"+{points:.1f} pt" and retention["change"]["tone"] == "good"
    assert retention["change"]["label"] == f"vs the stored figure ({snapshot.retention_rate * 100:.1f}%)"
    equity = tiles["customer_equity"]
    difference = equity["value"] - float(snapshot.customer_equity)
    assert equity["change"]["absolute"] == f"+¥{difference:,.0f}"
    assert equity["change"]["percent"] == f"+{difference / float(snapshot.customer_equity) * 100:,.1f}%"
    assert equity["change"]["direction"] == "up" and equity["change"]["against"] == "stored"
    assert equity["change"]["label"] == f"vs the stored figure (¥{snapshot.customer_equity:,.0f})"


@pytest.mark.parametrize(
    ("query", "english", "chinese"),
    [
        ("retention_pct=100&margin=10&discount_pct=10", "percentage from 0 to 99.9", "0 至 99.9"),
        ("retention_pct=0.9&margin=10&discount_pct=150", "percentage from 0 to 100", "0 至 100"),
        ("retention_pct=&margin=10&discount_pct=10", "in percent", "百分数"),
    ],
)
def test_the_whatif_refuses_bad_input_in_percent_terms_in_both_languages(
    client_as: Callable, board_snapshots: dict, query: str, english: str, chinese: str
) -> None:
    from metrics.board.whatif import ERROR_DISCOUNT, ERROR_NOT_A_NUMBER, ERROR_RETENTION

    client = client_as(roles.EXECUTIVE)
    response = client.get(f"/board/whatif/?month=2025-06&{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error in {str(ERROR_RETENTION), str(ERROR_DISCOUNT), str(ERROR_NOT_A_NUMBER)}
    assert english in error and "share" not in error and "0.999" not in error
    client.cookies["django_language"] = "zh-hans"
    with translation.override("en"):  # the request switches this thread's language; put it back after
        chinese_error = client.get(f"/board/whatif/?month=2025-06&{query}").json()["error"]
    assert chinese in chinese_error and "0.85" not in chinese_error


def test_the_pack_is_one_month_and_one_scope_ready_to_print(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/pack/?month=2025-06&scope=region:North").content.decode()
    assert "June 2025" in html and "Region: North" in html
    assert html.count('class="pack-page') == 3
    assert len(tiles_of(html)) == 9


def test_csv_export_has_every_scope_of_the_month(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/export.csv?month=2025-06")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="customer-equity-2025-06.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == MonthlySnapshot.objects.filter(month="2025-06-01").count()
    assert rows[0]["scope_dimension"] == "company"
    company = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    assert Decimal(rows[0]["customer_equity"]) == company.customer_equity


def test_xlsx_export_has_the_figures_and_what_they_are(client_as: Callable, board_snapshots: dict) -> None:
    response = client_as(roles.EXECUTIVE).get("/board/export.xlsx?month=2025-06")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["figures"]
    header = [c.value for c in sheet[1]]
    company = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="company")
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert row["scope_dimension"] == "company"
    assert Decimal(str(row["customer_equity"])) == company.customer_equity
    about = {r[0].value: r[1].value for r in book["about"].iter_rows()}
    # The month in the reader's language, with its ISO form; how amounts are written.
    assert about["Currency"] == "CNY" and about["Month"] == "June 2025 (2025-06)"
    assert "¥" in about["Amounts"] and "ASCII" in about["Amounts"]
    assert sheet.cell(row=2, column=header.index("customer_equity") + 1).data_type == "n"


def test_the_xlsx_about_sheet_speaks_the_readers_language(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    client.cookies["django_language"] = "zh-hans"
    with translation.override("en"):  # the request switches this thread's language; put it back after
        response = client.get("/board/export.xlsx?month=2025-06")
    about = {r[0].value: r[1].value for r in load_workbook(io.BytesIO(response.content))["about"].iter_rows()}
    assert about["月份"] == "2025年6月 (2025-06)"
    assert "¥" in about["金额"]


def test_exports_of_a_month_without_figures_are_404(client_as: Callable, board_snapshots: dict) -> None:
    assert client_as(roles.EXECUTIVE).get("/board/export.csv?month=2010-01").status_code == 404


def test_the_prediction_panel_shows_predicted_clv_by_tier_and_the_at_risk_count(
    client_as: Callable, board_snapshots: dict
) -> None:
    from metrics.models import CustomerPrediction, PredictiveFit
    from tests.factories import CustomerFactory

    fit = PredictiveFit.objects.create(status=PredictiveFit.Status.SUCCEEDED, data_date="2025-12-31")
    tiers = ["gold", "gold", "silver", "at_risk", "at_risk", "at_risk"]
    for i, tier in enumerate(tiers):
        CustomerPrediction.objects.create(
            customer=CustomerFactory.create(), fit=fit, p_alive=0.5, expected_purchases_12m=1.0,
            expected_spend=Decimal("10"), predicted_clv=Decimal(100 * (i + 1)), historic_margin=Decimal("5"),
            tier=tier,
        )
    response = client_as(roles.EXECUTIVE).get("/board/")
    html = response.content.decode()
    assert '<span class="at-risk-count" id="at-risk-count">3</span>' in html
    summary = {t.tier: t for t in response.context["data"].predictions.tiers}
    assert summary["gold"].customers == 2 and summary["gold"].total_clv == Decimal("300.00")
    assert summary["at_risk"].total_clv == Decimal(400 + 500 + 600)
    assert [t.tier for t in response.context["data"].predictions.tiers] == ["gold", "silver", "at_risk"]
    # The table's amounts through the formatting module: grouped, cents on the average.
    assert '<tr data-tier="at_risk"><td>' in html
    row = html.split('<tr data-tier="at_risk">')[1].split("</tr>")[0]
    assert '<td class="num">1,500</td><td class="num">500.00</td>' in row


def test_the_prediction_panel_says_when_no_fit_has_succeeded(client_as: Callable, board_snapshots: dict) -> None:
    from metrics.models import PredictiveFit

    client = client_as(roles.EXECUTIVE)
    assert "No customer predictions yet" in client.get("/board/").content.decode()
    PredictiveFit.objects.create(status=PredictiveFit.Status.FAILED, message="Too few repeat purchases.")
    html = client.get("/board/").content.decode()
    assert "did not succeed" in html and "Too few repeat purchases." in html


def test_the_board_carries_the_explanation_of_its_snapshot(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2025-06&scope=region:South").content.decode()
    raw = re.search(r'<script id="board-explain" type="application/json">(.*?)</script>', html, re.S)
    assert raw is not None
    explain = json.loads(raw.group(1))
    assert explain["month"] == "2025-06"
    assert explain["scope"] == {"dimension": "region", "value": "South"}
    stored = MonthlySnapshot.objects.get(month="2025-06-01", scope_dimension="region", scope_value="South")
    steps = {s["metric"]: s for s in explain["steps"]}
    # Every tile but active customers (an input) has its step.
    assert {"customer_equity", "clv", "retention_rate", "acquisition_equity", "retention_equity", "cac",
            "clv_to_cac"} <= set(steps)
    assert steps["customer_equity"]["value"] == pytest.approx(float(stored.customer_equity))
    assert any(i["name"] == "customers_end" for i in explain["inputs"])


def test_segment_values_from_uploads_cannot_inject_markup(client_as: Callable, db: None) -> None:
    from tests.metrics.board.builders import SegmentPlan, snapshots_create

    hostile = '<a href="javascript:alert(1)">x</a> & =1+1'
    snapshots_create(months=14, segments={"region": {hostile: SegmentPlan(new_base=10, survival=0.9, margin=30.0,
                                                                          cac=100.0)}}, cohorts=False)
    client = client_as(roles.EXECUTIVE)
    html = client.get("/board/?month=2024-02&scope=region:" + hostile.replace("&", "%26").replace("+", "%2B")
                      .replace("#", "%23")).content.decode()
    assert '<a href="javascript' not in html
    figures = figures_of(html)
    # (The segment is small, so its label also carries the "leans on the company's rate" mark.)
    assert figures["segments"]["data"][0]["y"] == ["&lt;a href=\"javascript:alert(1)\"&gt;x&lt;/a&gt; &amp; =1+1 *"]
    assert "&lt;a href" in figures["tornado"]["layout"]["title"]["subtitle"]["text"]
    rows = list(csv.DictReader(io.StringIO(client.get("/board/export.csv?month=2024-02").content.decode("utf-8-sig"))))
    assert rows[1]["scope_value"] == hostile  # starts with "<": not a formula, left as it is


@pytest.mark.parametrize(("role", "message_shown"), [(roles.EXECUTIVE, False), (roles.ANALYST, True)])
def test_a_failed_recompute_is_said_and_the_last_good_figures_stay(
    role: str, message_shown: bool, client_as: Callable, board_snapshots: dict
) -> None:
    RecomputeRun.objects.create(trigger="import", status=RecomputeRun.Status.FAILED, message="disk full")
    html = client_as(role).get("/board/").content.decode()
    assert 'id="recompute-failed"' in html
    assert "last recompute that succeeded" in html
    assert ("disk full" in html) is message_shown
    assert len(tiles_of(html)) == 9


def test_series_charts_name_every_assumption_version_they_span(client_as: Callable, board_snapshots: dict) -> None:
    from metrics.models import AssumptionSet

    v2 = AssumptionSet.objects.create(version=2, annual_discount_rate=Decimal("0.12"), note="higher rate")
    MonthlySnapshot.objects.filter(month__gte="2025-01-01").update(assumption_set=v2)
    RecomputeRun.objects.create(trigger="test", status=RecomputeRun.Status.SUCCEEDED)
    figures = figures_of(client_as(roles.EXECUTIVE).get("/board/?month=2025-06").content.decode())
    assert "assumptions v1 to v2" in figures["equity_clv"]["layout"]["title"]["subtitle"]["text"]
    assert "assumptions v2" in figures["customer_bridge"]["layout"]["title"]["subtitle"]["text"]
    # The discount rate rose in 2025-01: the bridge of that month has a negative discount-rate effect.
    bridge = figures_of(client_as(roles.EXECUTIVE).get("/board/?month=2025-01").content.decode())["equity_bridge"]
    steps = dict(zip(bridge["data"][0]["x"], bridge["data"][0]["y"], strict=True))
    assert steps["Discount<br>rate"] < 0


@pytest.mark.redis
def test_the_board_is_cached_in_redis_under_the_data_version(client_as: Callable, board_snapshots: dict) -> None:
    from django.core.cache import cache

    from metrics.board.assemble import board_get
    from metrics.board.selectors import COMPANY_SCOPE

    client = client_as(roles.EXECUTIVE)
    first = client.get("/board/?month=2025-06").content.decode()
    data = board_get(scope=COMPANY_SCOPE, month=LAST_MONTH.replace(month=6), dimension=None)
    assert cache.get(data.cache_key) is not None
    again = client.get("/board/?month=2025-06").content.decode()
    assert figures_of(again) == figures_of(first) and tiles_of(again) == tiles_of(first)


def test_the_first_month_shows_no_dash_noise_in_its_tiles(client_as: Callable, board_snapshots: dict) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2023-01").content.decode()
    tiles = html.split('class="tiles"')[1].split("</section>")[0]
    assert "no previous month to compare with" in tiles and "no figure a year earlier" in tiles
    assert "(–)" not in tiles and "·</span>" not in tiles and ">–<" not in tiles
    assert 'class="change-abs"' not in tiles


def _profitability(months: list[str]) -> None:
    """Stored monthly profitability of the company and of North (what the recompute writes)."""
    import datetime as dt

    from django.utils import timezone

    from metrics.models import AssumptionSet, ProfitabilityMonth, ProfitabilityTotals

    version = AssumptionSet.objects.order_by("-version").first()
    assert version is not None
    now = timezone.now()
    money = {"margin_to_date": Decimal("100.00"), "acquisition_cost_allocated": Decimal("30.00"),
             "retention_cost_allocated": Decimal("20.00"), "net_profit_to_date": Decimal("50.00"),
             "acquisition_cost_unallocated": Decimal("0.00"), "retention_cost_unallocated": Decimal("0.00")}
    for month in months:
        first = dt.date.fromisoformat(f"{month}-01")
        for dimension, value in (("company", ""), ("region", "North")):
            ProfitabilityMonth.objects.create(month=first, scope_dimension=dimension, scope_value=value,
                                              assumption_set=version, computed_at=now, **money)
    ProfitabilityTotals.objects.create(
        month=dt.date.fromisoformat(f"{months[-1]}-01"), cost_to_serve_driver="equal", customers=10,
        acquisition_cost=Decimal("30.00"), retention_cost=Decimal("20.00"), loss_making_customers=2,
        loss=Decimal("5.00"), assumption_set=version, computed_at=now, **money)


def test_the_pack_ends_with_the_scope_s_profitability_and_says_it_is_not_published(
        client_as: Callable, board_snapshots: dict) -> None:
    import datetime as dt

    from metrics.closing.services import month_close

    _profitability(["2025-05", "2025-06"])
    client = client_as(roles.EXECUTIVE)
    company = client.get("/board/pack/?month=2025-06").content.decode()
    assert company.count('class="pack-page') == 4 and 'id="pack-profitability-page"' in company
    assert 'data-figure="profitability"' in company and 'id="profitability-panel"' in company
    # A segment's pack: its own chart, without the company's totals beside it.
    north = client.get("/board/pack/?month=2025-06&scope=region:North").content.decode()
    assert 'id="pack-profitability-page"' in north and 'id="profitability-panel"' not in north
    assert 'id="pack-profitability-current"' not in company
    month_close(month=dt.date(2025, 6, 1), today=dt.date(2026, 1, 15))
    published = client.get("/board/pack/?month=2025-06").content.decode()
    assert 'id="pack-figures"' in published and 'id="pack-profitability-current"' in published


def test_chinese_pages_write_a_full_width_colon_after_a_label(client_as: Callable, board_snapshots: dict) -> None:
    client = client_as(roles.EXECUTIVE)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/board/pack/?month=2025-06&scope=region:North").content.decode()
    with translation.override("zh-hans"):
        region = str(translation.gettext("Region"))
    assert f"{region}：North" in page and f"{region}: North" not in page
