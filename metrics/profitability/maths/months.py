"""Month by month profitability, pure: per segment group shares, scope totals per month, and one
customer's months (METRICS.md, "Customer profitability"; docs/profitability.md, "Monthly totals").

The share an entry of month m gives one customer depends only on who is new, active and buying
in m, never on the later month t the figures run to. So each month's contribution to a scope
is its customers' shares of that month's entries, and the totals to date at every month are
running sums of those contributions. A customer's shares are those of their segment group (the
four scope values at once):
- a: per new customer of the group in m (acquisition),
- v: per active customer at the close of m (retention, equal shares),
- u: per purchase in m (retention, driver `purchase`, when the entry's customers bought in m).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .allocation import ACQUISITION, DIMENSIONS, DRIVER_EQUAL, DRIVER_PURCHASE, ERROR_UNKNOWN_DRIVER, RETENTION

COMPANY = "company"
CENT = Decimal("0.01")
# As the SQL: exact sums are cut to 10 decimals before the one rounding to cents.
SNAP = Decimal("1e-10")
TOTAL_COLUMNS = [
    "scope_dimension", "scope_value", "m", "margin_to_date", "acquisition_cost_allocated",
    "retention_cost_allocated", "acquisition_cost_unallocated", "retention_cost_unallocated",
]


def money(value: float | Decimal) -> Decimal:
    """An exact (or float) sum rounded half up to cents once, as the stored figures are."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(round(float(value), 8)))
    return exact.quantize(SNAP, rounding=ROUND_HALF_UP).quantize(CENT, rounding=ROUND_HALF_UP)


def _applies(frame: pd.DataFrame, *, dimension: str, value: str) -> np.ndarray:
    if not dimension:
        return np.ones(len(frame), dtype=bool)
    return (frame[dimension] == value).to_numpy()


