"""The Profitability page and its CSV: who may see them, what they show."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from clv_dashboard import roles
from metrics.models import CustomerPrediction, PredictiveFit
from metrics.services import assumptions_record, snapshots_recompute

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def recomputed(business: dict[str, int], settings: Any) -> dict[str, int]:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    return business


@pytest.mark.parametrize("role", [roles.EXECUTIVE, roles.ANALYST, roles.ADMIN])
def test_executives_and_above_see_the_page_and_the_export(client_as: Callable[[str | None], Client],
                                                          recomputed: dict[str, int], role: str) -> None:
    client = client_as(role)
    assert client.get("/profitability/").status_code == 200
    assert client.get("/profitability/export.csv").status_code == 200


def test_a_user_without_a_role_is_refused_and_a_visitor_is_sent_to_login(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    for url in ("/profitability/", "/profitability/export.csv"):
        assert client_as(None).get(url).status_code == 302
        assert client_as("").get(url).status_code == 403


def test_the_page_says_the_whale_curve_in_words_and_lists_the_customers(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    # Net profits: E 10, D -6, C -82.33, A -103.33, B -123.33: the total is negative.
    page = client_as(roles.EXECUTIVE).get("/profitability/").content.decode()
    assert "Customers lose ¥304.99 in total; 80.0% of them lose ¥314.99." in page
    assert 'id="most-table"' in page and 'id="least-table"' in page
    most = page.split('id="most-table"')[1].split("</table>")[0]
    assert most.index(">E</a>") < most.index(">D</a>") < most.index(">B</a>")
    assert "−¥103.33" in most and "¥53.33" in most
    # The rules are explained on the page, and the unallocated costs shown.
    assert "is shared equally among that month" in page and "in proportion to their purchases" in page
    assert "¥40.00" in page and "¥7.00" in page


def test_a_segment_draws_its_own_curve_with_the_headline_of_its_peak(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    # Region unassigned holds only E (+10): every customer is profitable.
    page = client_as(roles.EXECUTIVE).get("/profitability/?segment=region%3Dunassigned").content.decode()
    assert "Every customer is profitable: together they earn ¥10.00." in page
    assert 'id="whale-figure"' in page and "<script>" not in page.split('id="whale-figure"')[0][-200:]


def test_the_headline_names_the_peak_and_the_loss_makers(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    from customers.models import Transaction

    # Give A a big margin (+960): nets A 856.67, E 10, D -6, C -82.33, B -123.33; total 655.01.
    a = Transaction.objects.filter(customer_id=recomputed["A"]).first()
    assert a is not None
    Transaction.objects.filter(pk=a.pk).update(revenue=1060, cost=60)
    snapshots_recompute(trigger="test")
    page = client_as(roles.EXECUTIVE).get("/profitability/").content.decode()
    # Peak after A and E: 866.67 / 655.01 = 132.3%, at 40% of the customers; 60% lose 211.66.
    assert "The most profitable 40.0% of customers earn 132.3% of the profit; 60.0% lose ¥211.66." in page
    with translation.override("zh-hans"):
        page = client_as(roles.EXECUTIVE).get("/profitability/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "最赚钱的 40.0% 客户" in page


def test_the_tier_filter_keeps_that_tiers_customers(client_as: Callable[[str | None], Client],
                                                    recomputed: dict[str, int]) -> None:
    fit = PredictiveFit.objects.create(status="succeeded")
    CustomerPrediction.objects.create(customer_id=recomputed["C"], fit=fit, p_alive=0.5, expected_purchases_12m=1,
                                      expected_spend=1, predicted_clv=1, historic_margin=1, tier="at_risk")
    page = client_as(roles.EXECUTIVE).get("/profitability/?tier=at_risk").content.decode()
    most = page.split('id="most-table"')[1].split("</table>")[0]
    assert ">C</a>" in most and ">A</a>" not in most


def test_the_csv_is_utf8_with_a_bom_and_defuses_formulas(client_as: Callable[[str | None], Client],
                                                        recomputed: dict[str, int]) -> None:
    from customers.models import Customer

    Customer.objects.filter(pk=recomputed["D"]).update(name="=HYPERLINK(\"x\")")
    Customer.objects.filter(pk=recomputed["E"]).update(name="华东客户")
    response = client_as(roles.EXECUTIVE).get("/profitability/export.csv")
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["customer_id", "name", "tier", "margin_to_date", "acquisition_cost_allocated",
                       "retention_cost_allocated", "net_profit_to_date", "referrals_made", "referral_margin"]
    assert [r[0] for r in rows[1:]] == ["E", "D", "C", "A", "B"]
    assert rows[1][1] == "华东客户" and rows[2][1] == "'=HYPERLINK(\"x\")"
    assert rows[4][3:] == ["100.00", "150.00", "53.33", "-103.33", "0", "0.00"]


def test_without_a_recompute_the_page_says_there_is_nothing_yet(client_as: Callable[[str | None], Client]) -> None:
    page = client_as(roles.EXECUTIVE).get("/profitability/").content.decode()
    assert "No customer profitability yet" in page


def test_the_customers_page_and_its_export_show_net_profit_beside_predicted_clv(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    from tests.responses import streamed_body

    fit = PredictiveFit.objects.create(status="succeeded")
    CustomerPrediction.objects.create(customer_id=recomputed["A"], fit=fit, p_alive=0.5, expected_purchases_12m=1,
                                      expected_spend=1, predicted_clv=77, historic_margin=100, tier="silver")
    client = client_as(roles.EXECUTIVE)
    page = client.get("/customers/").content.decode()
    row = page.split('id="predictions"')[1].split("</table>")[0]
    assert "Net profit" in row and ('<td class="num" data-label="Predicted CLV"><span>¥77.00</span></td>\n'
                                    '        <td class="num bad" data-label="Net profit">−¥103.33</td>') in row
    rows = list(csv.reader(io.StringIO(streamed_body(client.get("/customers/export.csv")).decode())))
    header = rows[0]
    assert header[header.index("predicted_clv") + 1] == "net_profit_to_date"
    assert rows[1][header.index("net_profit_to_date")] == "-103.33"


def test_the_board_has_a_profitability_panel_linking_to_the_page(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    from customers.models import Transaction

    a = Transaction.objects.filter(customer_id=recomputed["A"]).first()
    assert a is not None
    Transaction.objects.filter(pk=a.pk).update(revenue=1060, cost=60)
    snapshots_recompute(trigger="test")
    page = client_as(roles.EXECUTIVE).get("/board/").content.decode()
    panel = page.split('id="profitability-panel"')[1].split("</section>")[0]
    assert "132.3% of the profit, from the most profitable 40.0% of customers" in panel
    assert "3 (60.0%), losing ¥211.66" in panel and "¥655.01" in panel
    assert 'href="/profitability/"' in panel
    with translation.override("zh-hans"):
        page = client_as(roles.EXECUTIVE).get("/board/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "最赚钱的 40.0% 客户贡献了 132.3% 的利润" in page


def _board_figures(html: str) -> dict[str, Any]:
    import json
    import re

    raw = re.search(r'<script type="application/json" id="board-figures">(.*?)</script>', html, re.S)
    assert raw is not None
    return json.loads(raw.group(1))


def test_the_board_charts_the_monthly_profitability_of_the_scope_it_shows(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    client = client_as(roles.EXECUTIVE)
    company = _board_figures(client.get("/board/?month=2024-06&scope=company").content.decode())["profitability"]
    names = [trace["name"] for trace in company["data"]]
    assert names == ["Acquisition cost allocated", "Retention cost allocated", "Margin to date", "Net profit to date"]
    net = company["data"][3]
    assert net["x"][0].startswith("2024-01") and net["x"][-1].startswith("2024-06")
    assert net["y"][0] == -200.0 and net["y"][-1] == -305.0
    north = _board_figures(client.get("/board/?month=2024-06&scope=region:North").content.decode())["profitability"]
    assert north["data"][3]["y"][-1] == -185.67
    assert "Region: North" in north["layout"]["title"]["subtitle"]["text"]
    with translation.override("zh-hans"):
        html = client.get("/board/?month=2024-06&scope=company", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert _board_figures(html)["profitability"]["data"][3]["name"] == "累计净利润"


def test_the_customer_page_shows_their_allocated_costs_month_by_month(
        client_as: Callable[[str | None], Client], recomputed: dict[str, int]) -> None:
    html = client_as(roles.EXECUTIVE).get(f"/customers/{recomputed['A']}/").content.decode()
    assert 'id="profit-months-table"' in html
    assert 'data-month="2024-01"' in html and 'data-month="2024-05"' in html and 'data-month="2024-06"' not in html
    assert "-103.33" in html and "rounded to cents" in html
