"""The Model check page: who sees it, what it shows on CDNOW, its empty states and its cache."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from clv_dashboard import roles
from customers.models import Customer
from metrics.predictive.maths.purchase_models import PurchaseModel
from metrics.predictive.validation import services
from metrics.predictive.validation.maths import calibration_end_for, holdout_inputs_from_transactions, holdout_validate
from tests.factories import CustomerFactory, UserFactory

from .cdnow import CALIBRATION_END, sample_transactions
from .db import buy, cdnow_load

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str | None], Client]
URL = "/customers/model-check/"
CDNOW_SPLIT = f"{URL}?calibration_end=1997-09-30&holdout_end=1998-06-30"


@pytest.fixture(autouse=True)
def _no_fit(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


@pytest.mark.parametrize("role", [roles.ANALYST, roles.ADMIN])
def test_analysts_and_admins_see_the_model_check(client_as: ClientAs, role: str) -> None:
    assert client_as(role).get(URL).status_code == 200


def test_executives_users_without_a_role_and_visitors_do_not(client_as: ClientAs) -> None:
    assert client_as(roles.EXECUTIVE).get(URL).status_code == 403
    nobody = Client()
    nobody.force_login(cast(User, UserFactory(username="nobody")))
    assert nobody.get(URL).status_code == 403
    assert Client().get(URL).status_code == 302


def _figure(page: str, name: str) -> dict[str, Any]:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', page, re.S)
    assert match, name
    return cast(dict[str, Any], json.loads(match.group(1)))


def test_on_cdnow_the_page_shows_each_models_holdout_and_the_plots(client_as: ClientAs) -> None:
    pk_of = cdnow_load()
    page = client_as(roles.ANALYST).get(CDNOW_SPLIT).content.decode()
    frame = sample_transactions()
    frame["customer_id"] = frame["customer_id"].map(pk_of)
    report = holdout_validate(holdout_inputs_from_transactions(frame, calibration_end=CALIBRATION_END,
                                                               holdout_end=dt.date(1998, 6, 30)))
    assert "They made 1,882 repeat purchases in the holdout" in page
    assert report.best is not None
    best_label = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto_nbd": "Pareto/NBD"}[report.best.value]
    assert f"Best on this holdout: {best_label}." in page
    bgnbd = report.check(PurchaseModel.BGNBD)
    assert bgnbd is not None and bgnbd.pct_error is not None
    row = page[page.index('id="model-bgnbd"'):]
    row = row[:row.index("</tr>")]
    assert f"{bgnbd.pct_error:.1%}".replace("-", "−") in row or f"{bgnbd.pct_error * 100:.1f}%" in row
    tracking = _figure(page, "tracking-figure")
    assert [trace["name"] for trace in tracking["data"]] == ["Actual", "BG/NBD", "MBG/NBD", "Pareto/NBD"]
    assert tracking["data"][0]["y"][-1] == pytest.approx(report.tracking_actual[-1])
    assert tracking["data"][1]["y"] == pytest.approx(list(bgnbd.tracking_predicted), abs=0.01)
    conditional = _figure(page, "conditional-figure")
    assert conditional["data"][0]["x"] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert conditional["data"][1]["y"] == pytest.approx([r.predicted_mean for r in bgnbd.by_frequency], abs=1e-4)
    assert 'id="frequency-table"' in page and 'id="spend-check"' in page


def test_without_purchases_the_page_says_to_import_first(client_as: ClientAs) -> None:
    page = client_as(roles.ANALYST).get(URL).content.decode()
    assert 'id="model-check-empty"' in page and "Import transactions first" in page


def test_with_too_little_history_the_page_says_why_and_what_to_do(client_as: ClientAs) -> None:
    # Ten customers with one purchase each, over three months: nobody has bought again.
    for i in range(10):
        buy(cast(Customer, CustomerFactory(external_id=f"C{i}")), dt.date(2024, 1, 1) + dt.timedelta(days=10 * i))
    page = client_as(roles.ANALYST).get(URL).content.decode()
    assert "Too little history for this split" in page
    assert "No customer bought again by" in page


def test_a_split_with_the_holdout_before_the_calibration_end_is_refused_and_the_default_shown(
        client_as: ClientAs) -> None:
    cdnow_load()
    page = client_as(roles.ANALYST).get(f"{URL}?calibration_end=1998-01-01&holdout_end=1997-06-30").content.decode()
    assert "The holdout must end after the calibration period." in page
    # The default split: the last quarter of 1997-01-01 .. 1998-06-30 held out.
    default = calibration_end_for(first_day=dt.date(1997, 1, 1), last_day=dt.date(1998, 6, 30), holdout_share=0.25)
    assert f'data-calibration-end="{default.isoformat()}" data-holdout-end="1998-06-30"' in page


def test_the_check_is_computed_once_per_data_version(client_as: ClientAs, settings: Any) -> None:
    cdnow_load()
    split = services.Split(calibration_end=CALIBRATION_END, holdout_end=dt.date(1998, 6, 30))
    first = services.model_check_get(split=split)
    assert first is not None and first.report is not None
    again = services.model_check_get(split=split)
    # The second read is the cached copy (the same fitted parameters), not a new computation.
    assert again is not None and again.report is not None
    assert again.report.models[0].fitted == first.report.models[0].fitted
    assert again is not first


def test_a_large_history_is_checked_by_the_task(client_as: ClientAs, settings: Any) -> None:
    cdnow_load()
    settings.CLV_MODEL_CHECK_INLINE_CUSTOMERS = 10
    # Tasks run in the test process (eager): the queued computation has filled the cache by the
    # time the request returns.
    page = client_as(roles.ANALYST).get(CDNOW_SPLIT).content.decode()
    assert "They made 1,882 repeat purchases in the holdout" in page


def test_while_the_worker_computes_the_page_says_so(client_as: ClientAs, settings: Any) -> None:
    cdnow_load()
    settings.CLV_MODEL_CHECK_INLINE_CUSTOMERS = 10
    split = services.Split(calibration_end=CALIBRATION_END, holdout_end=dt.date(1998, 6, 30))
    # A computation already queued (by another view) and not finished.
    assert cache.add(services._key(split, "queued"), True, 60)
    page = client_as(roles.ANALYST).get(CDNOW_SPLIT).content.decode()
    assert 'id="model-check-pending"' in page and 'id="tracking-chart"' not in page
