"""The whale curve (Kaplan & Cooper): customers ranked by net profit, highest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WhaleCurve:
    """x: cumulative share of customers (0..1), y: cumulative net profit as a share of the total
    net profit (None when the total is not positive: the curve has no meaning then). The peak
    of y, the share of customers at the peak, and the loss-makers and what they lose."""

    x: list[float]
    y: list[float] | None
    peak: float | None
    peak_share: float | None
    customers: int
    total_net_profit: float
    loss_making_customers: int
    loss: float


def whale_curve(net_profits: Sequence[float]) -> WhaleCurve:
    values = np.sort(np.asarray(net_profits, dtype=float))[::-1]
    n = len(values)
    losses = values[values < 0]
    total = float(values.sum()) if n else 0.0
    x = [float(v) for v in np.arange(1, n + 1) / n] if n else []
    if n == 0 or total <= 0:
        return WhaleCurve(x=x, y=None, peak=None, peak_share=None, customers=n, total_net_profit=total,
                          loss_making_customers=len(losses), loss=float(losses.sum()))
    cumulative = np.cumsum(values) / total
    top = int(np.argmax(cumulative))
    return WhaleCurve(
        x=x, y=[float(v) for v in cumulative], peak=float(cumulative[top]), peak_share=float((top + 1) / n),
        customers=n, total_net_profit=total, loss_making_customers=len(losses), loss=float(losses.sum()),
    )
