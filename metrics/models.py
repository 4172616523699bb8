"""Assumptions, monthly snapshots and the per-customer predictions (see ../shared/METRICS.md)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from clv_dashboard.messages import message_translate
from customers.models import Customer, SegmentDimension

# The scope of the whole company; a segment's scope is (dimension, value).
COMPANY = "company"


# The scope dimensions of a snapshot: the company, or one of the segment dimensions.
SCOPE_DIMENSIONS = [(COMPANY, _("Company")), *SegmentDimension.choices]


class RetentionSource(models.TextChoices):
    MEASURED = "measured", _("measured")
    ASSUMED = "assumed", _("assumed")
    # A segment without observable history takes the company's measured rate.
    COMPANY = "company", _("company's rate")


class CostToServeDriver(models.TextChoices):
    """How a month's retention cost is shared among the customers it applies to (METRICS.md)."""

    EQUAL = "equal", _("equal per active customer")
    PURCHASE = "purchase", _("per purchase")


# The note of the assumptions the system creates (metrics.services.assumptions_ensure, migration 0002).
DEFAULT_NOTE = "Defaults of METRICS.md"


class AcquisitionProjection(models.TextChoices):
    """How the monthly new customers are projected for the value of future customers (METRICS.md)."""

    FLAT = "flat", _("flat (trailing mean)")
    TREND = "trend", _("trend (log-linear)")
    LOGISTIC = "logistic", _("logistic (saturating)")


class PredictiveModel(models.TextChoices):
    """The model of repeat purchases behind the per-customer predictions; `auto` picks the one
    with the lowest holdout error (metrics/predictive/validation)."""

    AUTO = "auto", _("automatic (best on the holdout)")
    BGNBD = "bgnbd", "BG/NBD"
    MBGNBD = "mbgnbd", "MBG/NBD"
    PARETO_NBD = "pareto_nbd", "Pareto/NBD"


class AssumptionSet(models.Model):
    """One version of the assumptions; never edited, a change makes a new version."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    annual_discount_rate = models.DecimalField(
        _("annual discount rate"), default=Decimal("0.10"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    activity_window_months = models.PositiveSmallIntegerField(
        _("activity window (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    # An assumption is measured or assumed; "company" is only ever a segment snapshot's source.
    retention_source = models.CharField(
        _("retention source"), max_length=10, choices=RetentionSource.choices[:2], default=RetentionSource.MEASURED
    )
    assumed_monthly_retention = models.DecimalField(
        _("assumed monthly retention"), default=Decimal("0.90"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    smoothing_window_months = models.PositiveSmallIntegerField(
        _("smoothing window (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    default_gross_margin_rate = models.DecimalField(
        _("default gross margin rate"), default=Decimal("0.30"), validators=[MinValueValidator(0), MaxValueValidator(1)], max_digits=9, decimal_places=6
    )
    # k: customer-months of weight given to the prior when measuring retention (0: none).
    credibility_weight = models.PositiveIntegerField(
        _("credibility weight (k)"), default=100, validators=[MaxValueValidator(1_000_000)],
        help_text=_("customer-months of weight the prior gets when retention is measured (0: none)"),
    )
    # Horizon H of the per-customer predicted CLV.
    prediction_horizon_months = models.PositiveSmallIntegerField(
        _("prediction horizon (months)"), default=36, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    cost_to_serve_driver = models.CharField(
        max_length=10, choices=CostToServeDriver.choices, default=CostToServeDriver.EQUAL,
        help_text="how a month's retention cost is shared among customers: equal per active customer, or per purchase",
    )
    # The customer-based valuation (metrics.valuation): H_v and the default projection model.
    valuation_horizon_months = models.PositiveSmallIntegerField(
        _("valuation horizon (months)"), default=120, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    acquisition_projection = models.CharField(
        _("projection of new customers"), max_length=10, choices=AcquisitionProjection.choices,
        default=AcquisitionProjection.TREND,
    )
    # The model of repeat purchases, and the share of the history `auto` holds out to choose it.
    predictive_model = models.CharField(
        _("predictive model"), max_length=12, choices=PredictiveModel.choices, default=PredictiveModel.AUTO,
    )
    model_holdout_share = models.DecimalField(
        _("holdout share of the model choice"), default=Decimal("0.25"), max_digits=4, decimal_places=3,
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("0.5"))],
    )
    # Customers whose first purchase is younger than this are tier "new" (maths/clv.py TierRules); 0: off.
    new_customer_age_days = models.PositiveSmallIntegerField(
        _("new-customer age (days)"), default=90, validators=[MaxValueValidator(3650)],
        help_text=_("customers whose first purchase is younger than this are tier 'new' (0: no new tier)"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    note = models.TextField(_("note"))

    class Meta:
        verbose_name = _("assumption set")
        verbose_name_plural = _("assumption sets")
        ordering = ["-version"]
        get_latest_by = "version"
        permissions = [("change_assumptions", "Can change the assumptions")]

    def __str__(self) -> str:
        return f"v{self.version}"

    @property
    def note_shown(self) -> str:
        """The note; the one the system writes for version 1 in the reader's language."""
        return str(_("Defaults of METRICS.md")) if self.note == DEFAULT_NOTE else self.note


