"""Any bad parameter of the API is a 400 with a message, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import translation

from clv_dashboard import roles
from clv_dashboard.middleware import ERR_NUL_IN_QUERY
from metrics import api


@pytest.mark.parametrize(("query", "message"), [
    ("segment=region=%00", ERR_NUL_IN_QUERY),
    ("segment=region%00=North", ERR_NUL_IN_QUERY),
    ("from=2024-01%00", ERR_NUL_IN_QUERY),
    ("segment=region=No%01rth", api.ERROR_VALUE.format(name="segment", limit=255)),
    ("segment=region=" + "x" * 300, api.ERROR_VALUE.format(name="segment", limit=255)),
    ("segmnt=region=North", api.ERROR_PARAMETER.format(name="segmnt", choices=", ".join(api.SNAPSHOTS_PARAMETERS))),
    ("from=2024-01&from=2024-02", api.ERROR_REPEATED.format(name="from")),
    ("segment=planet=Mars", None),
    ("dimension=planet", None),
    ("from=2024-13", None),
    ("to=yesterday", None),
])
def test_a_bad_parameter_of_the_snapshots_api_is_a_400(
    query: str, message: object, client_as: Callable[[str | None], Client]
) -> None:
    response = client_as(roles.EXECUTIVE).get(f"/api/v1/snapshots/?{query}")
    assert response.status_code == 400, query
    assert response["Content-Type"] == "application/json"
    if message is not None:
        with translation.override("en"):
            assert response.json() == {"error": str(message)}


@pytest.mark.parametrize("query", ["month=2024-01%00", "month=2024-01&segment=region=%00", "month=2024-01&x=1",
                                   "month=2024-01&month=2024-02", "month=%E2%80%8F2024-01"])
def test_a_bad_parameter_of_the_explain_api_is_a_400(query: str, client_as: Callable[[str | None], Client]) -> None:
    assert client_as(roles.EXECUTIVE).get(f"/api/v1/snapshots/explain/?{query}").status_code == 400, query


@pytest.mark.postgres
def test_a_long_valid_segment_value_reaches_postgresql_without_error(client_as: Callable[[str | None], Client]) -> None:
    response = client_as(roles.EXECUTIVE).get("/api/v1/snapshots/?segment=region=" + "华东" * 100)
    assert response.status_code == 200 and response.json()["count"] == 0
