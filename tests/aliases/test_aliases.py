"""Segment-value aliases: normalisation, versions and audit, re-labelling stored data, imports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from aliases.models import AliasVersion, SegmentAlias
from aliases.normalise import alias_key, relabel_plan
from aliases.services import ERR_CHAIN, AliasRefused, alias_add, alias_retire
from audit.models import AuditEvent
from customers.models import CostEntry, Customer, ImportJob
from customers.services import import_claim, import_create, import_run


@pytest.mark.parametrize(("a", "b"), [
    ("East", "east"), ("EAST", " east "), ("Ｅａｓｔ", "east"), ("North  West", "north west"),
    ("华东", "华东"), ("Straße", "STRASSE"), ("E.", "e."),
])
def test_alias_keys_ignore_case_width_and_spacing(a: str, b: str) -> None:
    assert alias_key(a) == alias_key(b)


def test_different_values_keep_different_keys() -> None:
    assert alias_key("E.") != alias_key("E") and alias_key("华东") != alias_key("华北")


def test_the_relabel_plan_maps_each_stored_spelling_once() -> None:
    aliases = {alias_key("华东"): "East", alias_key("E."): "East", alias_key("east"): "East"}
    plan = relabel_plan(values=["华东", "E.", "EAST", "East", "North", ""], aliases=aliases)
    assert plan == {"华东": "East", "E.": "East", "EAST": "East"}


@pytest.fixture
def recompute_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    import metrics.services

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(metrics.services, "snapshots_request_recompute", lambda **kw: calls.append(kw))
    yield calls


def run(kind: str, text: str) -> ImportJob:
    job = import_create(kind=kind, chunks=[text.encode()], original_name="f.csv", enqueue=False, language="en")
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    return import_run(job=claimed)


@pytest.mark.django_db(transaction=True)
def test_an_alias_relabels_stored_customers_and_costs_audits_and_recomputes(
        admin_user: Any, recompute_calls: list[dict[str, Any]], settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    assert run("customers", "customer_id,region\nC1,East\nC2,华东\nC3,ＥＡＳＴ\nC4,North\n").status == "succeeded"
    assert run("costs", "month,kind,amount,dimension,value\n2024-01,acquisition,100,region,华东\n"
                        "2024-02,acquisition,50,region,华东\n2024-02,acquisition,70,region,East\n").status == "succeeded"
    recompute_calls.clear()

    version = alias_add(dimension="region", value="华东", canonical="East", actor=admin_user)
    assert dict(Customer.objects.values_list("external_id", "region")) == {
        "C1": "East", "C2": "East", "C3": "ＥＡＳＴ", "C4": "North"}
    # January moves to East; February is stored under both spellings, so it is left and counted.
    assert sorted(CostEntry.objects.values_list("month__month", "segment_value", "amount")) == [
        (1, "East", Decimal("100.00")), (2, "East", Decimal("70.00")), (2, "华东", Decimal("50.00"))]
    assert version.relabelled == {"region": {"customers": 1, "cost_entries": 1, "cost_entries_left": 1}}
    assert recompute_calls == [{"from_month": None, "trigger": "aliases"}]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ALIAS_ADD)
    assert (event.username, event.details["value"], event.details["canonical"], event.details["version"]) == (
        admin_user.username, "华东", "East", version.pk)

    second = alias_add(dimension="region", value="east", canonical="East", actor=admin_user)
    assert second.pk == version.pk + 1
    assert Customer.objects.get(external_id="C3").region == "East"  # full-width, upper case: same key

    alias_retire(alias=SegmentAlias.objects.get(key="east"), actor=admin_user)
    assert SegmentAlias.objects.filter(retired_in__isnull=True).count() == 1
    assert AliasVersion.objects.count() == 3
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ALIAS_RETIRE).count() == 1


@pytest.mark.django_db
def test_an_alias_to_an_alias_is_refused(recompute_calls: list[dict[str, Any]]) -> None:
    alias_add(dimension="region", value="华东", canonical="East")
    with pytest.raises(AliasRefused) as exc:
        alias_add(dimension="region", value="E.", canonical="华东")
    assert str(exc.value) == str(ERR_CHAIN).format(canonical="华东", target="East", value="E.")


@pytest.mark.django_db(transaction=True)
def test_imports_apply_aliases_and_list_the_values_never_seen(recompute_calls: list[dict[str, Any]], settings: Any,
                                                             tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    assert run("customers", "customer_id,region\nC0,East\n").status == "succeeded"
    alias_add(dimension="region", value="华东", canonical="East")
    alias_add(dimension="region", value="E.", canonical="East")
    job = run("transactions", "customer_id,order_id,order_date,revenue,region\n"
                              "C1,O1,2024-01-05,10,华东\nC2,O2,2024-01-05,10,e.\nC3,O3,2024-01-05,10,华北\n"
                              "C4,O4,2024-01-05,10,华北\nC4,O5,2024-01-06,10,华北\nC5,O6,2024-01-06,10,East\n")
    assert job.status == "succeeded", job.message
    assert dict(Customer.objects.values_list("external_id", "region")) == {
        "C0": "East", "C1": "East", "C2": "East", "C3": "华北", "C4": "华北", "C5": "East"}
    assert job.result["aliases_applied"] == {"region": 2}
    assert job.result["new_segment_values"] == [{"dimension": "region", "value": "华北", "customers": 2}]
    # Costs too: the segment value is mapped before it is stored.
    job = run("costs", "month,kind,amount,区域\n2024-01,获客,100,华东\n")
    assert job.status == "succeeded", job.message
    assert CostEntry.objects.get().segment_value == "East"


@pytest.mark.django_db
def test_the_alias_page_for_each_role(client_as: Callable[[str | None], Any],
                                      recompute_calls: list[dict[str, Any]]) -> None:
    assert client_as(None).get("/aliases/").status_code == 302
    assert client_as("Executive").get("/aliases/").status_code == 403
    analyst = client_as("Analyst")
    page = analyst.get("/aliases/?dimension=region&value=华北")
    assert page.status_code == 200 and b'id="alias-add"' not in page.content
    assert analyst.post("/aliases/add/", {"dimension": "region", "value": "a", "canonical": "b"}).status_code == 403
    admin = client_as("Admin")
    page = admin.get("/aliases/?dimension=region&value=华北")
    assert page.status_code == 200 and 'value="华北"' in page.content.decode()
    response = admin.post("/aliases/add/", {"dimension": "region", "value": "华北", "canonical": "North"})
    assert response.status_code == 302
    alias = SegmentAlias.objects.get()
    assert (alias.value, alias.canonical) == ("华北", "North")
    # What stopping an alias does (and does not undo) is said beside the button, to admins only.
    assert 'id="alias-stop-note"' in admin.get("/aliases/").content.decode()
    assert 'id="alias-stop-note"' not in analyst.get("/aliases/").content.decode()
    assert admin.post("/aliases/add/", {"dimension": "region", "value": "N.", "canonical": "华北"}).status_code == 400
    assert admin.post(f"/aliases/{alias.pk}/retire/").status_code == 302
    assert not SegmentAlias.objects.filter(retired_in__isnull=True).exists()
