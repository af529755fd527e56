"""Retention: the organizations' cleanup preferences, retention batches and the archive of
expired rows."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from analytics.choices import RetentionTarget
from tenancy.foreign_keys import CompositeForeignKey
from tenancy.models import TenantModel, null_or_at_least

RETENTION_FIELDS = {
    RetentionTarget.GENERATIONS: "generations_days",
    RetentionTarget.FAILED_GENERATIONS: "failed_generations_days",
    RetentionTarget.PROVIDER_CALLS: "provider_calls_days",
    RetentionTarget.PERFORMANCE_METRICS: "performance_metrics_days",
    RetentionTarget.EMPTY_RUNS: "empty_runs_days",
}


def retention_default_days(target: str) -> int:
    """The platform's retention, in days, for ``target`` (``settings.RETENTION_POLICY``)."""
    return int(settings.RETENTION_POLICY[RETENTION_FIELDS[target]])


class CleanupPreferences(TenantModel):
    """An organization's own retention: each field may shorten, never lengthen, the platform's
    policy (``settings.RETENTION_POLICY``); empty means the platform's default."""

    generations_days = models.PositiveIntegerField(null=True, blank=True)
    failed_generations_days = models.PositiveIntegerField(null=True, blank=True)
    provider_calls_days = models.PositiveIntegerField(null=True, blank=True)
    performance_metrics_days = models.PositiveIntegerField(null=True, blank=True)
    empty_runs_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "cleanup preferences"
        verbose_name_plural = "cleanup preferences"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="cleanup_preferences_one_per_org"),
            models.CheckConstraint(
                condition=null_or_at_least(1, *RETENTION_FIELDS.values()),
                name="cleanup_preferences_at_least_a_day",
                violation_error_message="Keep rows at least one day.",
            ),
        ]

    def __str__(self):
        return f"Cleanup preferences of {self.organization_id and self.organization}"

    def clean(self):
        errors = {}
        for target, field in RETENTION_FIELDS.items():
            value = getattr(self, field)
            default = retention_default_days(target)
            if value is not None and value > default:
                errors[field] = (
                    f"An organization may shorten retention, not lengthen it: at most {default} days."
                )
        if errors:
            raise ValidationError(errors)

    def days(self, target: str) -> int:
        """The retention in force for ``target``: this organization's, else the platform's."""
        value = getattr(self, RETENTION_FIELDS[target])
        return value if value is not None else retention_default_days(target)


class RetentionBatch(models.Model):
    """One committed batch of ``apply_retention``: what it archived and deleted, and when.

    The newest ``newest_at`` per organization also tells ``manage.py rollup`` which days can
    no longer be rebuilt from raw rows (their rollups are kept as they are).
    """

    # PROTECT: the archive's history outlives nothing it describes. No single-column index: the
    # unique (organization, id) and the (organization, newest_at) index lead with it, so each
    # serves the organization's look-ups and its key's checks, and a third index on the same
    # column only cost every batch row one more entry.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    target = models.CharField(max_length=24, choices=RetentionTarget.choices)
    cutoff = models.DateTimeField(help_text="Rows older than this were expired.")
    primary_rows = models.IntegerField(help_text="Expired rows of the target.")
    archived_rows = models.IntegerField(help_text="All rows archived, rows that cascaded included.")
    oldest_at = models.DateTimeField(null=True, blank=True)
    newest_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "retention batches"
        indexes = [models.Index(fields=["organization", "-newest_at"], name="retention_batch_org_newest_idx")]
        constraints = [
            # What the archive's key references: its batch, within its organization.
            models.UniqueConstraint(fields=["organization", "id"], name="retention_batch_organization_id")
        ]

    def __str__(self):
        return f"{self.target}: {self.primary_rows} rows before {self.cutoff:%Y-%m-%d}"


class ArchivedRecord(models.Model):
    """A row removed by retention, kept as JSON in Django's serializer layout (``model``,
    ``pk``, ``fields`` by field name; decimals as strings, timestamps ISO 8601 to the
    microsecond), written by the same statement as its delete, so no row is ever lost between
    archive and delete."""

    # PROTECT: archives are dropped deliberately, with their batch. No single-column index on
    # either key: each cost every archived row an index entry, and no query reads the archive by
    # batch; queries by organization use the unique constraint or the index below, which lead
    # with it. In the database the two are one key, (organization, batch) to the batch's
    # (organization, id) (``archived_record_batch_of_organization``): one check per archived row
    # at commit where a key each made two (the organization's row, locked by every worker's
    # check, and the batch's), and it holds what two could not, that a row is archived in its
    # own organization's batch.
    batch = models.ForeignKey(
        RetentionBatch, on_delete=models.PROTECT, related_name="records", db_index=False, db_constraint=False
    )
    organization = models.ForeignKey(
        "tenancy.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    model_label = models.CharField(max_length=100, help_text="app_label.model of the row.")
    object_id = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField()
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-archived_at", "-id"]
        constraints = [
            # One archived copy per row; also finds a row's copy (admin search, a restore).
            models.UniqueConstraint(
                fields=["organization", "model_label", "object_id"], name="archived_record_unique_row"
            ),
            CompositeForeignKey(
                fields=["organization", "batch"],
                to="analytics.RetentionBatch",
                to_fields=["organization", "id"],
                name="archived_record_batch_of_organization",
            ),
        ]
        indexes = [
            # The admin's list: an organization's archive, newest first.
            models.Index(fields=["organization", "-archived_at"], name="archived_record_org_idx"),
        ]

    def __str__(self):
        return f"{self.model_label}:{self.object_id}"
