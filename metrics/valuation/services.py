"""The customer-based valuation of one scope (METRICS.md, "Customer-based valuation"), the market
value an admin enters, and the stored valuations the recompute writes.

valuation_compute:
1. the scope's snapshot of month t gives the current customers' value, m, r and customers_end;
   its assumption version gives W, L and the discount rate (and the default model and H_v);
2. the first-purchase cohorts after the warm-up give the survival from month W on, fitted by sBG
   (a segment with too few customers takes the company's curve, and says so);
3. the scope's new customers of the months after the warm-up are projected H_v months ahead;
4. the maths (maths.value) gives the value of future customers and the elasticities.
Whatever is missing is said in `shortfalls`, with what is needed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from django.db import transaction
from django.db.models import DecimalField
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from clv_dashboard.formatting import format_number

from ..board.selectors import COMPANY_SCOPE, Scope
from ..calculations import month_index
from ..models import (
    AcquisitionProjection,
    AssumptionSet,
    CustomerValuation,
    MarketValue,
    RecomputeRun,
    ValuationLapseCount,
)
from .maths.cohorts import CohortSurvival, cohort_survivors, pooled_survival
from .maths.projection import MIN_MONTHS, RUNAWAY_MULTIPLE, Projection, growth_multiple, project
from .maths.sbg import SbgFit, sbg_fit
from .maths.value import Elasticity, Valuation, ValuationInputs, curve_survival, elasticities, valuation
from .selectors import (
    company_latest_window,
    data_months,
    first_lapses,
    first_lapses_of_run,
    lapse_rows,
    lapses_for,
    market_value_current,
    scope_series,
    segment_scopes,
)

logger = logging.getLogger(__name__)

# A scope's own curve needs this many customers in its cohorts after the warm-up, and at least
# one who has lapsed and one who has not.
MIN_CURVE_CUSTOMERS = 50
MAX_HORIZON = 600
MODELS = tuple(AcquisitionProjection.values)
CENT = Decimal("0.01")
ERROR_MARKET_NEGATIVE = "The market value cannot be negative."


@dataclass
class ScopeValuation:
    scope: Scope
    month: dt.date | None
    model: str
    horizon: int
    assumption_set: AssumptionSet | None = None
    current_value: float = 0.0
    customers_end: int = 0
    margin: float = 0.0
    retention: float = 0.0
    clv: float = 0.0
    cac: float = 0.0
    cac_known: bool = True
    fit: SbgFit | None = None
    curve_source: str = "own"        # "own" or "company"
    cohorts: list[CohortSurvival] = field(default_factory=list)
    actual_survival: list[float] = field(default_factory=list)
    window: int = 12
    history_months: list[dt.date] = field(default_factory=list)
    projection: Projection | None = None
    result: Valuation | None = None
    elasticities: list[Elasticity] = field(default_factory=list)
    market_value: MarketValue | None = None
    shortfalls: list[str] = field(default_factory=list)
    # The projection runs away (growth_multiple beyond RUNAWAY_MULTIPLE): no value is given on it.
    runaway: bool = False
    # The first lapses read for this valuation, for the segments valued next to it.
    lapses: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.result is not None

    @property
    def ratio(self) -> float | None:
        if self.result is None or self.market_value is None or self.market_value.amount <= 0:
            return None
        return self.result.total / float(self.market_value.amount)

    def fitted_survival(self, periods: int) -> list[float]:
        """The fitted curve by months since purchase 0..periods (1 up to W - 1)."""
        if self.fit is None:
            return []
        return curve_survival(self.fit.params, window=self.window, months=periods).tolist()


@dataclass(frozen=True)
class CurveFit:
    fit: SbgFit | None
    cohorts: list[CohortSurvival]
    actual: list[float]
    reason: str = ""


def curve_fit_for(rows: list[tuple[int, int | None, int]], *, last_month: int, window: int,
                  first_cohort: int) -> CurveFit:
    """sBG on the cohorts of one scope, or why not."""
    cohorts = cohort_survivors(rows, last_month=last_month, window=window, first_cohort=first_cohort)
    customers = sum(c.survivors[0] for c in cohorts)
    actual = pooled_survival(cohorts)[0].tolist()
    if customers < MIN_CURVE_CUSTOMERS:
        return CurveFit(None, cohorts, actual, _(
            "The retention curve needs at least {minimum} customers first won after the warm-up (the first {w} "
            "months of the data) and watched for more than {w} months; there are {count}. That takes at least "
            "{months} months of data.").format(minimum=MIN_CURVE_CUSTOMERS, w=window, count=customers,
                                                months=2 * window + 1))
    lost = sum(c.survivors[0] - c.survivors[-1] for c in cohorts)
    if lost == 0 or all(c.survivors[-1] == 0 for c in cohorts):
        return CurveFit(None, cohorts, actual, _(
            "The retention curve cannot be fitted yet: the cohorts show no lapse, or no survivor, so nothing tells how "
            "retention changes with tenure."))
    return CurveFit(sbg_fit([list(c.survivors) for c in cohorts]), cohorts, actual)


def _trailing_cac(series_costs: list[float], series_new: list[int], window: int) -> tuple[float, bool]:
    cost = sum(series_costs[-window:])
    new = sum(series_new[-window:])
    if new <= 0:
        return 0.0, cost == 0
    return cost / new, True


def valuation_compute(*, scope: Scope = COMPANY_SCOPE, month: dt.date | None = None, model: str | None = None,
                      horizon: int | None = None, lapses: pd.DataFrame | None = None,
                      company_curve: CurveFit | None = None) -> ScopeValuation:
    """The customer-based value of one scope at month t (default: the latest month)."""
    series = scope_series(dimension=scope.dimension, value=scope.value, month_to=month)
    snapshot = series.latest
    if snapshot is None or (month is not None and snapshot.month != month):
        out = ScopeValuation(scope=scope, month=month, model=model or AcquisitionProjection.TREND, horizon=horizon or 120)
        out.shortfalls.append(_("There are no figures for this month and scope yet: import transactions and let the "
                                "recompute run."))
        return out
    assumptions = snapshot.assumption_set
    w, window = int(assumptions.activity_window_months), int(assumptions.smoothing_window_months)
    out = ScopeValuation(
        scope=scope, month=snapshot.month, model=model or assumptions.acquisition_projection,
        horizon=horizon or int(assumptions.valuation_horizon_months), assumption_set=assumptions,
        current_value=float(snapshot.customer_equity), customers_end=snapshot.customers_end,
        margin=float(snapshot.margin_per_customer), retention=float(snapshot.retention_rate), clv=float(snapshot.clv),
        window=w,
    )
    if scope.is_company:
        out.market_value = market_value_current()
    company_months = _company_first_month()
    first, _last = company_months if company_months is not None else (month_index(snapshot.month),) * 2
    t = month_index(snapshot.month)
    observable_from = first + w
    # 1. The curve.
    if lapses is None:
        lapses = lapses_for(window=w)
    out.lapses = lapses
    curve = curve_fit_for(lapse_rows(lapses, dimension=scope.dimension, value=scope.value), last_month=t, window=w,
                          first_cohort=observable_from)
    out.cohorts, out.actual_survival = curve.cohorts, curve.actual
    if curve.fit is None and not scope.is_company:
        company = company_curve or curve_fit_for(lapse_rows(lapses, dimension="company", value=""), last_month=t,
                                                 window=w, first_cohort=observable_from)
        if company.fit is not None:
            curve = CurveFit(company.fit, curve.cohorts, curve.actual)
            out.curve_source = "company"
    if curve.fit is None:
        out.shortfalls.append(curve.reason)
    out.fit = curve.fit
    # 2. The projection of new customers (months after the warm-up only).
    keep = [i for i, m in enumerate(series.months) if month_index(m) >= observable_from]
    history = [series.new_customers[i] for i in keep]
    out.history_months = [series.months[i] for i in keep]
    out.cac, out.cac_known = _trailing_cac(series.acquisition_cost, series.new_customers, window)
    if not out.cac_known:
        out.shortfalls.append(_(
            "The last {months} months carry acquisition cost but no new customers: the acquisition cost per new "
            "customer is taken as 0.").format(months=window))
    if len(history) < MIN_MONTHS[out.model]:
        out.shortfalls.append(_(
            "The {model} projection needs at least {minimum} months of new customers after the warm-up (the first {w} "
            "months of the data); there are {count}.").format(
                model=AcquisitionProjection(out.model).label, minimum=MIN_MONTHS[out.model], w=w, count=len(history)))
    else:
        try:
            out.projection = project(history, model=out.model, window=window, horizon=out.horizon)
        except ValueError as exc:
            out.shortfalls.append(_("The projection of new customers could not be made: {reason}").format(reason=exc))
    if out.projection is not None:
        _refuse_runaway(out)
    if out.fit is None or out.projection is None:
        return out
    inputs = ValuationInputs(
        current_value=out.current_value, margin=out.margin, retention=out.retention,
        annual_discount_rate=float(assumptions.annual_discount_rate), activity_window=w, curve=out.fit.params,
        new_customers=tuple(out.projection.projected.tolist()), cac=out.cac,
        new_customers_lower=tuple(out.projection.lower.tolist()), new_customers_upper=tuple(out.projection.upper.tolist()),
    )
    out.result = valuation(inputs)
    out.elasticities = elasticities(inputs)
    return out


def _refuse_runaway(out: ScopeValuation) -> None:
    """A projection that takes new customers a month beyond RUNAWAY_MULTIPLE times the last
    year's by the end of the horizon is an extrapolation, not a forecast: the value of future
    customers is not computed on it, and the shortfall says why and what to choose instead."""
    assert out.projection is not None
    drift = growth_multiple(out.projection)
    if drift is None or drift[0] <= RUNAWAY_MULTIPLE:
        return
    out.runaway = True
    multiple, now, end = drift
    out.shortfalls.append(_(
        "The {model} projection runs away: it reaches {end} new customers a month by the end of the {horizon}-month "
        "horizon, {multiple} times the {now} a month of the last year. No value of future customers is given on it: "
        "choose the flat or the logistic projection, or a shorter horizon.").format(
            model=AcquisitionProjection(out.model).label, horizon=out.horizon, now=format_number(now, decimals=1),
            end=format_number(end, decimals=0) if math.isfinite(end) else "∞",
            multiple=format_number(multiple, decimals=0) if math.isfinite(multiple) else "∞"))
    out.projection = None


def _company_first_month() -> tuple[int, int] | None:
    return data_months()


def valuations_for_segments(*, month: dt.date, model: str, horizon: int, lapses: pd.DataFrame,
                            company_curve: CurveFit | None) -> list[ScopeValuation]:
    """Every segment of the month, valued with the same model and horizon."""
    return [
        valuation_compute(scope=Scope(dimension, value), month=month, model=model, horizon=horizon, lapses=lapses,
                          company_curve=company_curve)
        for dimension, value in segment_scopes(month=month)
    ]


def company_curve_for(*, valuation_: ScopeValuation, lapses: pd.DataFrame) -> CurveFit | None:
    if valuation_.month is None or valuation_.assumption_set is None:
        return None
    months = _company_first_month()
    if months is None:
        return None
    w = valuation_.window
    return curve_fit_for(lapse_rows(lapses, dimension="company", value=""), last_month=month_index(valuation_.month),
                         window=w, first_cohort=months[0] + w)


# --- Market value -------------------------------------------------------------------------------


def market_value_record(*, user: Any, amount: Decimal, as_of: dt.date, note: str = "") -> MarketValue:
    """A new version of the market value (never edits an earlier one), audited."""
    if amount < 0:
        raise ValueError(ERROR_MARKET_NEGATIVE)
    with transaction.atomic():
        latest = MarketValue.objects.select_for_update().order_by("-version").first()
        created = MarketValue(version=(latest.version + 1) if latest else 1, amount=amount, as_of=as_of,
                              note=note.strip(), created_by=user)
        created.full_clean()
        created.save()
        audit_record(action="market_value_change", actor=user, target=created,
                     details={"version": created.version, "amount": str(amount), "as_of": as_of.isoformat(),
                              "note": created.note})
    return created


# --- Stored valuations (the recompute) --------------------------------------------------------------


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_UP)


def _storable(v: ScopeValuation) -> bool:
    """Whether the valuation's money fits CustomerValuation's columns (finite, within their
    digits). One that does not is left out with a warning rather than failing every scope's."""
    assert v.result is not None
    figures = {"current_value": v.result.current_value, "future_value": v.result.future_value,
               "total_value": v.result.total, "v_new": v.result.v_new}
    for name, value in figures.items():
        column = CustomerValuation._meta.get_field(name)
        assert isinstance(column, DecimalField) and column.max_digits is not None and column.decimal_places is not None
        limit = 10.0 ** (column.max_digits - column.decimal_places)
        if not math.isfinite(value) or abs(value) >= limit:
            logger.warning("valuation of %s not stored: its %s (%s) does not fit the column", v.scope, name, value)
            return False
    return True


