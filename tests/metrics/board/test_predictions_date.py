"""The predictions panel is the latest fit's, whatever month the board shows: it says its date."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from clv_dashboard import roles
from metrics.models import CustomerPrediction, PredictiveFit
from tests.factories import CustomerFactory


def test_the_predictions_panel_says_the_date_its_data_runs_to_for_any_chosen_month(
    client_as: Callable, board_snapshots: dict
) -> None:
    fit = PredictiveFit.objects.create(status=PredictiveFit.Status.SUCCEEDED, data_date="2025-12-31")
    CustomerPrediction.objects.create(
        customer=CustomerFactory.create(), fit=fit, p_alive=0.5, expected_purchases_12m=1.0,
        expected_spend=Decimal("10"), predicted_clv=Decimal("100"), historic_margin=Decimal("5"), tier="gold",
    )
    client = client_as(roles.EXECUTIVE)
    for month in ["2025-12", "2025-06"]:
        html = client.get(f"/board/?month={month}").content.decode()
        panel = html.split('id="predictions"', 1)[1].split("</section>", 1)[0]
        assert "data up to 2025-12-31" in panel, month
    client.cookies["django_language"] = "zh-hans"
    panel = client.get("/board/?month=2025-06").content.decode().split('id="predictions"', 1)[1]
    assert "2025-12-31" in panel.split("</section>", 1)[0] and "data up to" not in panel.split("</section>", 1)[0]
