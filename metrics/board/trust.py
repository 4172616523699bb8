"""What the board says so that a number is not misread (METRICS.md v2):

- the warm-up months F .. F + W - 1, where nobody can lapse yet (shaded on every time series);
- the months where the retention source changes (assumed -> measured), marked on the charts;
- a scope whose retention leans on its prior (few customer-months of exposure);
- why a segment's CAC differs from the company's;
- a closed month's published figures and how they were restated since.

Pure presenters: plain rows (dicts of snapshot values) in, texts and dataclasses out.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from clv_dashboard.formatting import format_money, format_month, format_percent
from metrics.calculations import leans_on_prior, month_from_index, month_index
from metrics.closing.selectors import Restatement
from metrics.closing.services import closer_label

MEASURED, ASSUMED, COMPANY_SOURCE = "measured", "assumed", "company"


@dataclass(frozen=True)
class WarmUp:
    """The warm-up months, first and last (inclusive)."""

    first: dt.date
    last: dt.date

    def contains(self, month: dt.date) -> bool:
        return self.first <= month <= self.last

    def caption(self) -> str:
        return _(
            "Shaded: the warm-up, %(first)s to %(last)s: too early for anyone to have lapsed, so retention is "
            "assumed there and new customers include older ones. Its figures are drawn dotted or paler: the step "
            "where it ends is the change to measured retention, not growth."
        ) % {"first": format_month(self.first), "last": format_month(self.last)}


    def notice(self) -> str:
        return _(
            "The data start in %(first)s, and a customer lapses only after the activity window: until "
            "%(measured)s nobody can have lapsed, so retention is assumed and new customers include customers "
            "who bought before the data begin."
        ) % {"first": format_month(self.first),
             "measured": format_month(month_from_index(month_index(self.last) + 1))}


def warm_up_of(*, first_month: dt.date | None, activity_window: int) -> WarmUp | None:
    """F .. F + W - 1, or None without data."""
    if first_month is None or activity_window < 1:
        return None
    first = month_index(first_month)
    return WarmUp(first=first_month, last=month_from_index(first + activity_window - 1))


@dataclass(frozen=True)
class SourceChange:
    month: dt.date
    before: str
    after: str

    def label(self) -> str:
        if self.after == MEASURED:
            return _("Retention measured from here")
        if self.after == COMPANY_SOURCE:
            return _("Company's rate from here")
        return _("Retention assumed from here")


def source_changes(series: Sequence[Mapping[str, Any]]) -> list[SourceChange]:
    """The months whose retention source differs from the month before."""
    out = []
    for before, row in itertools.pairwise(series):
        if row["retention_source"] != before["retention_source"]:
            out.append(SourceChange(month=row["month"], before=before["retention_source"],
                                    after=row["retention_source"]))
    return out


def is_leaning(row: Mapping[str, Any]) -> bool:
    """The scope's measured r leans on its prior: E < 10 k customer-months."""
    return row["retention_source"] == MEASURED and leans_on_prior(
        exposure=int(row["retention_exposure"]), credibility_weight=int(row["assumption_set__credibility_weight"]))


def leaning_text(row: Mapping[str, Any], *, company: bool) -> str:
    values = {"exposure": f"{int(row['retention_exposure']):,}", "k": row["assumption_set__credibility_weight"]}
    if company:
        return _("Few customers: leaning on the assumed retention (E = %(exposure)s customer-months, k = %(k)s).") % values
    return _("Few customers: leaning on the company's rate (E = %(exposure)s customer-months, k = %(k)s).") % values


def retention_note(row: Mapping[str, Any], *, company: bool, warm_up: WarmUp | None) -> tuple[str, str]:
    """The retention tile's note and its tone ("warn" or "")."""
    source = row["retention_source"]
    rate = format_percent(row["retention_rate"])
    if source == MEASURED:
        if is_leaning(row):
            return leaning_text(row, company=company), "warn"
        monthly = row["monthly_retention"]
        if monthly is None:
            return _("Measured over the last months; this month had no customers at its start."), ""
        return _("Measured, smoothed; this month alone: %(value)s") % {"value": format_percent(monthly)}, ""
    if source == COMPANY_SOURCE:
        return _("No customer-months of its own to measure yet: the company's rate, %(value)s.") % {"value": rate}, "warn"
    if row["assumption_set__retention_source"] == ASSUMED:
        return _("Assumed: the assumptions set retention to %(value)s.") % {"value": rate}, "warn"
    if warm_up is not None and warm_up.contains(row["month"]):
        return _(
            "Warm-up month: nobody can have lapsed yet, so retention is the assumed %(value)s until %(first)s."
        ) % {"value": rate, "first": format_month(month_from_index(month_index(warm_up.last) + 1))}, "warn"
    return _("Assumed (%(value)s): no customers at the start of the observable months yet.") % {"value": rate}, "warn"