def group_shares(*, customers: pd.DataFrame, activity: pd.DataFrame, entries: pd.DataFrame,
                 driver: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shares, unallocated): per group (DIMENSIONS columns) and month m the shares a, v, u one
    customer of the group takes; and the entries (m, kind, dimension, value, amount) that apply
    to nobody. Inputs as metrics.profitability.maths.allocate."""
    if driver not in (DRIVER_EQUAL, DRIVER_PURCHASE):
        raise ValueError(ERROR_UNKNOWN_DRIVER.format(driver=driver))
    groups = customers[DIMENSIONS].drop_duplicates().reset_index(drop=True)
    attributes = customers.set_index("customer_id")[DIMENSIONS]
    active = activity.join(attributes, on="customer_id")
    active_by_month = {int(m): frame for m, frame in active.groupby("m")}
    first_m = customers["first_m"].to_numpy(dtype=float)
    rows: dict[tuple[int, int], list[float]] = {}
    unallocated: list[tuple[int, str, str, str, float]] = []
    for m, kind, dimension, value, amount in entries[["m", "kind", "dimension", "value", "amount"]].itertuples(
        index=False, name=None
    ):
        amount = float(amount)
        where = np.flatnonzero(_applies(groups, dimension=dimension, value=value))
        column, share = 0, 0.0
        if kind == ACQUISITION:
            n = int(((first_m == m) & _applies(customers, dimension=dimension, value=value)).sum())
            share = amount / n if n else 0.0
        else:
            month_frame = active_by_month.get(int(m))
            applying = (month_frame.loc[_applies(month_frame, dimension=dimension, value=value)]
                        if month_frame is not None else None)
            n = 0 if applying is None else len(applying)
            purchases = 0 if applying is None else int(applying["purchases"].sum())
            if driver == DRIVER_PURCHASE and purchases > 0:
                column, share = 2, amount / purchases
            else:
                column, share = 1, (amount / n if n else 0.0)
        if n == 0:
            unallocated.append((int(m), str(kind), str(dimension), str(value), amount))
            continue
        for g in where:
            rows.setdefault((int(g), int(m)), [0.0, 0.0, 0.0])[column] += share
    records = [(*groups.iloc[g].tolist(), m, a, v, u) for (g, m), (a, v, u) in sorted(rows.items())]
    shares = pd.DataFrame(records, columns=[*DIMENSIONS, "m", "a", "v", "u"])
    return shares, pd.DataFrame(unallocated, columns=["m", "kind", "dimension", "value", "amount"])


def monthly_totals(*, customers: pd.DataFrame, activity: pd.DataFrame, margins: pd.DataFrame,
                   shares: pd.DataFrame, unallocated: pd.DataFrame, first_month: int,
                   last_month: int) -> pd.DataFrame:
    """TOTAL_COLUMNS for the company and every segment and every month first..last: margin and
    allocated costs to date (float sums of the customers' shares), and the entries to date that
    applied to nobody. `margins`: customer_id, m, margin (their gross margin of month m)."""
    attributes = customers.set_index("customer_id")[DIMENSIONS]
    keyed = shares.set_index([*DIMENSIONS, "m"])
    per_customer: list[pd.DataFrame] = []
    new = customers.loc[customers["first_m"].notna(), ["customer_id", *DIMENSIONS, "first_m"]]
    new = new.assign(m=new["first_m"].astype("int64"))
    acq = new.join(keyed["a"], on=[*DIMENSIONS, "m"])
    per_customer.append(acq.assign(margin=0.0, acq=acq["a"].fillna(0.0), ret=0.0))
    act = activity.join(attributes, on="customer_id").join(keyed[["v", "u"]], on=[*DIMENSIONS, "m"])
    ret = act["v"].fillna(0.0) + act["purchases"] * act["u"].fillna(0.0)
    per_customer.append(act.assign(margin=0.0, acq=0.0, ret=ret))
    mg = margins.join(attributes, on="customer_id")
    per_customer.append(mg.assign(acq=0.0, ret=0.0))
    rows = pd.concat([f[[*DIMENSIONS, "m", "margin", "acq", "ret"]] for f in per_customer], ignore_index=True)
    rows = rows.loc[rows["m"] <= last_month]
    months = range(first_month, last_month + 1)
    out: list[pd.DataFrame] = []
    scopes: list[tuple[str, str, pd.DataFrame]] = [(COMPANY, "", rows)]
    for d in DIMENSIONS:
        for value in sorted(customers[d].unique()):
            scopes.append((d, str(value), rows.loc[rows[d] == value]))
    for dimension, value, frame in scopes:
        monthly = frame.groupby("m")[["margin", "acq", "ret"]].sum().reindex(months, fill_value=0.0)
        # Contributions of months before the first (none: nobody is active then) are kept out.
        cumulative = monthly.cumsum()
        mine = unallocated if dimension == COMPANY else unallocated.loc[
            (unallocated["dimension"] == dimension) & (unallocated["value"] == value)]
        un = {kind: [float(mine.loc[(mine["kind"] == kind) & (mine["m"] <= m), "amount"].sum()) for m in months]
              for kind in (ACQUISITION, RETENTION)}
        out.append(pd.DataFrame({
            "scope_dimension": dimension, "scope_value": value, "m": list(months),
            "margin_to_date": cumulative["margin"].to_numpy(), "acquisition_cost_allocated": cumulative["acq"].to_numpy(),
            "retention_cost_allocated": cumulative["ret"].to_numpy(),
            "acquisition_cost_unallocated": un[ACQUISITION], "retention_cost_unallocated": un[RETENTION],
        }))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=TOTAL_COLUMNS)


@dataclass(frozen=True)
class CustomerMonth:
    """One month of one customer: their margin and allocated costs of the month (rounded to
    cents, for reading) and their figures to date (exact sums rounded once, as stored)."""

    m: int
    active: bool
    purchases: int
    margin: Decimal
    acquisition_cost: Decimal
    retention_cost: Decimal
    margin_to_date: Decimal
    acquisition_cost_to_date: Decimal
    retention_cost_to_date: Decimal
    net_profit_to_date: Decimal


def customer_months(*, months: Mapping[int, tuple[int, Decimal]], window: int, last_month: int,
                    shares: Mapping[int, tuple[Decimal, Decimal, Decimal]]) -> list[CustomerMonth]:
    """One customer's months up to `last_month` in which they had a transaction or were active:
    `months` maps a month to (purchases, gross margin) of their transactions in it, `shares` a
    month to their group's (a, v, u). Their acquisition share is that of their first purchase
    month; their retention share in a month they are active at the close of is v plus their
    purchases x u."""
    bought = sorted(m for m, (purchases, _margin) in months.items() if purchases > 0 and m <= last_month)
    first = bought[0] if bought else None
    active: set[int] = set()
    for m in bought:
        active.update(range(m, min(m + window - 1, last_month) + 1))
    zero = Decimal(0)
    margin_sum = acq_sum = ret_sum = zero
    out: list[CustomerMonth] = []
    for m in sorted(set(months) | active):
        if m > last_month:
            continue
        purchases, margin = months.get(m, (0, zero))
        a, v, u = shares.get(m, (zero, zero, zero))
        acq = a if m == first else zero
        ret = (v + purchases * u) if m in active else zero
        margin_sum += margin
        acq_sum += acq
        ret_sum += ret
        margin_to_date = margin_sum.quantize(CENT, rounding=ROUND_HALF_UP)
        acq_to_date, ret_to_date = money(acq_sum), money(ret_sum)
        out.append(CustomerMonth(
            m=m, active=m in active, purchases=int(purchases), margin=money(margin), acquisition_cost=money(acq),
            retention_cost=money(ret), margin_to_date=margin_to_date, acquisition_cost_to_date=acq_to_date,
            retention_cost_to_date=ret_to_date, net_profit_to_date=margin_to_date - acq_to_date - ret_to_date,
        ))
    return out


def shares_lookup(rows: Iterable[tuple[int, Decimal, Decimal, Decimal]]) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    return {int(m): (Decimal(a), Decimal(v), Decimal(u)) for m, a, v, u in rows}
