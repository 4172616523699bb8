""""How was this computed?": the inputs, assumptions and formulas behind one stored snapshot.

Every step is data: a label, the stored value and a list of lines. A line is a list of parts
(text, or a number), of one kind:
- `formula`: the formula in words and symbols;
- `numbers`: "= <expression> = <result>", the formula with the month's numbers put in;
- `rounding`: "<unrounded>… → <rounded>", where a stored figure is rounded to cents;
- `note`: words (why retention is assumed, why a figure is missing).

Numbers and rounding lines add up: evaluating the shown operands with a calculator gives the
shown result (rounded half up to the digits it shows, or cut off where it ends in "…"). The
stored figures are computed from unrounded intermediates (margin, retention, CLV, CAC), so
these are shown cut off with as many decimals as the lines need (explanation_build raises
them until every line reproduces), and each rounding to cents is a line of its own.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from .calculations import clv as clv_formula
from .calculations import month_index, monthly_discount_rate
from .models import COMPANY, MonthlySnapshot
from .selectors import snapshot_window, snapshots_first_month

FORMULA, NUMBERS, ROUNDING, NOTE = "formula", "numbers", "rounding", "note"
ELLIPSIS = "…"
MINUS = "−"
TIMES = "×"
# Decimals of the unrounded intermediates: where they start, and the most ever shown.
START_DIGITS = 4
MAX_DIGITS = 15
CENT = Decimal("0.01")


def decimal_of(value: Decimal | float | int) -> Decimal:
    """A number as a Decimal: floats by their shortest repr (what Python prints)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


@dataclass
class Quantity:
    """A number the explanation shows.

    Fixed quantities (counts, stored amounts, assumptions, stored results) are shown with
    `digits` decimals, rounded half up. Unrounded intermediates (`cut`) are shown cut off
    after `digits` decimals, followed by "…" when digits are left out."""

    value: Decimal
    digits: int
    cut: bool = False

    def shown(self) -> Decimal:
        step = Decimal(1).scaleb(-self.digits)
        return self.value.quantize(step, rounding=ROUND_DOWN if self.cut else ROUND_HALF_UP)

    def text(self) -> str:
        shown = self.shown()
        digits = self.digits
        if self.cut and shown == self.value:
            # An exact value shows no trailing zeros past the cents: 248.635, not 248.6350.
            digits = max(min(2, digits), -int(shown.normalize().as_tuple().exponent))
        number = formats.number_format(abs(shown), digits, use_l10n=True, force_grouping=True)
        sign = MINUS if shown < 0 else ""
        more = ELLIPSIS if self.cut and shown != self.value else ""
        return f"{sign}{number}{more}"


def count(value: int) -> Quantity:
    return Quantity(Decimal(int(value)), 0)


def amount(value: Decimal | float) -> Quantity:
    return Quantity(decimal_of(value), 2)


def exact(value: Decimal | float) -> Quantity:
    """A number shown with all its digits (an assumption such as 0.1)."""
    d = decimal_of(value).normalize()
    return Quantity(d, max(0, -int(d.as_tuple().exponent)))


def unrounded(value: Decimal | float) -> Quantity:
    return Quantity(decimal_of(value), START_DIGITS, cut=True)


def ratio(numerator: Decimal | int, denominator: Decimal | int, computed: float | None = None) -> Decimal:
    """numerator / denominator exactly (to 40 digits), not the float nearest to it: 3,913.45 / 40
    is 97.83625, where the float is 97.83624999999999. With `computed` (the float the recompute
    stored) the exact ratio is used only when that float is the ratio but for its last bits."""
    with localcontext() as context:
        context.prec = 40
        value = Decimal(numerator) / Decimal(denominator)
    if computed is not None and not math.isclose(float(value), float(computed), rel_tol=1e-12, abs_tol=1e-15):
        return decimal_of(computed)
    return value


Part = str | Quantity