def cac_note(row: Mapping[str, Any], *, company_row: Mapping[str, Any] | None) -> str:
    """Why a segment's CAC differs from the company's (METRICS.md, Segments)."""
    if row["cac"] is None:
        return _("No new customers this month.")
    if company_row is None or company_row.get("cac") is None or row["cac"] == company_row["cac"]:
        return ""
    return _(
        "The company's CAC is %(company)s. A segment's CAC is its share of the untagged acquisition cost "
        "(shared by new customers, so the same per new customer in every segment) plus the cost tagged to "
        "this segment, divided by its new customers."
    ) % {"company": format_money(company_row["cac"], decimals=2)}


# Tiles whose figure a restatement splits (METRICS.md: money metrics and customer counts).
RESTATED_TILES = ("customer_equity", "clv", "customers_end", "acquisition_equity", "retention_equity", "cac")


@dataclass(frozen=True)
class TileRestatement:
    published: str
    change: str  # "" when not restated
    parts: str


def _signed(value: Decimal, *, money: bool, decimals: int) -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    body = format_money(abs(value), decimals=decimals) if money else f"{int(abs(value)):,}"
    return sign + body


def tile_restatement(metric: str, restatement: Restatement) -> TileRestatement | None:
    split = restatement.splits.get(metric)
    if split is None or split.published is None:
        return None
    money = metric != "customers_end"
    decimals = 2 if metric in ("clv", "cac") else 0
    published = format_money(split.published, decimals=decimals) if money else f"{int(split.published):,}"
    total = split.total
    if not total or split.data is None or split.assumptions is None:
        return TileRestatement(published=published, change="", parts="")
    parts = _("data %(data)s, assumptions %(assumptions)s") % {
        "data": _signed(split.data, money=money, decimals=decimals),
        "assumptions": _signed(split.assumptions, money=money, decimals=decimals)}
    return TileRestatement(published=published, change=_signed(total, money=money, decimals=decimals), parts=parts)


def referral_restatement(restatement: Restatement) -> TileRestatement | None:
    """The referrals tile's line on a closed month: the referred new customers as published and
    their restatement since (the tile's rate and share are shares, which are not split, like the
    retention rate). None for a month closed before referral figures were published."""
    split = restatement.splits.get("referred_new_customers")
    if split is None or split.published is None:
        return None
    published = _("%(count)s referred") % {"count": f"{int(split.published):,}"}
    total = split.total
    if not total or split.data is None or split.assumptions is None:
        return TileRestatement(published=published, change="", parts="")
    parts = _("data %(data)s, assumptions %(assumptions)s") % {
        "data": _signed(split.data, money=False, decimals=0),
        "assumptions": _signed(split.assumptions, money=False, decimals=0)}
    return TileRestatement(published=published, change=_signed(total, money=False, decimals=0), parts=parts)


def close_summary(restatement: Restatement) -> str:
    """One line on a closed month: when, by whom, under which version, and whether restated."""
    close = restatement.close
    values = {"month": format_month(close.month), "when": f"{close.closed_at:%Y-%m-%d}",
              "who": closer_label(close.closed_by_name), "version": close.assumption_set.version}
    text = _("%(month)s was closed on %(when)s by %(who)s, with assumptions v%(version)s.") % values
    if restatement.restated:
        equity = restatement.splits["customer_equity"]
        text += " " + _(
            "Its figures have been restated since: customer equity was published as %(published)s and is now "
            "%(current)s (data %(data)s, assumptions %(assumptions)s)."
        ) % {"published": format_money(equity.published, decimals=0),
             "current": format_money(equity.current, decimals=0),
             "data": _signed(equity.data or Decimal(0), money=True, decimals=0),
             "assumptions": _signed(equity.assumptions or Decimal(0), money=True, decimals=0)}
    else:
        text += " " + _("Its figures are unchanged since.")
    return text
