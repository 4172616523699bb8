"""Customers, their transactions and cost entries, and the imports they came from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clv_dashboard.messages import message_translate, parts_translate


class SegmentDimension(models.TextChoices):
    """The customer attributes that segment the board. Values are Customer field names."""

    REGION = "region", _("Region")
    PRODUCT_LINE = "product_line", _("Product line")
    BUSINESS_UNIT = "business_unit", _("Business unit")
    ACQUISITION_CHANNEL = "acquisition_channel", _("Acquisition channel")


# Customers without a value for a dimension belong to this segment (METRICS.md, Segments).
UNASSIGNED = "unassigned"


# The key under ImportJob.detected of the reading notes' message parts ({note key: [parts]}).
NOTE_PARTS = "note_parts"


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        TRANSACTIONS = "transactions", _("Transactions")
        CUSTOMERS = "customers", _("Customers")
        COSTS = "costs", _("Costs")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Loaded")
        REJECTED = "rejected", _("Refused")
        FAILED = "failed", _("Failed")
        UNDONE = "undone", _("Undone")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    original_name = models.CharField(_("file name"), max_length=255)
    # Path of the stored upload, relative to MEDIA_ROOT, under a generated name.
    stored_file = models.CharField(_("stored file"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    size_bytes = models.BigIntegerField(_("size (bytes)"), default=0)
    # Choices made at upload: skip_invalid, date_order, column mapping.
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0, help_text=_("percent"))
    rows_total = models.BigIntegerField(_("rows in the file"), default=0)
    rows_parsed = models.BigIntegerField(_("rows parsed"), default=0)
    rows_written = models.BigIntegerField(_("rows written"), default=0)
    rows_invalid = models.BigIntegerField(_("invalid rows"), default=0)
    rows_skipped = models.BigIntegerField(_("skipped rows"), default=0)
    message = models.TextField(_("message"), blank=True)
    # The message as template + values (clv_dashboard.messages), shown in the reader's language.
    message_parts = models.JSONField(_("message parts"), default=list, blank=True)
    # The first errors, for the page; the full report is a CSV file next to the upload.
    error_report = models.JSONField(_("first errors"), default=list, blank=True)
    error_report_file = models.CharField(_("error report file"), max_length=255, blank=True)
    detected = models.JSONField(_("detected"), default=dict, blank=True, help_text=_("encoding, delimiter, columns"))
    # What the write did: customers created/updated, transactions inserted/replaced, costs...
    result = models.JSONField(_("result"), default=dict, blank=True)
    celery_task_id = models.CharField(_("task id"), max_length=255, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Updated every few seconds by the worker running the job; an old one means the worker died.
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    # Times the job was started; a job whose worker keeps dying is failed after a few.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-pk"]
        permissions = [("manage_imports", "Can upload data files and manage imports")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        # No kind code: this text is stored in the audit log, which readers see in any language.
        return f"#{self.pk} {self.original_name}"

    @property
    def message_shown(self) -> str:
        """The message in the active language."""
        return message_translate(self.message, self.message_parts)

    @property
    def notes_shown(self) -> dict[str, str]:
        """The reading notes (`detected["..._note"]`) in the active language: each from its stored
        parts where it has them, as stored otherwise (imports before the parts were kept)."""
        detected = self.detected or {}
        parts = detected.get(NOTE_PARTS) or {}
        return {key: parts_translate(text, parts.get(key), joiner=" ") for key, text in detected.items()
                if key.endswith("_note") and isinstance(text, str) and text}


class Customer(models.Model):
    # Unique through Meta.constraints: `unique=True` on a CharField would add a second, LIKE-only
    # index that every new customer pays for and no query needs.
    external_id = models.CharField(_("customer id"), max_length=100)
    name = models.CharField(_("name"), max_length=200, blank=True)
    # Segment attributes; blank means "unassigned".
    region = models.CharField(_("region"), max_length=100, blank=True)
    product_line = models.CharField(_("product line"), max_length=100, blank=True)
    business_unit = models.CharField(_("business unit"), max_length=100, blank=True)
    acquisition_channel = models.CharField(_("acquisition channel"), max_length=100, blank=True)
    # The customer id of the customer who referred them, as the file wrote it (null: none given).
    # Whether the referral counts is decided by the recompute on the data as a whole
    # (metrics.referrals): a later file can add the referrer or move a first purchase.
    referred_by = models.CharField(_("referred by"), max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["external_id"]
        constraints = [models.UniqueConstraint(fields=["external_id"], name="customer_external_id_unique")]
        # The segment values in use (for the filters) and the customers of one segment. Blank
        # values are left out: a customer without a region costs no index entry, and
        # "unassigned" is a scan anyway.
        indexes = [
            models.Index(fields=["region"], condition=~Q(region=""), name="customer_region_idx"),
            models.Index(fields=["product_line"], condition=~Q(product_line=""), name="customer_product_line_idx"),
            models.Index(fields=["business_unit"], condition=~Q(business_unit=""), name="customer_business_unit_idx"),
            models.Index(
                fields=["acquisition_channel"], condition=~Q(acquisition_channel=""), name="customer_channel_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Transaction(models.Model):
    # Both foreign keys are served by the indexes in Meta (customer + date; import job): a
    # second index of their own would cost every imported row two more index insertions.
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="transactions", db_index=False)
    # Blank when the source file had no order ids; otherwise unique across the data. On
    # PostgreSQL the column is COLLATE "C" (migration 0008, byte order; the import relies on
    # it): an AlterField of this field must keep that collation.
    order_id = models.CharField(_("order id"), max_length=100, blank=True, default="")
    order_date = models.DateField(_("order date"))
    # Negative revenue is a refund or return.
    revenue = models.DecimalField(_("revenue"), max_digits=18, decimal_places=2)
    # Cost of goods; null when the source did not carry it (the default margin rate applies).
    cost = models.DecimalField(_("cost"), null=True, blank=True, max_digits=18, decimal_places=2)
    import_job = models.ForeignKey(
        ImportJob, verbose_name=_("import"), null=True, blank=True, on_delete=models.CASCADE, related_name="transactions", db_index=False
    )

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        constraints = [
            models.UniqueConstraint(
                fields=["order_id"], condition=~Q(order_id=""), name="transaction_order_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["order_date"]),
            models.Index(fields=["customer", "order_date"]),
            models.Index(fields=["import_job"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.order_date} {self.revenue}"


class CostEntry(models.Model):
    class Kind(models.TextChoices):
        ACQUISITION = "acquisition", _("Acquisition")
        RETENTION = "retention", _("Retention")

    month = models.DateField(_("month"), help_text=_("first day of the month"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    # Both blank for a company-wide cost; otherwise the one segment the cost belongs to.
    segment_dimension = models.CharField(_("segment dimension"), max_length=30, choices=SegmentDimension.choices, blank=True)
    segment_value = models.CharField(_("segment value"), max_length=100, blank=True)
    import_job = models.ForeignKey(
        ImportJob, verbose_name=_("import"), null=True, blank=True, on_delete=models.CASCADE, related_name="cost_entries"
    )

    class Meta:
        verbose_name = _("cost entry")
        verbose_name_plural = _("cost entries")
        constraints = [
            # A newer file's figure for the same month, kind and segment replaces the older one.
            models.UniqueConstraint(
                fields=["month", "kind", "segment_dimension", "segment_value"],
                name="cost_entry_natural_key",
            ),
        ]
        indexes = [models.Index(fields=["import_job"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.kind} {self.amount}"


class HeaderMapping(models.Model):
    """A column mapping an analyst gave for a file whose header was not recognised, kept for the
    next file of the same kind with the same header set (customers.services.headers)."""

    kind = models.CharField(_("kind"), max_length=20, choices=ImportJob.Kind.choices)
    # SHA-1 of the header's names, normalised and sorted: the same columns in any order match.
    header_key = models.CharField(_("header key"), max_length=40)
    header = models.JSONField(_("header"), default=list)
    mapping = models.JSONField(_("mapping"), default=dict, help_text=_("field -> column"))
    learned_from = models.ForeignKey(ImportJob, verbose_name=_("learned from"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(_("mapped by"), max_length=150, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    times_applied = models.PositiveIntegerField(_("times applied"), default=0)

    class Meta:
        verbose_name = _("learned column mapping")
        verbose_name_plural = _("learned column mappings")
        constraints = [models.UniqueConstraint(fields=["kind", "header_key"], name="header_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.kind}: " + ", ".join(f"{k}={v}" for k, v in self.mapping.items())