@dataclass
class Line:
    kind: str
    parts: list[Part]

    def as_json(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [
            {"text": p.text(), "num": True} if isinstance(p, Quantity) else {"text": p, "num": False}
            for p in self.parts
        ]
        return {"kind": self.kind, "parts": parts, "text": "".join(str(p["text"]) for p in parts)}

    def quantities(self) -> list[Quantity]:
        return [p for p in self.parts if isinstance(p, Quantity)]


def formula(text: str) -> Line:
    return Line(FORMULA, [text])


def note(text: str) -> Line:
    return Line(NOTE, [text])


def numbers(*expression: Part, result: Quantity) -> Line:
    """ "= <expression> = <result>"; strings in the expression are operators and brackets."""
    return Line(NUMBERS, ["= ", *expression, " = ", result])


def rounding(before: Quantity, after: Quantity, words: str) -> Line:
    return Line(ROUNDING, [before, " → ", after, f" ({words})"])


@dataclass
class Step:
    metric: str
    label: str
    value: float | int | None
    lines: list[Line] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        lines = [line.as_json() for line in self.lines]
        # The value shown is the stored one: the result of the last numbers line, or the rounded
        # figure of a rounding line that ends the step (the margin: 40.04, not 40.0426…).
        result = None
        for line in reversed(lines):
            if line["kind"] in (NUMBERS, ROUNDING):
                nums = [p["text"] for p in line["parts"] if p["num"]]
                result = nums[-1] if line["kind"] == NUMBERS else nums[1]
                break
        return {
            "metric": self.metric,
            "label": self.label,
            "formula": next((line["text"] for line in lines if line["kind"] == FORMULA), ""),
            "lines": lines,
            "value": self.value,
            "display": result if result is not None else ("–" if self.value is None else str(self.value)),
        }


# --- the calculator: what a reader checking a line by hand gets ---------------------------------

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?…?")
_ALLOWED = re.compile(r"^[\sn\d+\-*/().]*$")


def _parse_number(text: str) -> tuple[Decimal, int, bool]:
    """(value, decimals shown, cut off) of a shown number such as 1,234.5678…"""
    cut = text.endswith(ELLIPSIS)
    plain = text.rstrip(ELLIPSIS).replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return Decimal(plain), decimals, cut


def _evaluate(expression: str) -> Decimal:
    """Evaluate a shown expression (× − ^, grouped numbers) exactly, in Decimal arithmetic."""
    values: list[Decimal] = []

    def name(match: re.Match[str]) -> str:
        values.append(_parse_number(match.group(0))[0])
        return f"n{len(values) - 1}"

    text = _NUMBER.sub(name, expression).replace(TIMES, "*").replace(MINUS, "-").replace("^", "**")
    if not _ALLOWED.match(text.replace("**", "*")):
        raise ValueError(f"not an expression: {expression!r}")

    def walk(node: ast.AST) -> Decimal:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Name):
            return values[int(node.id[1:])]
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return Decimal(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            operations: dict[type, Callable[[Decimal, Decimal], Decimal]] = {
                ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b,
            }
            return operations[type(node.op)](left, right)
        raise ValueError(f"not an expression: {expression!r}")

    with localcontext() as context:
        context.prec = 50
        return walk(ast.parse(text, mode="eval"))


def _signed(text: str) -> Decimal:
    value = _parse_number(text.lstrip(MINUS))[0]
    return -value if text.startswith(MINUS) else value


def _agrees(value: Decimal, shown: str) -> bool:
    """Does `value` show as `shown`: rounded half up to its decimals, or cut off where it ends in …?"""
    target, decimals, cut = _parse_number(shown.lstrip(MINUS))
    target = -target if shown.startswith(MINUS) else target
    step = Decimal(1).scaleb(-decimals)
    got = value.quantize(step, rounding=ROUND_DOWN if cut else ROUND_HALF_UP)
    return got == target


def line_reproduces(line: dict[str, Any]) -> bool:
    """Whether a rendered numbers or rounding line gives its shown result (other lines: True)."""
    text: str = line["text"]
    if line["kind"] == NUMBERS:
        expression, result = text.removeprefix("= ").rsplit(" = ", 1)
        return _agrees(_evaluate(expression), result)
    if line["kind"] == ROUNDING:
        nums = [p["text"] for p in line["parts"] if p["num"]]
        return _agrees(_signed(nums[0]), nums[1])
    return True


def _line_value(line: Line) -> Decimal | None:
    """What a numbers line's expression evaluates to as shown (None for other lines)."""
    if line.kind != NUMBERS:
        return None
    expression = line.as_json()["text"].removeprefix("= ").rsplit(" = ", 1)[0]
    return _evaluate(expression)


def _settle(steps: Iterable[Step]) -> None:
    """Show each cut-off number with as few decimals as every line needs to reproduce.

    For a line that does not reproduce, one more decimal goes to the cut-off operand whose
    cutting moves the line's value most (the retention rate, in the CLV line), or to the
    line's result when it is the cut-off one; repeated until every line reproduces."""
    lines = [line for step in steps for line in step.lines if line.kind in (NUMBERS, ROUNDING)]
    for _attempt in range(MAX_DIGITS * 8):
        failing = [line for line in lines if not line_reproduces(line.as_json())]
        if not failing:
            return
        raised = False
        for line in failing:
            cut = [q for q in line.quantities() if q.cut and q.digits < MAX_DIGITS]
            if not cut:
                continue
            operands, result = cut, None
            last = line.parts[-1]
            if line.kind == NUMBERS and isinstance(last, Quantity) and any(q is last for q in cut):
                result = last
                operands = [q for q in cut if q is not result]
            target = operands[0] if operands else result
            shown = _line_value(line)
            if len(operands) > 1 and shown is not None:
                effects = []
                for q in operands:
                    digits, q.digits = q.digits, MAX_DIGITS
                    effects.append(abs((_line_value(line) or Decimal(0)) - shown))
                    q.digits = digits
                target = operands[max(range(len(operands)), key=lambda i: effects[i])]
            if target is not None:
                target.digits += 1
                raised = True
        if not raised:
            return


# --- the explanation -------------------------------------------------------------------------


def _money(value: float) -> Decimal:
    return decimal_of(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _num(value: Decimal | float | int | None) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value)


def _unrounded_clv(*, snapshot: MonthlySnapshot, margin: float, r: float, d: float) -> float:
    """The CLV behind the stored figures: from the unrounded margin as the recompute does, or
    from the stored (rounded) margin for snapshots that were computed that way."""
    for m in (margin, float(snapshot.margin_per_customer)):
        try:
            value = clv_formula(m, r, d)
        except ValueError:
            break
        if _money(value) == snapshot.clv and _money(value * snapshot.customers_end) == snapshot.customer_equity:
            return value
    return float(snapshot.clv)


def snapshot_explain(*, snapshot: MonthlySnapshot) -> dict[str, Any]:
    """A JSON-serialisable explanation of one snapshot (labels in the active language)."""
    a = snapshot.assumption_set
    annual = float(a.annual_discount_rate)
    d = monthly_discount_rate(annual)
    window = snapshot_window(snapshot=snapshot, months=int(a.smoothing_window_months))
    first = snapshots_first_month()
    since_first = month_index(snapshot.month) - month_index(first) if first else 0
    # R and E: the observable months of the window only (s >= F + W; METRICS.md v2).
    observable_from = (month_index(first) if first else 0) + int(a.activity_window_months)
    observable = [s for s in window if month_index(s.month) >= observable_from]
    retained_sum = sum(s.retained_customers for s in observable)
    start_sum = sum(s.customers_start for s in observable)
    margin_total = sum((s.gross_margin for s in window), Decimal(0))
    end_sum = sum(s.customers_end for s in window)
    prior = _prior_of(snapshot=snapshot)
    r = float(snapshot.retention_rate)
    margin = float(margin_total) / end_sum if end_sum else 0.0
    clv = _unrounded_clv(snapshot=snapshot, margin=margin, r=r, d=d)
    cac = float(snapshot.acquisition_cost) / snapshot.new_customers if snapshot.new_customers else None

    inputs = [
        {"name": "customers_start", "label": _("Customers at start"), "value": snapshot.customers_start},
        {"name": "customers_end", "label": _("Customers at end"), "value": snapshot.customers_end},
        {"name": "new_customers", "label": _("New customers"), "value": snapshot.new_customers},
        {"name": "retained_customers", "label": _("Retained customers"), "value": snapshot.retained_customers},
        {"name": "reactivated_customers", "label": _("Reactivated customers"), "value": snapshot.reactivated_customers},
        {"name": "revenue", "label": _("Revenue"), "value": _num(snapshot.revenue)},
        {"name": "gross_margin", "label": _("Gross margin"), "value": _num(snapshot.gross_margin)},
        {"name": "acquisition_cost", "label": _("Acquisition cost"), "value": _num(snapshot.acquisition_cost)},
        {"name": "retention_cost", "label": _("Retention cost"), "value": _num(snapshot.retention_cost)},
        {"name": "window_months", "label": _("Months in the smoothing window"), "value": len(window)},
        {"name": "window_retained_customers", "label": _("R: retained customers over the observable months of the window"),
         "value": retained_sum},
        {"name": "window_customers_start", "label": _("E: customers at start over the observable months of the window"),
         "value": start_sum},
        {"name": "window_gross_margin", "label": _("Gross margin over the window"), "value": float(margin_total)},
        {"name": "window_customers_end", "label": _("Customers at end over the window"), "value": end_sum},
    ]
    assumptions = [
        {"name": "annual_discount_rate", "label": _("Annual discount rate"), "value": annual},
        {"name": "activity_window_months", "label": _("Activity window W (months)"), "value": a.activity_window_months},
        {"name": "retention_source", "label": _("Retention source"), "value": str(a.get_retention_source_display())},
        {"name": "assumed_monthly_retention", "label": _("Assumed monthly retention"),
         "value": float(a.assumed_monthly_retention)},
        {"name": "smoothing_window_months", "label": _("Smoothing window L (months)"), "value": a.smoothing_window_months},
        {"name": "credibility_weight", "label": _("Retention credibility weight k"), "value": a.credibility_weight},
        {"name": "default_gross_margin_rate", "label": _("Default gross margin rate"),
         "value": float(a.default_gross_margin_rate)},
    ]

    # The unrounded intermediates, each one object so that every line shows it with the same digits.
    with localcontext() as context:
        context.prec = 40
        exact_d = (1 + a.annual_discount_rate) ** (Decimal(1) / Decimal(12)) - 1
    exact_r = decimal_of(r)
    k = int(a.credibility_weight)
    if snapshot.retention_source == "measured" and start_sum:
        exact_r = ratio(retained_sum + k * decimal_of(prior), start_sum + k, r)
    elif float(a.assumed_monthly_retention) == r:
        exact_r = a.assumed_monthly_retention
    q_d, q_r, q_clv = unrounded(exact_d), unrounded(exact_r), unrounded(clv)
    q_m = unrounded(ratio(margin_total, end_sum, margin) if end_sum else Decimal(0))
    q_cac = unrounded(ratio(snapshot.acquisition_cost, snapshot.new_customers)) if cac is not None else None
    rounded_words = _("rounded to cents, as stored")
    s = snapshot

    steps: list[Step] = [
        Step("churned_customers", _("Churned customers"), s.churned_customers, [
            formula("churned_customers = customers_start − retained_customers"),
            numbers(count(s.customers_start), f" {MINUS} ", count(s.retained_customers),
                    result=count(s.churned_customers)),
        ]),
        Step("customers_end", _("Active customers at the end of the month"), s.customers_end, [
            formula("customers_end = customers_start + new_customers + reactivated_customers − churned_customers"),
            numbers(count(s.customers_start), " + ", count(s.new_customers), " + ", count(s.reactivated_customers),
                    f" {MINUS} ", count(s.churned_customers), result=count(s.customers_end)),
        ]),
    ]
    monthly = Step("monthly_retention", _("Monthly retention"), s.monthly_retention,
                   [formula("monthly_retention = retained_customers / customers_start")])
    if s.customers_start:
        monthly.lines.append(numbers(count(s.retained_customers), " / ", count(s.customers_start),
                                     result=unrounded(ratio(s.retained_customers, s.customers_start))))
    else:
        monthly.lines.append(note(_("None: the month had no customers at its start.")))
    steps.append(monthly)
    steps.append(Step("monthly_discount_rate", _("Monthly discount rate d"), d, [
        formula(_("d = (1 + annual rate)^(1/12) − 1")),
        numbers("(1 + ", exact(a.annual_discount_rate), ")^(1/12) ", MINUS, " 1", result=q_d),
    ]))
    steps.append(_retention_step(snapshot=s, r=q_r, retained_sum=retained_sum, start_sum=start_sum,
                                 since_first=since_first, prior=prior))
    margin_step = Step("margin_per_customer", _("Margin per customer m"), _num(s.margin_per_customer),
                       [formula(_("m = Σ gross_margin / Σ customers_end (L months)"))])
    if end_sum:
        margin_step.lines += [
            numbers(amount(margin_total), " / ", count(end_sum), result=q_m),
            rounding(q_m, amount(s.margin_per_customer), rounded_words),
        ]
    else:
        margin_step.lines.append(note(_("No customer was active in the window, so m = 0.")))
    steps.append(margin_step)
    steps.append(Step("clv", _("Customer lifetime value"), float(s.clv), [
        formula(f"CLV = m {TIMES} r / (1 + d − r)"),
        numbers(q_m, f" {TIMES} ", q_r, " / (1 + ", q_d, f" {MINUS} ", q_r, ")", result=amount(s.clv)),
        rounding(q_clv, amount(s.clv), _("CLV before and after rounding to cents; the figures below use it unrounded")),
    ]))
    steps.append(Step("customer_equity", _("Customer equity"), float(s.customer_equity), [
        formula(f"customer_equity = CLV {TIMES} customers_end"),
        numbers(q_clv, f" {TIMES} ", count(s.customers_end), result=amount(s.customer_equity)),
    ]))
    steps.append(Step("acquisition_equity", _("Acquisition equity"), float(s.acquisition_equity), [
        formula(f"acquisition_equity = new_customers {TIMES} CLV − acquisition_cost"),
        numbers(count(s.new_customers), f" {TIMES} ", q_clv, f" {MINUS} ", amount(s.acquisition_cost),
                result=amount(s.acquisition_equity)),
    ]))
    steps.append(Step("retention_equity", _("Retention equity"), float(s.retention_equity), [
        formula(f"retention_equity = retained_customers {TIMES} CLV − retention_cost"),
        numbers(count(s.retained_customers), f" {TIMES} ", q_clv, f" {MINUS} ", amount(s.retention_cost),
                result=amount(s.retention_equity)),
    ]))
    cac_step = Step("cac", _("Customer acquisition cost"), _num(s.cac),
                    [formula("CAC = acquisition_cost / new_customers")])
    ratio_step = Step("clv_to_cac", _("CLV to CAC"), s.clv_to_cac, [formula("clv_to_cac = CLV / CAC")])
    if q_cac is not None and s.cac is not None:
        cac_step.lines += [
            numbers(amount(s.acquisition_cost), " / ", count(s.new_customers), result=amount(s.cac)),
            rounding(q_cac, amount(s.cac), _("CAC before and after rounding to cents; CLV / CAC uses it unrounded")),
        ]
        if s.clv_to_cac is not None:
            ratio_step.lines.append(numbers(q_clv, " / ", q_cac, result=Quantity(decimal_of(s.clv_to_cac), 2)))
        else:
            ratio_step.lines.append(note(_("None: the CAC is zero.")))
    else:
        cac_step.lines.append(note(_("None: there were no new customers this month.")))
        ratio_step.lines.append(note(_("None: there is no CAC without new customers.")))
    steps += [cac_step, ratio_step, *_referral_steps(snapshot=s, q_clv=q_clv)]
    _settle(steps)

    return {
        "month": f"{snapshot.month:%Y-%m}",
        "scope": {
            "dimension": snapshot.scope_dimension,
            "value": "" if snapshot.scope_dimension == COMPANY else snapshot.scope_value,
        },
        "assumption_version": a.version,
        "inputs": inputs,
        "assumptions": assumptions,
        "steps": [step.as_json() for step in steps],
    }


def _referral_steps(*, snapshot: MonthlySnapshot, q_clv: Quantity) -> list[Step]:
    """METRICS.md, Referrals: rate, share and equity of the month's referred new customers."""
    s = snapshot
    referred = count(s.referred_new_customers)
    rate = Step("referral_rate", _("Referral rate"), s.referral_rate,
                [formula("referral_rate = referred_new_customers / customers_start")])
    if s.referral_rate is not None and s.customers_start:
        rate.lines.append(numbers(referred, " / ", count(s.customers_start), result=Quantity(
            ratio(s.referred_new_customers, s.customers_start, s.referral_rate), 4)))
    else:
        rate.lines.append(note(_("None: no customer was active at the start of the month.")))
    share = Step("referral_share", _("Referral share of new customers"), s.referral_share,
                 [formula("referral_share = referred_new_customers / new_customers")])
    if s.referral_share is not None and s.new_customers:
        share.lines.append(numbers(referred, " / ", count(s.new_customers), result=Quantity(
            ratio(s.referred_new_customers, s.new_customers, s.referral_share), 4)))
    else:
        share.lines.append(note(_("None: there were no new customers this month.")))
    equity = Step("referral_equity", _("Referral equity"), float(s.referral_equity), [
        formula(f"referral_equity = referred_new_customers {TIMES} CLV"),
        numbers(referred, f" {TIMES} ", q_clv, result=amount(s.referral_equity)),
        note(_("A referral counts when the referrer is another known customer who first bought no later than "
               "the customer they referred; referral equity is part of acquisition equity.")),
    ])
    return [rate, share, equity]


def _prior_of(*, snapshot: MonthlySnapshot) -> float:
    """What the scope's measured rate leans on: the assumed retention for the company, the
    company's r of the same month for a segment."""
    a = snapshot.assumption_set
    if snapshot.scope_dimension == COMPANY:
        return float(a.assumed_monthly_retention)
    company = MonthlySnapshot.objects.filter(scope_dimension=COMPANY, month=snapshot.month).values_list(
        "retention_rate", flat=True).first()
    return float(company) if company is not None else float(a.assumed_monthly_retention)


def _retention_step(*, snapshot: MonthlySnapshot, r: Quantity, retained_sum: int, start_sum: int,
                    since_first: int, prior: float) -> Step:
    a = snapshot.assumption_set
    k = int(a.credibility_weight)
    company = snapshot.scope_dimension == COMPANY
    prior_words = _("the assumed monthly retention") if company else _("the company's r this month")
    if snapshot.retention_source == "measured":
        if k == 0:
            return Step("retention_rate", _("Retention rate r (measured)"), float(snapshot.retention_rate), [
                formula("r = R / E"),
                numbers(count(retained_sum), " / ", count(start_sum), result=r),
                note(_("R and E sum the observable months of the last L months; k = 0, so nothing pulls r "
                       "towards a prior.")),
            ])
        return Step("retention_rate", _("Retention rate r (measured)"), float(snapshot.retention_rate), [
            formula(f"r = (R + k {TIMES} prior) / (E + k)"),
            numbers("(", count(retained_sum), " + ", count(k), f" {TIMES} ", exact(prior) if company
                    else unrounded(prior), ") / (", count(start_sum), " + ", count(k), ")", result=r),
            note(_("R and E sum the observable months of the last L months; the prior is %(prior)s, and k "
                   "customer-months of weight pull a scope with little history towards it.") % {"prior": prior_words}),
        ])
    if snapshot.retention_source == "company":
        return Step("retention_rate", _("Retention rate r (the company's)"), float(snapshot.retention_rate), [
            formula("r = prior (E = 0)"),
            Line(NOTE, ["r = ", unrounded(snapshot.retention_rate), ". ",
                        _("No customer of this segment was at the start of an observable month yet, so it takes "
                          "the company's rate of the month.")]),
        ])
    reason = (
        _("The retention source is 'assumed'.") if a.retention_source == "assumed"
        else _("Warm-up: retention is measured from %(w)s months after the first month of the data (this month "
               "is %(n)s after it), once a customer can have lapsed.") % {"w": a.activity_window_months, "n": since_first}
        if since_first < a.activity_window_months
        else _("No customers at the start of the observable months yet.")
    )
    return Step("retention_rate", _("Retention rate r (assumed)"), float(snapshot.retention_rate), [
        formula(_("r = assumed monthly retention")),
        Line(NOTE, ["r = ", exact(snapshot.retention_rate), f". {reason}"]),
    ])
