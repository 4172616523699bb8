"""Segment-value aliases: 华东 and "E." mean East. Versioned: every change makes a new version,
and an alias records the version that added it and the one that retired it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.models import SegmentDimension


class AliasVersion(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    username = models.CharField(_("by"), max_length=150, blank=True)
    change = models.CharField(_("change"), max_length=300, blank=True)
    # What the change re-labelled: customers and cost entries per dimension.
    relabelled = models.JSONField(_("re-labelled"), default=dict, blank=True)

    class Meta:
        verbose_name = _("alias version")
        verbose_name_plural = _("alias versions")
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"v{self.pk} {self.change}"


class SegmentAlias(models.Model):
    dimension = models.CharField(_("dimension"), max_length=30, choices=SegmentDimension.choices)
    value = models.CharField(_("value"), max_length=100, help_text=_("as first entered"))
    key = models.CharField(_("key"), max_length=100, help_text=_("the value normalised: NFKC, case folded"))
    canonical = models.CharField(_("canonical value"), max_length=100)
    added_in = models.ForeignKey(AliasVersion, verbose_name=_("added in"), on_delete=models.PROTECT, related_name="added")
    retired_in = models.ForeignKey(AliasVersion, verbose_name=_("retired in"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="retired")

    class Meta:
        verbose_name = _("segment alias")
        verbose_name_plural = _("segment aliases")
        ordering = ["dimension", "canonical", "value"]
        permissions = [("manage_aliases", "Can map segment values to canonical ones")]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "key"], condition=Q(retired_in__isnull=True),
                                    name="segment_alias_current_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension}: {self.value} -> {self.canonical}"
