"""The Model check: the holdout validation of every model for one split, computed once per data
version and kept in the cache.

model_check_get:
1. Returns the cached result of this split under the current data version, if any.
2. Otherwise computes it in the request when the history is small (a few seconds at most),
   else queues the Celery task `model_check_compute` once per split and data version and
   returns None: the page says the check is being computed and reloads.
A split the history cannot support is a result too (its reason), so it is not recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from customers.models import Customer
from metrics.board.selectors import board_data_version
from metrics.services import assumptions_ensure

from ..maths.errors import Message
from .maths import HoldoutError, ValidationReport, calibration_end_for, holdout_validate
from .selectors import holdout_inputs_read, purchase_history_bounds

logger = logging.getLogger(__name__)
CACHE_SECONDS = 24 * 3600
# Above this many customers the check runs in the worker, not in the request.
INLINE_CUSTOMERS = 50_000


@dataclass(frozen=True)
class Split:
    calibration_end: dt.date
    holdout_end: dt.date


@dataclass(frozen=True)
class ModelCheckResult:
    split: Split
    report: ValidationReport | None
    error: Message | None = None


def split_default(*, calibration_end: dt.date | None = None, holdout_end: dt.date | None = None) -> Split | None:
    """The split to show: the given dates, else the one `auto` uses (the last share of the purchase
    history, from the assumptions, held out up to the latest purchase). None without purchases."""
    first, last = purchase_history_bounds()
    if first is None or last is None:
        return None
    end = holdout_end or last
    if calibration_end is None:
        share = float(assumptions_ensure().model_holdout_share)
        calibration_end = calibration_end_for(first_day=first, last_day=end, holdout_share=share)
    return Split(calibration_end=calibration_end, holdout_end=end)


def _key(split: Split, suffix: str = "") -> str:
    raw = "\x1f".join([settings.CLV_DATA_CACHE_SALT, board_data_version(), split.calibration_end.isoformat(),
                       split.holdout_end.isoformat(), suffix])
    return f"clv:modelcheck:{hashlib.sha256(raw.encode()).hexdigest()}"


def model_check_compute(*, split: Split) -> ModelCheckResult:
    """Validate every model on this split and cache the result under the data version."""
    margin_rate = float(assumptions_ensure().default_gross_margin_rate)
    try:
        inputs = holdout_inputs_read(calibration_end=split.calibration_end, holdout_end=split.holdout_end,
                                     default_margin_rate=margin_rate)
        result = ModelCheckResult(split=split, report=holdout_validate(inputs))
    except HoldoutError as error:
        result = ModelCheckResult(split=split, report=None, error=error.message)
    cache.set(_key(split), result, CACHE_SECONDS)
    return result


def model_check_get(*, split: Split) -> ModelCheckResult | None:
    """The result for this split, or None while the worker computes it (module docstring)."""
    cached = cache.get(_key(split))
    if isinstance(cached, ModelCheckResult):
        return cached
    limit = int(getattr(settings, "CLV_MODEL_CHECK_INLINE_CUSTOMERS", INLINE_CUSTOMERS))
    if Customer.objects.count() <= limit:
        return model_check_compute(split=split)
    from clv_dashboard.background import task_send

    from .tasks import model_check_compute as task

    # One queued computation per split and data version.
    if cache.add(_key(split, "queued"), True, 600):
        kwargs = {"calibration_end": split.calibration_end.isoformat(), "holdout_end": split.holdout_end.isoformat()}
        if not task_send(task, kwargs=kwargs):
            cache.delete(_key(split, "queued"))
            return model_check_compute(split=split)
    # An in-process worker (eager tasks) has already stored it.
    done = cache.get(_key(split))
    return done if isinstance(done, ModelCheckResult) else None