class RecomputeRun(models.Model):
    """One recompute of the snapshots: when, why, how long, and how it ended."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("by hand")
        IMPORT = "import", _("after an import")
        UNDO = "undo", _("after an import was undone")
        ASSUMPTIONS = "assumptions", _("assumptions changed")
        SCHEDULE = "schedule", _("monthly schedule")
        COMMAND = "command", _("command line")
        SEED_DEMO = "seed_demo", _("demo data")
        ALIASES = "aliases", _("segment aliases changed")

    # A re-run of a failed run is "rerun:<id>", outside the choices (see trigger_shown).
    trigger = models.CharField(_("trigger"), max_length=30, default=Trigger.MANUAL, choices=Trigger.choices)
    from_month = models.DateField(_("from month"), null=True, blank=True)
    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), null=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    scopes_total = models.PositiveIntegerField(_("scopes"), default=0)
    scopes_done = models.PositiveIntegerField(_("scopes done"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    # The message as template + values (clv_dashboard.messages), shown in the reader's language.
    message_parts = models.JSONField(_("message parts"), default=list, blank=True)
    celery_task_id = models.CharField(_("task id"), max_length=255, blank=True)
    # Updated every few seconds by the worker running one of the run's tasks.
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        verbose_name = _("recompute run")
        verbose_name_plural = _("recompute runs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return str(_("recompute #%(pk)s %(status)s")) % {"pk": self.pk, "status": self.get_status_display()}

    @property
    def message_shown(self) -> str:
        """The message in the active language."""
        return message_translate(self.message, self.message_parts)

    def trigger_shown(self) -> str:
        """What started the run, in the reader's language."""
        if self.trigger.startswith("rerun:"):
            return str(_("a re-run of #%(pk)s")) % {"pk": self.trigger.partition(":")[2]}
        return str(self.get_trigger_display())

    trigger_shown.short_description = _("trigger")  # type: ignore[attr-defined]


