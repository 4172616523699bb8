"""The JSON API: /api/v1/snapshots/ and /api/v1/snapshots/explain/.

Authentication: the session (logged-in users) or `Authorization: Bearer <token>` with a token
an admin issued (`manage.py issue_api_token`). Executives and above (metrics.view_board)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from customers.models import SegmentDimension

from . import selectors, services
from .closing.selectors import export_rows
from .datacache import versioned_get
from .explain import snapshot_explain
from .models import COMPANY

ERROR_AUTH = "Log in, or send the header 'Authorization: Bearer <token>' with a token an admin issued."
ERROR_TOKEN = "The API token is unknown or revoked; ask an admin for a new one."
ERROR_FORBIDDEN = "This account may not read the snapshots (it needs the Executive role or above)."
ERROR_SEGMENT = "segment must be DIMENSION=VALUE with DIMENSION one of {choices} (for example region=North)."
ERROR_DIMENSION = "dimension must be one of {choices}."
ERROR_MONTH = "{name} must be a month as YYYY-MM (for example 2024-03), not {value!r}."
ERROR_MONTH_REQUIRED = "month is required, as YYYY-MM."
ERROR_NOT_FOUND = "There is no snapshot for {month} and this scope; the API lists the months that exist."
ERROR_PARAMETER = "Unknown parameter {name!r}; this endpoint takes {choices}."
ERROR_REPEATED = "Give {name} once."
ERROR_VALUE = "{name} must be printable text of at most {limit} characters."

SNAPSHOTS_PARAMETERS = ("segment", "dimension", "from", "to")
EXPLAIN_PARAMETERS = ("segment", "month")
# Longer than any stored segment value or month: such a value can only be a mistake.
_VALUE_LIMIT = 255


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _user(request: HttpRequest) -> Any:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        token = selectors.api_token_user(key=header[7:].strip())
        if token is None:
            raise ApiError(ERROR_TOKEN, 401)
        services.api_token_touch(token=token)
        user = token.user
    elif request.user.is_authenticated:
        user = request.user
    else:
        raise ApiError(ERROR_AUTH, 401)
    if not user.has_perm("metrics.view_board"):
        raise ApiError(ERROR_FORBIDDEN, 403)
    return user


def _parameters_check(params: Any, allowed: tuple[str, ...]) -> None:
    """Every parameter known, given once, and printable text (no NUL or other control character)."""
    for name, values in params.lists():
        if name not in allowed:
            raise ApiError(ERROR_PARAMETER.format(name=name[:40], choices=", ".join(allowed)))
        if len(values) > 1:
            raise ApiError(ERROR_REPEATED.format(name=name))
        value = values[0]
        if len(value) > _VALUE_LIMIT or not value.isprintable():
            raise ApiError(ERROR_VALUE.format(name=name, limit=_VALUE_LIMIT))


def _month(params: Any, name: str) -> dt.date | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise ApiError(ERROR_MONTH.format(name=name, value=value)) from None


def _scope(params: Any) -> tuple[str, str | None]:
    choices = ", ".join(SegmentDimension.values)
    segment = params.get("segment")
    if segment:
        dimension, sep, value = segment.partition("=")
        if not sep or dimension not in SegmentDimension.values or not value:
            raise ApiError(ERROR_SEGMENT.format(choices=choices))
        return dimension, value
    dimension = params.get("dimension")
    if dimension and dimension != COMPANY:
        if dimension not in SegmentDimension.values:
            raise ApiError(ERROR_DIMENSION.format(choices=f"{COMPANY}, {choices}"))
        return dimension, None
    return COMPANY, ""


def _error(exc: ApiError) -> JsonResponse:
    response = JsonResponse({"error": str(exc)}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@login_not_required
@require_GET
def snapshots(request: HttpRequest) -> HttpResponse:
    """Snapshots, one row per scope and month. Filters: segment=DIMENSION=VALUE (default the
    company) or dimension=DIMENSION (every value of it), from=YYYY-MM, to=YYYY-MM."""
    try:
        _user(request)
        _parameters_check(request.GET, SNAPSHOTS_PARAMETERS)
        dimension, value = _scope(request.GET)
        qs = selectors.snapshots_list(
            dimension=dimension, value=value, month_from=_month(request.GET, "from"), month_to=_month(request.GET, "to")
        )
    except ApiError as exc:
        return _error(exc)

    def body() -> bytes:
        rows = export_rows(qs)
        return json.dumps({"count": len(rows), "results": rows}, cls=DjangoJSONEncoder).encode()

    # The rows with their published figures and restatements cost a scan: cached under the data
    # version with the (validated) parameters, after the permission check.
    parts = [f"{name}={request.GET.get(name, '')}" for name in SNAPSHOTS_PARAMETERS]
    return HttpResponse(versioned_get(name="api-snapshots", parts=parts, compute=body),
                        content_type="application/json")


@login_not_required
@require_GET
def snapshot_explanation(request: HttpRequest) -> JsonResponse:
    """How one snapshot was computed: ?month=YYYY-MM[&segment=DIMENSION=VALUE]."""
    try:
        _user(request)
        _parameters_check(request.GET, EXPLAIN_PARAMETERS)
        dimension, value = _scope(request.GET)
        month = _month(request.GET, "month")
        if month is None:
            raise ApiError(ERROR_MONTH_REQUIRED)
        snapshot = selectors.snapshots_list(dimension=dimension, value=value, month_from=month, month_to=month).first()
        if snapshot is None or value is None:
            raise ApiError(ERROR_NOT_FOUND.format(month=f"{month:%Y-%m}"), 404)
    except ApiError as exc:
        return _error(exc)
    return JsonResponse(snapshot_explain(snapshot=snapshot))
