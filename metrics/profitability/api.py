"""/api/v1/customers/: the customer rows of `export_customers`, paginated (same authentication
and permission as the snapshots API: a session or a bearer token, Executive and above)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from metrics.api import ApiError, _error, _parameters_check, _scope, _user
from metrics.models import COMPANY

from .selectors import customer_rows_page

CUSTOMERS_PARAMETERS = ("segment", "page", "page_size")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ERROR_PAGE = "page must be a whole number from 1, and page_size from 1 to {limit}."


def _positive(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise ApiError(ERROR_PAGE.format(limit=MAX_PAGE_SIZE))
    return int(value)


@login_not_required
@require_GET
def customers(request: HttpRequest) -> JsonResponse:
    """Customers by id with their margin to date, allocated costs, net profit (stored by the last
    recompute) and prediction. ?segment=DIMENSION=VALUE&page=N&page_size=M (at most 1,000)."""
    try:
        _user(request)
        _parameters_check(request.GET, CUSTOMERS_PARAMETERS)
        dimension, value = _scope(request.GET)
        page = _positive(request.GET.get("page"), 1)
        size = _positive(request.GET.get("page_size"), DEFAULT_PAGE_SIZE)
        if size > MAX_PAGE_SIZE:
            raise ApiError(ERROR_PAGE.format(limit=MAX_PAGE_SIZE))
    except ApiError as exc:
        return _error(exc)
    count, _month, rows = customer_rows_page(dimension=None if dimension == COMPANY else dimension, value=value,
                                             page=page, page_size=size)
    pages = max(1, -(-count // size))
    return JsonResponse({"count": count, "page": page, "pages": pages, "page_size": size, "results": rows})