class SnapshotFigures(models.Model):
    """Every metric of METRICS.md for one month and one scope (current or published)."""

    month = models.DateField(_("month"), help_text=_("first day of the month"))
    scope_dimension = models.CharField(_("scope dimension"), max_length=30, default=COMPANY, choices=SCOPE_DIMENSIONS)
    scope_value = models.CharField(_("scope value"), max_length=100, blank=True, default="")

    customers_start = models.IntegerField(_("customers at the start"))
    customers_end = models.IntegerField(_("customers at the end"))
    new_customers = models.IntegerField(_("new customers"))
    retained_customers = models.IntegerField(_("retained customers"))
    reactivated_customers = models.IntegerField(_("reactivated customers"))
    churned_customers = models.IntegerField(_("churned customers"))
    monthly_retention = models.FloatField(_("measured monthly retention"), null=True, blank=True)
    revenue = models.DecimalField(_("revenue"), max_digits=22, decimal_places=2)
    gross_margin = models.DecimalField(_("gross margin"), max_digits=22, decimal_places=2)
    retention_rate = models.FloatField(_("retention rate"))
    retention_source = models.CharField(_("retention source"), max_length=10, choices=RetentionSource.choices)
    # E: customers_start summed over the observable months of the smoothing window.
    retention_exposure = models.IntegerField(_("retention exposure"), default=0)
    margin_per_customer = models.DecimalField(_("margin per customer"), max_digits=18, decimal_places=2)
    clv = models.DecimalField(_("CLV"), max_digits=18, decimal_places=2)
    customer_equity = models.DecimalField(_("customer equity"), max_digits=22, decimal_places=2)
    acquisition_cost = models.DecimalField(_("acquisition cost"), max_digits=22, decimal_places=2)
    retention_cost = models.DecimalField(_("retention cost"), max_digits=22, decimal_places=2)
    acquisition_equity = models.DecimalField(_("acquisition equity"), max_digits=22, decimal_places=2)
    retention_equity = models.DecimalField(_("retention equity"), max_digits=22, decimal_places=2)
    cac = models.DecimalField(_("CAC"), null=True, blank=True, max_digits=18, decimal_places=2)
    clv_to_cac = models.FloatField(_("CLV/CAC"), null=True, blank=True)

    class Meta:
        abstract = True


