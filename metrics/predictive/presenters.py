"""Values of the customers pages formatted for the active language (money, percentages, counts)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.utils import formats

from clv_dashboard.formatting import format_money, format_percent
from metrics.models import CustomerPrediction, PredictiveFit, PredictiveModel

from .maths import BgNbdParams
from .maths.bgnbd import bgnbd_probability_of_n_purchases
from .maths.clv import UNITS_PER_MONTH
from .maths.purchase_models import MODEL_LABELS, PARAM_NAMES, PurchaseModel
from .maths.uncertainty import DEFAULT_DRAWS
from .selectors import TierSummary


def format_count(value: float | int, decimals: int = 0) -> str:
    return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)


@dataclass(frozen=True)
class PredictionRow:
    customer_id: int
    external_id: str
    name: str
    tier: str
    tier_label: str
    p_alive: str
    expected_purchases_12m: str
    expected_spend: str
    predicted_clv: str
    historic_margin: str
    loses_money: bool
    net_profit: str = "–"
    net_loss: bool = False
    clv_interval: str = ""


def prediction_row(p: CustomerPrediction) -> PredictionRow:
    return PredictionRow(
        customer_id=p.customer_id,
        external_id=p.customer.external_id,
        name=p.customer.name,
        tier=p.tier,
        tier_label=str(p.get_tier_display()),
        p_alive=format_percent(p.p_alive),
        expected_purchases_12m=format_count(p.expected_purchases_12m, 2),
        expected_spend=format_money(p.expected_spend),
        predicted_clv=format_money(p.predicted_clv),
        historic_margin=format_money(p.historic_margin),
        loses_money=p.historic_margin < 0,
        clv_interval=_interval(p),
        **_net_profit(p),
    )


def _interval(p: CustomerPrediction) -> str:
    """"low – high" of the CLV interval, or "" without one."""
    if p.clv_low is None or p.clv_high is None:
        return ""
    return f"{format_money(p.clv_low)} – {format_money(p.clv_high)}"


def _net_profit(p: CustomerPrediction) -> dict[str, Any]:
    """Net profit after the allocated costs (metrics.profitability), when the recompute stored it."""
    profit = getattr(p.customer, "profitability", None)
    if profit is None:
        return {}
    return {"net_profit": format_money(profit.net_profit_to_date), "net_loss": profit.net_profit_to_date < 0}


@dataclass(frozen=True)
class TierTile:
    tier: str
    label: str
    customers: str
    predicted_clv: str


def tier_tiles(summaries: list[TierSummary]) -> list[TierTile]:
    return [
        TierTile(tier=s.tier, label=s.label, customers=format_count(s.customers),
                 predicted_clv=format_money(s.predicted_clv, decimals=0))
        for s in summaries
    ]


@dataclass(frozen=True)
class FitFacts:
    customers: str
    repeat_customers: str
    annual_discount_rate: str
    horizon_months: int
    assumption_version: int | None
    # The model of repeat purchases that made the numbers, and how it was chosen.
    model_label: str = "BG/NBD"
    model_params: str = ""
    model_log_likelihood: str = ""
    model_auto: bool = False
    model_margin: str = ""
    runner_up: str = ""
    new_customer_days: int = 0
    # (name, estimate, standard error) per model, formatted; empty without standard errors.
    purchase_parameters: tuple[tuple[str, str, str], ...] = ()
    gamma_gamma_parameters: tuple[tuple[str, str, str], ...] = ()
    interval_percent: str = ""
    interval_draws: int = DEFAULT_DRAWS
    warnings: tuple[str, ...] = ()
    # P(n repeat purchases in the next 12 months) of a new customer: ("0", "53.8%"), ..., ("6+", ...).
    new_customer_purchases: tuple[tuple[str, str], ...] = ()


def _model_facts(fit: PredictiveFit) -> dict[str, Any]:
    model = PurchaseModel(fit.model) if fit.model else PurchaseModel.BGNBD
    values = fit.model_params or {"r": fit.bgnbd_r, "alpha": fit.bgnbd_alpha, "a": fit.bgnbd_a, "b": fit.bgnbd_b}
    ll = fit.model_log_likelihood if fit.model_log_likelihood is not None else fit.bgnbd_log_likelihood
    facts: dict[str, Any] = {
        "model_label": MODEL_LABELS[model],
        # In the model's own order (jsonb keeps keys sorted its own way).
        "model_params": ", ".join(f"{k} = {format_count(values[k], 3)}" for k in PARAM_NAMES[model]
                                  if values.get(k) is not None),
        "model_log_likelihood": format_count(ll, 1) if ll is not None else "",
        "model_auto": fit.model_requested == PredictiveModel.AUTO,
    }
    selection = fit.model_selection or {}
    ranked = sorted((m for m in selection.get("models", []) if m.get("rmse") is not None), key=lambda m: m["rmse"])
    if facts["model_auto"] and len(ranked) > 1 and selection.get("margin") is not None:
        facts["model_margin"] = format_percent(selection["margin"])
        facts["runner_up"] = MODEL_LABELS[PurchaseModel(ranked[1]["model"])]
    return facts


def fit_facts(fit: PredictiveFit) -> FitFacts:
    a = fit.assumption_set
    return FitFacts(
        **_model_facts(fit),
        customers=format_count(fit.n_customers),
        repeat_customers=format_count(fit.n_repeat_customers),
        annual_discount_rate=format_percent(a.annual_discount_rate) if a else "",
        horizon_months=int(a.prediction_horizon_months) if a else 0,
        assumption_version=a.version if a else None,
        new_customer_days=int(a.new_customer_age_days) if a else 0,
        purchase_parameters=_purchase_parameters(fit),
        gamma_gamma_parameters=_parameters(fit, "gamma_gamma", {"p": fit.gg_p, "q": fit.gg_q, "gamma": fit.gg_gamma}),
        interval_percent=format_percent(fit.clv_interval_level, decimals=0) if fit.clv_interval_level else "",
        warnings=tuple(fit.warnings_shown),
        new_customer_purchases=_purchase_distribution(fit),
    )


PURCHASE_COUNTS_SHOWN = 6


def _purchase_distribution(fit: PredictiveFit) -> tuple[tuple[str, str], ...]:
    if None in (fit.bgnbd_r, fit.bgnbd_alpha, fit.bgnbd_a, fit.bgnbd_b):
        return ()
    params = BgNbdParams(float(fit.bgnbd_r), float(fit.bgnbd_alpha), float(fit.bgnbd_a), float(fit.bgnbd_b))  # type: ignore[arg-type]
    p = bgnbd_probability_of_n_purchases(params, 12 * UNITS_PER_MONTH, PURCHASE_COUNTS_SHOWN - 1)
    shown = [(str(n), format_percent(float(v), decimals=1)) for n, v in enumerate(p)]
    return (*shown, (f"{PURCHASE_COUNTS_SHOWN}+", format_percent(max(0.0, 1.0 - float(p.sum())), decimals=1)))


def _significant(value: float) -> str:
    """Four significant digits in the active language's number format."""
    if value == 0 or not math.isfinite(value):
        return formats.number_format(value, 0, use_l10n=True)
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return formats.number_format(round(value, decimals), decimals, use_l10n=True, force_grouping=True)


def _purchase_parameters(fit: PredictiveFit) -> tuple[tuple[str, str, str], ...]:
    """The purchase model's parameters in its own order, with their standard errors."""
    model = PurchaseModel(fit.model) if fit.model else PurchaseModel.BGNBD
    values = fit.model_params or {"r": fit.bgnbd_r, "alpha": fit.bgnbd_alpha, "a": fit.bgnbd_a, "b": fit.bgnbd_b}
    return _parameters(fit, model.value, {name: values.get(name) for name in PARAM_NAMES[model]})


def _parameters(fit: PredictiveFit, model: str, values: dict[str, float | None]) -> tuple[tuple[str, str, str], ...]:
    errors = (fit.standard_errors or {}).get(model, {})
    return tuple((name, _significant(value), _significant(errors[name]) if name in errors else "–")
                 for name, value in values.items() if value is not None)
