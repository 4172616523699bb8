"""First-purchase cohorts' survival by months since the first purchase (METRICS.md, "Customer-based
valuation"): the share not yet lapsed for the first time.

With the activity window W a customer whose first purchase is in month c is active at least until
c + W - 1; their first lapse is the month after the end of their first active interval (purchase
months closer than W months apart chain into one interval). Survival is therefore counted from
month W on: period 0 is month W - 1 since the first purchase (everybody still there), period t is
month W - 1 + t. A cohort is observed up to the latest month of the data; customers who have not
lapsed by then are right-censored survivors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CohortSurvival:
    cohort_month: int
    # survivors[t]: customers not yet lapsed at period t (t = 0 .. observed periods).
    survivors: tuple[int, ...]


def cohort_survivors(rows: Iterable[tuple[int, int | None, int]], *, last_month: int, window: int,
                     first_cohort: int) -> list[CohortSurvival]:
    """rows: (cohort month, first-lapse month or None when not lapsed, customers). Cohorts before
    `first_cohort` (the warm-up, whose "first" purchases include older customers') and cohorts
    observed for no period after period 0 are left out."""
    by_cohort: dict[int, dict[int | None, int]] = {}
    for cohort, lapse, count in rows:
        by_cohort.setdefault(int(cohort), {})
        key = None if lapse is None or lapse > last_month else int(lapse)
        by_cohort[int(cohort)][key] = by_cohort[int(cohort)].get(key, 0) + int(count)
    out = []
    for cohort in sorted(by_cohort):
        periods = last_month - cohort - window + 1
        if cohort < first_cohort or periods < 1:
            continue
        lapses = by_cohort[cohort]
        size = sum(lapses.values())
        lost = np.zeros(periods + 1, dtype=np.int64)
        for lapse, count in lapses.items():
            if lapse is None:
                continue
            # A lapse in month c + W - 1 + t is a loss in period t (t >= 1 by construction).
            period = lapse - cohort - window + 1
            if 1 <= period <= periods:
                lost[period] += count
        out.append(CohortSurvival(cohort, tuple(int(v) for v in size - np.cumsum(lost))))
    return out


def pooled_survival(cohorts: list[CohortSurvival]) -> tuple[FloatArray, FloatArray]:
    """The actual curve of all cohorts together (Kaplan-Meier): in each period, the share of the
    customers still at risk (in cohorts observed that long) who are not lost; returns S(0..T) and
    the customers at risk per period."""
    if not cohorts:
        return np.array([1.0]), np.array([0.0])
    t_max = max(len(c.survivors) for c in cohorts) - 1
    at_risk = np.zeros(t_max + 1)
    lost = np.zeros(t_max + 1)
    for c in cohorts:
        s = np.asarray(c.survivors, dtype=np.float64)
        at_risk[0] += s[0]
        at_risk[1:len(s)] += s[:-1]
        lost[1:len(s)] += s[:-1] - s[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(at_risk[1:] > 0, 1.0 - lost[1:] / at_risk[1:], 1.0)
    return np.concatenate([[1.0], np.cumprod(step)]), at_risk