class MonthlySnapshot(SnapshotFigures):
    """The current figures of one month and one scope; rewritten by every recompute."""

    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), on_delete=models.PROTECT, related_name="snapshots")
    # METRICS.md, Referrals: new customers of the month with a counted referral, their share of
    # the new customers, per customer at the start, and their CLV (part of acquisition equity).
    # A close publishes them too (PublishedSnapshot); they are not restated.
    referred_new_customers = models.IntegerField(_("referred new customers"), default=0)
    referral_share = models.FloatField(_("referral share"), null=True, blank=True)
    referral_rate = models.FloatField(_("referral rate"), null=True, blank=True)
    referral_equity = models.DecimalField(_("referral equity"), max_digits=22, decimal_places=2, default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("monthly snapshot")
        verbose_name_plural = _("monthly snapshots")
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

    month = models.DateField(_("month"), help_text=_("first day of the month"))
    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("closed at"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    closed_by_name = models.CharField(_("closed by"), max_length=150, blank=True)
    note = models.TextField(_("note"), blank=True)
    reopened_at = models.DateTimeField(_("reopened at"), null=True, blank=True)
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reopened by"), null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reopened_by_name = models.CharField(_("reopened by"), max_length=150, blank=True)
    reopen_note = models.TextField(_("reopen note"), blank=True)
    # Fingerprint of the data the PublishedSnapshot.basis figures were computed from.
    basis_fingerprint = models.CharField(_("basis fingerprint"), max_length=64, blank=True)
    basis_computed_at = models.DateTimeField(_("basis computed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("month close")
        verbose_name_plural = _("month closes")
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

    close = models.ForeignKey(MonthClose, verbose_name=_("month close"), on_delete=models.PROTECT, related_name="snapshots")
    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), on_delete=models.PROTECT, related_name="+")
    computed_at = models.DateTimeField(_("computed at"))
    basis = models.JSONField(_("basis"), null=True, blank=True)
    # The referral figures as published (MonthlySnapshot's); None for a month closed before they
    # were published with the others (its referral figures were never frozen).
    referred_new_customers = models.IntegerField(_("referred new customers"), null=True, blank=True)
    referral_share = models.FloatField(_("referral share"), null=True, blank=True)
    referral_rate = models.FloatField(_("referral rate"), null=True, blank=True)
    referral_equity = models.DecimalField(_("referral equity"), max_digits=22, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("published snapshot")
        verbose_name_plural = _("published snapshots")
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

    scope_dimension = models.CharField(_("scope dimension"), max_length=30, default=COMPANY, choices=SCOPE_DIMENSIONS)
    scope_value = models.CharField(_("scope value"), max_length=100, blank=True, default="")
    cohort_month = models.DateField(_("cohort month"))
    months_since = models.PositiveSmallIntegerField(_("months since"))
    cohort_size = models.IntegerField(_("cohort size"))
    # Active at the close of the month (METRICS.md's definition, with the activity window).
    active_customers = models.IntegerField(_("active customers"))
    # Made a purchase in that very month.
    purchasing_customers = models.IntegerField(_("purchasing customers"))

    class Meta:
        verbose_name = _("cohort cell")
        verbose_name_plural = _("cohort cells")
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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=12, help_text=_("first characters, to recognise a token"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class PredictiveFit(models.Model):
    """One fit of the BG/NBD and Gamma-Gamma models with the data date and assumptions used."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RUNNING)
    data_date = models.DateField(_("data date"), null=True, blank=True)
    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), null=True, on_delete=models.PROTECT, related_name="+")
    n_customers = models.IntegerField(_("customers"), default=0)
    n_repeat_customers = models.IntegerField(_("repeat customers"), default=0)
    bgnbd_r = models.FloatField(_("BG/NBD r"), null=True, blank=True)
    bgnbd_alpha = models.FloatField(_("BG/NBD alpha"), null=True, blank=True)
    bgnbd_a = models.FloatField(_("BG/NBD a"), null=True, blank=True)
    bgnbd_b = models.FloatField(_("BG/NBD b"), null=True, blank=True)
    bgnbd_log_likelihood = models.FloatField(_("BG/NBD log-likelihood"), null=True, blank=True)
    gg_p = models.FloatField(_("Gamma-Gamma p"), null=True, blank=True)
    gg_q = models.FloatField(_("Gamma-Gamma q"), null=True, blank=True)
    gg_gamma = models.FloatField(_("Gamma-Gamma gamma"), null=True, blank=True)
    gg_log_likelihood = models.FloatField(_("Gamma-Gamma log-likelihood"), null=True, blank=True)
    # The model of repeat purchases that made the predictions (BG/NBD's parameters are also in
    # the bgnbd_* fields when it did), as asked (`auto` or a model) and as used.
    model_requested = models.CharField(_("model asked for"), max_length=12, choices=PredictiveModel.choices,
                                       blank=True)
    model = models.CharField(_("model"), max_length=12, choices=PredictiveModel.choices[1:], blank=True)
    model_params = models.JSONField(_("model parameters"), default=dict, blank=True)
    model_log_likelihood = models.FloatField(_("model log-likelihood"), null=True, blank=True)
    # The choice of `auto`: calibration end, every model's holdout error, the winner and its margin.
    model_selection = models.JSONField(_("model choice"), default=dict, blank=True)
    # {"bgnbd": {"r": se, ...}, "gamma_gamma": {"p": se, ...}}: from the Hessian of each log-likelihood.
    standard_errors = models.JSONField(_("standard errors"), default=dict, blank=True)
    # What a successful fit says beside its numbers, as message parts (shown translated: warnings_shown).
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    # The level of the customers' CLV intervals (a parametric bootstrap of the parameters); None: none.
    clv_interval_level = models.FloatField(_("CLV interval level"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), null=True, blank=True)
    # English, for logs, the command line and the API; message_parts keeps its templates and
    # values so that pages show it in the reader's language (message_shown).
    message = models.TextField(_("message"), blank=True)
    message_parts = models.JSONField(_("message parts"), default=list, blank=True)

    class Meta:
        verbose_name = _("predictive fit")
        verbose_name_plural = _("predictive fits")
        ordering = ["-started_at", "-pk"]
        permissions = [("view_model_check", "Can see the model check (holdout validation)")]

    def __str__(self) -> str:
        return f"fit #{self.pk} {self.status}"

    @property
    def message_shown(self) -> str:
        return message_translate(self.message, self.message_parts)

    @property
    def warnings_shown(self) -> list[str]:
        """Each warning in the reader's language."""
        return [message_translate(str(part.get("template", "")), [part]) for part in self.warnings or []]


class CustomerPrediction(models.Model):
    """The latest prediction for one customer; replaced by each successful fit."""

    class Tier(models.TextChoices):
        GOLD = "gold", _("Gold")
        SILVER = "silver", _("Silver")
        BRONZE = "bronze", _("Bronze")
        NEW = "new", _("New")
        AT_RISK = "at_risk", _("At risk")
        UNPROFITABLE = "unprofitable", _("Unprofitable to date")

    customer = models.OneToOneField(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="prediction")
    fit = models.ForeignKey(PredictiveFit, verbose_name=_("fit"), on_delete=models.CASCADE, related_name="predictions")
    p_alive = models.FloatField(_("P(alive)"))
    expected_purchases_12m = models.FloatField(_("expected purchases (12 months)"))
    expected_spend = models.DecimalField(_("expected spend"), max_digits=18, decimal_places=2)
    predicted_clv = models.DecimalField(_("predicted CLV"), max_digits=18, decimal_places=2)
    # The fit's central interval of the predicted CLV (PredictiveFit.clv_interval_level); None: none.
    clv_low = models.DecimalField(_("predicted CLV, low"), max_digits=18, decimal_places=2, null=True, blank=True)
    clv_high = models.DecimalField(_("predicted CLV, high"), max_digits=18, decimal_places=2, null=True, blank=True)
    historic_margin = models.DecimalField(_("historic margin"), max_digits=18, decimal_places=2)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices, db_index=True)

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")
        indexes = [models.Index(fields=["-predicted_clv"]), models.Index(fields=["p_alive"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.tier}"


class CustomerActivityState(models.Model):
    """Per customer, what a recompute needs from the months before RecomputeState.as_of_month:
    first and last purchase month (month indexes, year * 12 + month - 1), and the month the
    customer first lapses in on those months with the state's activity window W (the first
    active interval's last purchase month + W; metrics.valuation's cohorts). Rebuilt by every full
    recompute, so that an incremental recompute of the latest months reads only their transactions."""

    customer_id = models.BigIntegerField(_("customer id"), primary_key=True)
    first_purchase_month = models.IntegerField(_("first purchase month"))
    last_purchase_month = models.IntegerField(_("last purchase month"))
    # When it equals last_purchase_month + W, the first interval was still running at as_of_month:
    # a purchase within W months after it extends it.
    first_lapse_month = models.IntegerField(_("first lapse month"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer activity state")
        verbose_name_plural = _("customer activity states")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.first_purchase_month}..{self.last_purchase_month}"


class RecomputeState(models.Model):
    """Which months CustomerActivityState covers, with a fingerprint of their transactions, and
    the activity window its first lapse months were computed with."""

    as_of_month = models.IntegerField(_("as of month"))
    transactions_before = models.BigIntegerField(_("transactions before"))
    activity_window = models.PositiveSmallIntegerField(_("activity window (months)"), null=True, blank=True)
    built_at = models.DateTimeField(_("built at"), auto_now=True)

    class Meta:
        verbose_name = _("recompute state")
        verbose_name_plural = _("recompute states")

    def __str__(self) -> str:
        return f"state before month {self.as_of_month}"


class CustomerProfitability(models.Model):
    """One customer's profit to the close of `month` after the acquisition and retention cost
    allocated to them (METRICS.md, "Customer profitability"); rewritten by every recompute for
    the latest month of the data (metrics.profitability)."""

    # Without database foreign keys: the allocation rewrites every row at once (1,000,000 at
    # 10,000,000 transactions), and the two per-row checks cost 24 s of its commit there. Django
    # still deletes a customer's row with the customer (on_delete), and nothing else writes here.
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="profitability",
                                    db_constraint=False)
    month = models.DateField(help_text="first day of the month the figures run to")
    margin_to_date = models.DecimalField(max_digits=18, decimal_places=2)
    acquisition_cost_allocated = models.DecimalField(max_digits=18, decimal_places=2)
    retention_cost_allocated = models.DecimalField(max_digits=18, decimal_places=2)
    net_profit_to_date = models.DecimalField(max_digits=18, decimal_places=2)
    # METRICS.md, Referrals: counted referrals naming this customer, to `month`, and the sum of
    # the margin_to_date of the customers they referred.
    referrals_made = models.IntegerField(default=0)
    referral_margin = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    # Derived figures: they go with the version they were computed with (versions are never
    # deleted by the application; a test reset or an admin may).
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.CASCADE, related_name="+",
                                       db_constraint=False, db_index=False)
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


class ProfitabilityMonth(models.Model):
    """The profitability of one scope (the company, or a segment as the snapshots have them) to
    the close of `month`, for every month of the data: the sums of its customers' exact shares,
    each rounded once to cents (docs/profitability.md, "Monthly totals"). Rewritten with the
    CustomerProfitability rows; current figures only (closing a month publishes its snapshots)."""

    month = models.DateField(help_text="first day of the month the figures run to")
    scope_dimension = models.CharField(max_length=30, default=COMPANY, choices=SCOPE_DIMENSIONS)
    scope_value = models.CharField(max_length=100, blank=True, default="")
    margin_to_date = models.DecimalField(max_digits=22, decimal_places=2)
    acquisition_cost_allocated = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost_allocated = models.DecimalField(max_digits=22, decimal_places=2)
    net_profit_to_date = models.DecimalField(max_digits=22, decimal_places=2)
    # Entries to this month that applied to nobody: all of them for the company; for a segment,
    # those tagged with it (an untagged entry that reaches nobody stays with the company).
    acquisition_cost_unallocated = models.DecimalField(max_digits=22, decimal_places=2)
    retention_cost_unallocated = models.DecimalField(max_digits=22, decimal_places=2)
    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["scope_dimension", "scope_value", "month"]
        constraints = [
            models.UniqueConstraint(fields=["scope_dimension", "scope_value", "month"],
                                    name="profitability_month_scope_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.scope_dimension}={self.scope_value} net {self.net_profit_to_date}"


class ProfitabilityShare(models.Model):
    """What one customer of a segment group (the four scope values at once) takes of the cost
    entries of one month: per new customer (acquisition), per active customer (retention, equal
    shares) and per purchase (retention, driver `purchase`). Exact shares, written by the
    allocation; a customer's page computes their month-by-month figures from them."""

    region = models.CharField(max_length=100)
    product_line = models.CharField(max_length=100)
    business_unit = models.CharField(max_length=100)
    acquisition_channel = models.CharField(max_length=100)
    month = models.IntegerField(help_text="month index: year * 12 + month - 1")
    acquisition = models.DecimalField(max_digits=38, decimal_places=18)
    retention_equal = models.DecimalField(max_digits=38, decimal_places=18)
    retention_per_purchase = models.DecimalField(max_digits=38, decimal_places=18)

    class Meta:
        indexes = [models.Index(fields=["region", "product_line", "business_unit", "acquisition_channel", "month"],
                                name="profit_share_group_idx")]

    def __str__(self) -> str:
        return f"{self.region}/{self.product_line}/{self.business_unit}/{self.acquisition_channel} {self.month}"


class ProfitabilityCustomerMonth(models.Model):
    """The allocation's input, kept between runs so that an incremental recompute re-reads only
    the months it recomputes: per customer and month, purchases, transactions and gross margin
    (with the margin rate of the stored ProfitabilityTotals' assumptions). A derived cache: the
    table is UNLOGGED on PostgreSQL (emptied after a crash), and rebuilt from the transactions
    whenever its transaction counts do not match them."""

    customer_id = models.BigIntegerField()
    # Column `m` as the stage's customer-month table: the allocation's SQL reads either.
    month = models.IntegerField(db_column="m", help_text="month index: year * 12 + month - 1")
    purchases = models.IntegerField()
    transactions = models.IntegerField()
    margin = models.DecimalField(max_digits=30, decimal_places=8)

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month}"


class MarketValue(models.Model):
    """A market value of the firm (for example its market capitalisation) an admin enters, to set
    the customer-based value against; versioned like the assumptions: never edited, a new entry
    replaces it, the latest is the one in force."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    amount = models.DecimalField(_("market value"), max_digits=22, decimal_places=2,
                                 validators=[MinValueValidator(0)])
    as_of = models.DateField(_("date of the market value"))
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("market value")
        verbose_name_plural = _("market values")
        ordering = ["-version"]
        get_latest_by = "version"
        permissions = [("change_market_value", "Can enter the market value")]

    def __str__(self) -> str:
        return f"v{self.version} {self.amount} ({self.as_of})"


class CustomerValuation(models.Model):
    """The customer-based value of one scope for `month` with the stored assumptions' horizon and
    projection model (metrics.valuation); rewritten by every successful recompute for the latest
    month. `details` keeps the projected new customers and the elasticities."""

    month = models.DateField(_("month"), help_text=_("first day of the month"))
    scope_dimension = models.CharField(_("scope dimension"), max_length=30, default=COMPANY, choices=SCOPE_DIMENSIONS)
    scope_value = models.CharField(_("scope value"), max_length=100, blank=True, default="")
    assumption_set = models.ForeignKey(AssumptionSet, verbose_name=_("assumptions"), on_delete=models.CASCADE, related_name="+")
    acquisition_projection = models.CharField(_("projection of new customers"), max_length=10,
                                              choices=AcquisitionProjection.choices)
    valuation_horizon_months = models.PositiveSmallIntegerField(_("valuation horizon (months)"))
    current_value = models.DecimalField(_("value of current customers"), max_digits=22, decimal_places=2)
    future_value = models.DecimalField(_("value of future customers"), max_digits=22, decimal_places=2)
    total_value = models.DecimalField(_("customer-based value"), max_digits=22, decimal_places=2)
    v_new = models.DecimalField(_("value of a new customer"), max_digits=18, decimal_places=2)
    sbg_alpha = models.FloatField(_("sBG alpha"))
    sbg_beta = models.FloatField(_("sBG beta"))
    sbg_alpha_se = models.FloatField(_("sBG alpha standard error"), null=True, blank=True)
    sbg_beta_se = models.FloatField(_("sBG beta standard error"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("customer valuation")
        verbose_name_plural = _("customer valuations")
        constraints = [
            models.UniqueConstraint(fields=["scope_dimension", "scope_value"], name="customer_valuation_scope_unique")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.scope_dimension}={self.scope_value} {self.total_value}"


class ValuationLapseCount(models.Model):
    """How many customers of a scope first purchased in month `cohort` and first lapsed in month
    `lapse` (month indexes) with the activity window `window`: the counts the valuation fits its
    retention curve to (metrics.valuation.selectors.first_lapses), as the last successful
    recompute found them. The Investor view and the board pack read them instead of a pass over
    every customer's purchase months; rewritten with the stored valuations."""

    window = models.PositiveSmallIntegerField(_("activity window (months)"))
    scope_dimension = models.CharField(_("scope dimension"), max_length=30, default=COMPANY, choices=SCOPE_DIMENSIONS)
    scope_value = models.CharField(_("scope value"), max_length=100, blank=True, default="")
    cohort = models.IntegerField(_("first purchase month"))
    lapse = models.IntegerField(_("first lapse month"))
    customers = models.BigIntegerField(_("customers"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("valuation lapse count")
        verbose_name_plural = _("valuation lapse counts")

    def __str__(self) -> str:
        return f"W={self.window} {self.scope_dimension}={self.scope_value} {self.cohort}->{self.lapse}: {self.customers}"
