"""Assumptions, monthly snapshots and the per-customer predictions (see ../shared/METRICS.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import Customer

# The scope of the whole company; a segment's scope is (dimension, value).
COMPANY = "company"


class RetentionSource(models.TextChoices):
    MEASURED = "measured", _("measured")
    ASSUMED = "assumed", _("assumed")
    # A segment without observable history takes the company's measured rate.
    COMPANY = "company", _("company's rate")


class CostToServeDriver(models.TextChoices):
    """How a month's retention cost is shared among the customers it applies to (METRICS.md)."""

    EQUAL = "equal", _("equal per active customer")
    PURCHASE = "purchase", _("per purchase")


class AssumptionSet(models.Model):
    """One version of the assumptions; never edited, a change makes a new version."""

    version = models.PositiveIntegerField(unique=True)
    annual_discount_rate = models.DecimalField(
        default=Decimal("0.10"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    activity_window_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    # An assumption is measured or assumed; "company" is only ever a segment snapshot's source.
    retention_source = models.CharField(
        max_length=10, choices=RetentionSource.choices[:2], default=RetentionSource.MEASURED
    )
    assumed_monthly_retention = models.DecimalField(
        default=Decimal("0.90"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    smoothing_window_months = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    default_gross_margin_rate = models.DecimalField(
        default=Decimal("0.30"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    # k: customer-months of weight given to the prior when measuring retention (0: none).
    credibility_weight = models.PositiveIntegerField(
        default=100, validators=[MaxValueValidator(1_000_000)],
        help_text="customer-months of weight the prior gets when retention is measured (0: none)",
    )
    # Horizon H of the per-customer predicted CLV.
    prediction_horizon_months = models.PositiveSmallIntegerField(
        default=36, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    cost_to_serve_driver = models.CharField(
        max_length=10, choices=CostToServeDriver.choices, default=CostToServeDriver.EQUAL,
        help_text="how a month's retention cost is shared among customers: equal per active customer, or per purchase",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField()

    class Meta:
        ordering = ["-version"]
        get_latest_by = "version"
        permissions = [("change_assumptions", "Can change the assumptions")]

    def __str__(self) -> str:
        return f"v{self.version}"


class RecomputeRun(models.Model):
    """One recompute of the snapshots: when, why, how long, and how it ended."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    trigger = models.CharField(max_length=30, default="manual")
    from_month = models.DateField(null=True, blank=True)
    assumption_set = models.ForeignKey(AssumptionSet, null=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    scopes_total = models.PositiveIntegerField(default=0)
    scopes_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=255, blank=True)
    # Updated every few seconds by the worker running one of the run's tasks.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"recompute #{self.pk} {self.status}"


class SnapshotFigures(models.Model):
    """Every metric of METRICS.md for one month and one scope (current or published)."""

    month = models.DateField(help_text="first day of the month")
    scope_dimension = models.CharField(max_length=30, default=COMPANY)
    scope_value = models.CharField(max_length=100, blank=True, default="")

    customers_start = models.IntegerField()
    customers_end = models.IntegerField()
    new_customers = models.IntegerField()
    retained_customers = models.IntegerField()
    reactivated_customers = models.IntegerField()
    churned_customers = models.IntegerField()
    monthly_retention = models.FloatField(null=True, blank=True)
    revenue = models.DecimalField(max_digits=22, decimal_places=2)
    gross_margin = models.DecimalField(max_digits=22, decimal_places=2)
    retention_rate = models.FloatField()
    retention_source = models.CharField(max_length=10, choices=RetentionSource.choices)
    # E: customers_start summed over the observable months of the smoothing window.
    retention_exposure = models.IntegerField(default=0)
    margin_per_customer = models.DecimalField(max_digits=18, decimal_places=2)
    clv = models.DecimalField(max_digits=18, decimal_places=2)
    customer_equity = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_cost = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_equity = models.DecimalField(max_digits=22, decimal_places=2)
    retention_equity = models.DecimalField(max_digits=22, decimal_places=2)
    cac = models.DecimalField(null=True, blank=True, max_digits=18, decimal_places=2)
    clv_to_cac = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True


class MonthlySnapshot(SnapshotFigures):
    """The current figures of one month and one scope; rewritten by every recompute."""

    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.PROTECT, related_name="snapshots")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["scope_dimension", "scope_value", "month"]
        permissions = [("view_board", "Can view the equity board and the API")]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "scope_dimension", "scope_value"], name="snapshot_month_scope_unique"
            )
        ]
        indexes = [models.Index(fields=["scope_dimension", "scope_value", "month"])]

    def __str__(self) -> str:
        scope = self.scope_dimension if not self.scope_value else f"{self.scope_dimension}={self.scope_value}"
        return f"{self.month:%Y-%m} {scope}"


class MonthClose(models.Model):
    """One closing of a month (METRICS.md, "Closing a month"): its published figures are the
    PublishedSnapshot rows of this close. A reopen ends it; closing again makes a new one, and
    the earlier ones stay in the record."""

    month = models.DateField(help_text="first day of the month")
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    closed_by_name = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reopened_by_name = models.CharField(max_length=150, blank=True)
    reopen_note = models.TextField(blank=True)
    # Fingerprint of the data the PublishedSnapshot.basis figures were computed from.
    basis_fingerprint = models.CharField(max_length=64, blank=True)
    basis_computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "-closed_at", "-pk"]
        permissions = [("close_months", "Can close and reopen months")]
        constraints = [
            models.UniqueConstraint(
                fields=["month"], condition=models.Q(reopened_at__isnull=True), name="month_close_one_in_force"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} closed {self.closed_at:%Y-%m-%d}"

    @property
    def in_force(self) -> bool:
        return self.reopened_at is None

    @property
    def closed_by_label(self) -> str:
        from metrics.closing.services import closer_label

        return closer_label(self.closed_by_name)

    @property
    def reopened_by_label(self) -> str:
        from metrics.closing.services import closer_label

        return closer_label(self.reopened_by_name)


class PublishedSnapshot(SnapshotFigures):
    """A month's figures as published by a close, never changed. `basis` holds the same
    figures recomputed from the current data with the published assumption version (kept
    current by every recompute), from which a restatement splits into data and assumptions."""

    close = models.ForeignKey(MonthClose, on_delete=models.PROTECT, related_name="snapshots")
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.PROTECT, related_name="+")
    computed_at = models.DateTimeField()
    basis = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["scope_dimension", "scope_value", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["close", "scope_dimension", "scope_value"], name="published_close_scope_unique"
            )
        ]

    def __str__(self) -> str:
        scope = self.scope_dimension if not self.scope_value else f"{self.scope_dimension}={self.scope_value}"
        return f"{self.month:%Y-%m} {scope} (published)"


class CohortCell(models.Model):
    """Cohort retention: customers by first-purchase month and months since, for one scope."""

    scope_dimension = models.CharField(max_length=30, default=COMPANY)
    scope_value = models.CharField(max_length=100, blank=True, default="")
    cohort_month = models.DateField()
    months_since = models.PositiveSmallIntegerField()
    cohort_size = models.IntegerField()
    # Active at the close of the month (METRICS.md's definition, with the activity window).
    active_customers = models.IntegerField()
    # Made a purchase in that very month.
    purchasing_customers = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope_dimension", "scope_value", "cohort_month", "months_since"],
                name="cohort_cell_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope_dimension}={self.scope_value} {self.cohort_month:%Y-%m}+{self.months_since}"


class ApiToken(models.Model):
    """A per-user API token an admin issues; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="first characters, to recognise a token")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class PredictiveFit(models.Model):
    """One fit of the BG/NBD and Gamma-Gamma models with the data date and assumptions used."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    data_date = models.DateField(null=True, blank=True)
    assumption_set = models.ForeignKey(AssumptionSet, null=True, on_delete=models.PROTECT, related_name="+")
    n_customers = models.IntegerField(default=0)
    n_repeat_customers = models.IntegerField(default=0)
    bgnbd_r = models.FloatField(null=True, blank=True)
    bgnbd_alpha = models.FloatField(null=True, blank=True)
    bgnbd_a = models.FloatField(null=True, blank=True)
    bgnbd_b = models.FloatField(null=True, blank=True)
    bgnbd_log_likelihood = models.FloatField(null=True, blank=True)
    gg_p = models.FloatField(null=True, blank=True)
    gg_q = models.FloatField(null=True, blank=True)
    gg_gamma = models.FloatField(null=True, blank=True)
    gg_log_likelihood = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # English, for logs, the command line and the API; message_parts keeps its templates and
    # values so that pages show it in the reader's language (message_shown).
    message = models.TextField(blank=True)
    message_parts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"fit #{self.pk} {self.status}"

    @property
    def message_shown(self) -> str:
        return message_translate(self.message, self.message_parts)


def message_translate(message: str, parts: list[dict[str, Any]] | None) -> str:
    """A stored message in the active language: each part's template translated, then filled
    in; the stored English text when there are no parts (or a translation does not fit)."""
    if not parts:
        return message
    try:
        return "; ".join(gettext(part["template"]).format(**part["params"]) for part in parts)
    except (KeyError, IndexError, ValueError, TypeError):
        return message


class CustomerPrediction(models.Model):
    """The latest prediction for one customer; replaced by each successful fit."""

    class Tier(models.TextChoices):
        GOLD = "gold", _("Gold")
        SILVER = "silver", _("Silver")
        BRONZE = "bronze", _("Bronze")
        AT_RISK = "at_risk", _("At risk")
        UNPROFITABLE = "unprofitable", _("Unprofitable")

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="prediction")
    fit = models.ForeignKey(PredictiveFit, on_delete=models.CASCADE, related_name="predictions")
    p_alive = models.FloatField()
    expected_purchases_12m = models.FloatField()
    expected_spend = models.DecimalField(max_digits=18, decimal_places=2)
    predicted_clv = models.DecimalField(max_digits=18, decimal_places=2)
    historic_margin = models.DecimalField(max_digits=18, decimal_places=2)
    tier = models.CharField(max_length=20, choices=Tier.choices, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["-predicted_clv"]), models.Index(fields=["p_alive"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.tier}"


class CustomerActivityState(models.Model):
    """Per customer, what a recompute needs from the months before RecomputeState.as_of_month:
    first and last purchase month (month indexes, year * 12 + month - 1). Rebuilt by every full
    recompute, so that an incremental recompute of the latest months reads only their transactions."""

    customer_id = models.BigIntegerField(primary_key=True)
    first_purchase_month = models.IntegerField()
    last_purchase_month = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.first_purchase_month}..{self.last_purchase_month}"


class RecomputeState(models.Model):
    """Which months CustomerActivityState covers, with a fingerprint of their transactions."""

    as_of_month = models.IntegerField()
    transactions_before = models.BigIntegerField()
    built_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"state before month {self.as_of_month}"


class CustomerProfitability(models.Model):
    """One customer's profit to the close of `month` after the acquisition and retention cost
    allocated to them (METRICS.md, "Customer profitability"); rewritten by every recompute for
    the latest month of the data (metrics.profitability)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="profitability")
    month = models.DateField(help_text="first day of the month the figures run to")
    margin_to_date = models.DecimalField(max_digits=18, decimal_places=2)
    acquisition_cost_allocated = models.DecimalField(max_digits=18, decimal_places=2)
    retention_cost_allocated = models.DecimalField(max_digits=18, decimal_places=2)
    net_profit_to_date = models.DecimalField(max_digits=18, decimal_places=2)
    # Derived figures: they go with the version they were computed with (versions are never
    # deleted by the application; a test reset or an admin may).
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-net_profit_to_date"], name="profit_net_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m} {self.net_profit_to_date}"


class ProfitabilityTotals(models.Model):
    """What one allocation to the close of `month` shared out and what it could not (a cost entry
    that applies to nobody); one row, rewritten with the CustomerProfitability rows."""

    month = models.DateField(help_text="first day of the month the figures run to")
    cost_to_serve_driver = models.CharField(max_length=10, choices=CostToServeDriver.choices)
    customers = models.IntegerField()
    margin_to_date = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_cost = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_cost_allocated = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost_allocated = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_cost_unallocated = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost_unallocated = models.DecimalField(max_digits=22, decimal_places=2)
    net_profit_to_date = models.DecimalField(max_digits=22, decimal_places=2)
    # The company's whale curve: its peak (a share of the total net profit; null when the total is
    # not positive), the share of customers at the peak, the loss-makers and what they lose.
    whale_peak = models.FloatField(null=True, blank=True)
    whale_peak_share = models.FloatField(null=True, blank=True)
    loss_making_customers = models.IntegerField(default=0)
    loss = models.DecimalField(max_digits=22, decimal_places=2, default=0)
    # Derived figures: they go with the version they were computed with (versions are never
    # deleted by the application; a test reset or an admin may).
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "profitability totals"

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} net {self.net_profit_to_date}"