def valuation_details(v: ScopeValuation) -> dict[str, Any]:
    """The projected new customers, the elasticities and the figures behind the value, as JSON."""
    assert v.result is not None and v.projection is not None and v.fit is not None
    return {
        "projected_new_customers": [round(float(x), 3) for x in v.projection.projected],
        "projection_params": v.projection.params,
        "cac": round(v.cac, 2),
        "clv_by_r": round(v.result.clv_by_r, 2),
        "heterogeneity_gap": round(v.result.heterogeneity_gap, 2),
        "future_value_lower": None if v.result.future_value_lower is None else round(v.result.future_value_lower, 2),
        "future_value_upper": None if v.result.future_value_upper is None else round(v.result.future_value_upper, 2),
        "sbg_log_likelihood": v.fit.log_likelihood,
        "curve_source": v.curve_source,
        "elasticities": {e.key: e.percent for e in v.elasticities},
    }


def valuations_recompute(*, run: RecomputeRun | None = None) -> int:
    """Value the company and every segment for the latest month with the stored assumptions and
    write them, with the first-lapse counts they were fitted to (replacing the earlier rows);
    returns how many valuations were stored. The first lapses come from the stage tables of a
    full run (`run`) built with the same W, otherwise from first_lapses() (which reads only the
    months after a valid activity state's, as after an incremental run)."""
    window = company_latest_window()
    staged = first_lapses_of_run(run=run) if run is not None and window is not None else None
    lapses = None
    if window is not None:
        lapses = staged[1] if staged is not None and staged[0] == window else first_lapses(window=window)
    company = valuation_compute(lapses=lapses)
    if window is None or lapses is None or company.month is None or company.assumption_set is None:
        with transaction.atomic():
            CustomerValuation.objects.all().delete()
            ValuationLapseCount.objects.all().delete()
        return 0
    curve = company_curve_for(valuation_=company, lapses=lapses)
    scopes = [company, *valuations_for_segments(month=company.month, model=company.model, horizon=company.horizon,
                                                lapses=lapses, company_curve=curve)]
    now = timezone.now()
    rows = [
        CustomerValuation(
            month=v.month, scope_dimension=v.scope.dimension, scope_value=v.scope.value, assumption_set=v.assumption_set,
            acquisition_projection=v.model, valuation_horizon_months=v.horizon, current_value=_money(v.result.current_value),
            future_value=_money(v.result.future_value), total_value=_money(v.result.total), v_new=_money(v.result.v_new),
            sbg_alpha=v.fit.alpha, sbg_beta=v.fit.beta, sbg_alpha_se=v.fit.alpha_se, sbg_beta_se=v.fit.beta_se,
            details=valuation_details(v), computed_at=now,
        )
        for v in scopes if v.result is not None and v.fit is not None and v.month is not None and _storable(v)
    ]
    counts = [
        ValuationLapseCount(window=window, scope_dimension=dimension, scope_value=value, cohort=cohort, lapse=lapse,
                            customers=customers, computed_at=now)
        for dimension, value, cohort, lapse, customers in lapses.itertuples(index=False)
    ]
    with transaction.atomic():
        CustomerValuation.objects.all().delete()
        CustomerValuation.objects.bulk_create(rows)
        ValuationLapseCount.objects.all().delete()
        ValuationLapseCount.objects.bulk_create(counts, batch_size=5000)
    return len(rows)
