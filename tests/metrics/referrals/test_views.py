"""Referrals where they are read: the exports, the API, the board's tile and acquisition chart,
the explanation and a customer's page (the hand-worked business of test_recompute)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from clv_dashboard import roles
from customers.models import Customer
from metrics.explain import line_reproduces, snapshot_explain
from metrics.services import snapshots_recompute
from tests.metrics.board.test_views import figures_of, tiles_of
from tests.metrics.referrals.test_recompute import business, snap  # noqa: F401 - the fixture

Clients = Callable[[str | None], Client]


@pytest.fixture
def recomputed(business: dict[str, Customer]) -> dict[str, Customer]:  # noqa: F811 - the fixture
    snapshots_recompute(trigger="test")
    return business


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_export_customers_gives_each_customer_their_referrals(recomputed: dict[str, Customer]) -> None:
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(command("export_customers")))}
    assert (rows["R1"]["referrals_made"], rows["R1"]["referral_margin"]) == ("2", "64.00")
    assert (rows["R2"]["referrals_made"], rows["R2"]["referral_margin"]) == ("1", "50.00")
    assert (rows["C"]["referrals_made"], rows["C"]["referral_margin"]) == ("0", "0.00")
    as_json = {r["customer_id"]: r for r in json.loads(command("export_customers", "--format", "json"))}
    assert (as_json["R1"]["referrals_made"], as_json["R1"]["referral_margin"]) == (2, "64.00")


def test_export_customers_to_an_earlier_month_counts_the_referrals_to_that_month(
        recomputed: dict[str, Customer]) -> None:
    """To the close of March: F (April) is not a customer yet; R1 has referred A alone."""
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(command("export_customers", "--month", "2024-03")))}
    assert (rows["R1"]["referrals_made"], rows["R1"]["referral_margin"]) == ("1", "40.00")
    assert (rows["R2"]["referrals_made"], rows["R2"]["referral_margin"]) == ("1", "50.00")


def test_export_snapshots_and_the_api_carry_the_referral_figures(recomputed: dict[str, Customer],
                                                                  client_as: Clients) -> None:
    rows = {r["month"]: r for r in csv.DictReader(io.StringIO(command("export_snapshots")))}
    feb = rows["2024-02"]
    assert (feb["referred_new_customers"], feb["referral_share"], feb["referral_rate"]) == ("1", "0.5", "1.0")
    assert Decimal(feb["referral_equity"]) == snap(2).referral_equity
    assert rows["2024-01"]["referral_rate"] == ""  # none: nobody at the start
    body = client_as(roles.EXECUTIVE).get("/api/v1/snapshots/?segment=region=South").json()
    april = next(r for r in body["results"] if r["month"] == "2024-04")
    assert (april["referred_new_customers"], april["referral_share"], april["referral_rate"]) == (1, 0.5, 0.5)
    customers = client_as(roles.EXECUTIVE).get("/api/v1/customers/").json()["results"]
    r1 = next(r for r in customers if r["customer_id"] == "R1")
    assert (r1["referrals_made"], r1["referral_margin"]) == (2, "64.00")


def test_the_board_tile_shows_the_rate_and_the_share_against_the_previous_month(
        recomputed: dict[str, Customer], client_as: Clients) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2024-04").content.decode()
    tile = tiles_of(html)["referral_rate"]
    assert tile["raw"] == "0.2" and tile["shown"] == "20.0%"  # 1 referred / 5 at the start
    part = html.split('data-metric="referral_rate"', 1)[1].split("</article>", 1)[0]
    # Rate 20.0% against 33.3% in March: -13.3 points; share 33.3% against 50.0%: -16.7 points.
    assert "13.3 pt" in part and "rate vs previous month" in part
    assert "16.7 pt" in part and "share vs previous month" in part
    assert "33.3% of new customers referred (1 of 3)" in part
    first = client_as(roles.EXECUTIVE).get("/board/?month=2024-01").content.decode()
    first_tile = first.split('data-metric="referral_rate"', 1)[1].split("</article>", 1)[0]
    assert "no rate" in first_tile and "no referral rate the previous month" in first_tile


def test_the_acquisition_chart_draws_referral_equity_inside_acquisition_equity(
        recomputed: dict[str, Customer], client_as: Clients) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/?month=2024-04").content.decode()
    figure = figures_of(html)["acquisition_retention"]
    traces = {t["name"]: t for t in figure["data"]}
    referral, acquisition = traces["of which from referrals"], traces["Acquisition equity"]
    assert referral["offsetgroup"] == acquisition["offsetgroup"]
    assert referral["y"][1] == pytest.approx(float(snap(2).referral_equity))
    assert referral["y"][4] == 0


def test_the_explanation_works_out_the_referral_figures(recomputed: dict[str, Customer]) -> None:
    explained = snapshot_explain(snapshot=snap(4))
    steps = {s["metric"]: s for s in explained["steps"]}
    assert steps["referral_rate"]["display"] == "0.2000"
    assert steps["referral_share"]["display"] == "0.3333"
    assert steps["referral_equity"]["display"] == f"{snap(4).referral_equity:,.2f}"
    for name in ("referral_rate", "referral_share", "referral_equity"):
        assert all(line_reproduces(line) for line in steps[name]["lines"]), name
    none = {s["metric"]: s for s in snapshot_explain(snapshot=snap(1))["steps"]}
    assert "no customer was active at the start" in json.dumps(none["referral_rate"])


def test_a_customer_page_shows_who_they_referred_and_whether_it_counts(recomputed: dict[str, Customer],
                                                                      client_as: Clients) -> None:
    r2 = client_as(roles.EXECUTIVE).get(f"/customers/{recomputed['R2'].pk}/").content.decode()
    section = r2.split('id="referrals"', 1)[1].split("</section>", 1)[0]
    assert "1 referral that counts" in section and "50.00" in section
    assert f'href="/customers/{recomputed["B"].pk}/">B</a>' in section
    b_row = section.split(">B</a>", 1)[1].split("</tr>", 1)[0]
    c_row = section.split(">C</a>", 1)[1].split("</tr>", 1)[0]
    assert "counts" in b_row and "does not" not in b_row
    assert "does not count: the referrer first bought later" in c_row
    c_page = client_as(roles.EXECUTIVE).get(f"/customers/{recomputed['C'].pk}/").content.decode()
    assert "Referred by" in c_page and f'href="/customers/{recomputed["R2"].pk}/">R2</a>' in c_page
    d_page = client_as(roles.EXECUTIVE).get(f"/customers/{recomputed['D'].pk}/").content.decode()
    assert "does not count: the customer names themself" in d_page
    e_page = client_as(roles.EXECUTIVE).get(f"/customers/{recomputed['E'].pk}/").content.decode()
    assert "<code>ghost</code>" in e_page and "does not count: not a known customer" in e_page
    plain = Customer.objects.create(external_id="Z")
    assert 'id="no-referrals"' in client_as(roles.EXECUTIVE).get(f"/customers/{plain.pk}/").content.decode()


def test_the_profitability_page_and_its_export_show_the_referrals(recomputed: dict[str, Customer],
                                                                 client_as: Clients) -> None:
    client = client_as(roles.EXECUTIVE)
    page = client.get("/profitability/").content.decode()
    r1_row = page.split(">R1</a>", 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">2</td>' in r1_row and "64.00" in r1_row
    body = client.get("/profitability/export.csv").content.decode("utf-8-sig")
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(body))}
    assert (rows["R1"]["referrals_made"], rows["R1"]["referral_margin"]) == ("2", "64.00")
    assert (rows["C"]["referrals_made"], rows["C"]["referral_margin"]) == ("0", "0.00")
