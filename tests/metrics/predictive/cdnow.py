"""The CDNOW sample fixture (tests/data/cdnow/README.md) and the published results on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END = dt.date(1997, 9, 30)
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
PUBLISHED_EY39 = 1.226  # E[Y(39) | x = 2, t_x = 30.43, T = 38.86]


def sample_transactions() -> pd.DataFrame:
    """customer_id (the sample id), order_date, cds, revenue: one row per line of the file."""
    frame = pd.read_csv(
        SAMPLE, sep=r"\s+", header=None, names=["master_id", "customer_id", "date", "cds", "revenue"],
        dtype={"master_id": str, "customer_id": int, "date": str},
    )
    frame["order_date"] = pd.to_datetime(frame["date"], format="%Y%m%d").dt.date
    return frame[["customer_id", "order_date", "cds", "revenue"]]


def published_inputs_by_hand() -> dict[int, tuple[int, float, float, float]]:
    """The published derivation (data README), written as plain loops over the raw file:
    customer -> (frequency, t_x, T, mean repeat-day spend), calibration period only."""
    days: dict[int, dict[dt.date, float]] = {}
    for line in SAMPLE.read_text().splitlines():
        if not line.strip():
            continue
        _, customer, date, _, value = line.split()
        day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        if day > CALIBRATION_END:
            continue
        per_day = days.setdefault(int(customer), {})
        per_day[day] = per_day.get(day, 0.0) + float(value)
    out: dict[int, tuple[int, float, float, float]] = {}
    for customer_id, per_day in days.items():
        ordered = sorted(per_day)
        first, last = ordered[0], ordered[-1]
        repeat = [per_day[d] for d in ordered[1:]]
        mean_repeat = sum(repeat) / len(repeat) if repeat else 0.0
        out[customer_id] = (len(ordered) - 1, (last - first).days / 7, (CALIBRATION_END - first).days / 7, mean_repeat)
    return out
