"""Assay controls: the QA-approved Levey-Jennings limits of a control of an analysis method.

A control (a QC sample of known concentration, or a potency control preparation) is charted run after run
against a mean and SD. QA approves them from named consecutive runs (with a reason, audited); a
re-baselining is a new record that supersedes the old one, which keeps its row and stays on the chart for
the runs before it. Records are written only by :mod:`secretome.services.controls`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AssayControlLimits(models.Model):
    """Mean and SD of one control of one method (per analyte and quantity), from a baseline of runs.

    The limits apply to the control's observations from ``first_run`` on, until a later baseline's first run.
    """

    method = models.CharField(max_length=80, help_text="analysis method code (every version)")
    control = models.CharField(max_length=120, help_text="control name as on the plate (QC-high, CTRL)")
    analyte = models.CharField(max_length=120, help_text="analyte, or the attribute of a potency control")
    quantity = models.CharField(max_length=40, help_text="recovery, concentration or relative potency")
    unit = models.CharField(max_length=40, blank=True)
    first_run = models.CharField(max_length=40, help_text="id of the baseline's first observation")
    baseline_runs = models.JSONField(help_text="[[observation id, value], ...] the limits were computed from")
    baseline_n = models.PositiveIntegerField()
    mean = models.FloatField()
    sd = models.FloatField(help_text="sample SD (n - 1) of the baseline values")
    approved_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["method", "control", "analyte", "quantity", "approved_at", "pk"]
        indexes = [models.Index(fields=["method", "control"])]

    def __str__(self) -> str:
        return (
            f"{self.method} {self.control} {self.analyte} {self.quantity} limits from {self.first_run} "
            f"({self.baseline_n} runs)"
        )
