"""Rollups and summaries that reports read: daily per generation and provider call, hourly per
user, weekly summaries (kept exact at ingest by ``analytics.rollups``; they survive retention)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from analytics.models.raw import MONEY, RATE
from tenancy.models import TenantModel


class RollupMeasures(models.Model):
    """Measures both rollups share (counts, tokens by kind, cost, latency)."""

    requests = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    failures = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY, default=0, help_text="Sum over priced rows.")
    unpriced_requests = models.BigIntegerField(
        default=0, help_text="Rows whose model or price is unknown (cost_status unpriced)."
    )
    no_usage_requests = models.BigIntegerField(
        default=0, help_text="Rows that reported no usage (cost_status no_usage)."
    )
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_count = models.BigIntegerField(default=0, help_text="Rows with a latency.")
    latency_ms_max = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


def _measures_not_negative(prefix: str, *extra: str) -> models.CheckConstraint:
    names = (
        "requests",
        "successes",
        "failures",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "total_tokens",
        "cost_usd",
        "unpriced_requests",
        "latency_ms_sum",
        "latency_count",
        *extra,
    )
    condition = Q()
    for name in names:
        condition &= Q(**{f"{name}__gte": 0})
    condition &= Q(successes__lte=F("requests")) & Q(failures__lte=F("requests"))
    return models.CheckConstraint(condition=condition, name=f"{prefix}_measures_consistent")


class DailyRollup(RollupMeasures):
    """The group both daily rollups count by: organization, UTC day, provider, model, content
    type and user reference (each rollup adds its own dimensions and measures)."""

    # PROTECT: organizations are deactivated, never deleted out from under their history.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    provider_name = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=20, blank=True)
    user_ref = models.CharField(max_length=200, blank=True, help_text="Empty: no user (or purged).")

    class Meta:
        abstract = True


class GenerationDailyRollup(DailyRollup):
    """Generations per organization, UTC day, provider, model, content type and user reference.

    Updated in the ingest transaction with ``F()``-style increments (``analytics.rollups``), so
    it always equals an aggregation of the generations (soft-deleted ones included: their cost
    was incurred) and their performance metrics; ``manage.py rollup`` rebuilds a range.
    ``successes`` + ``partials`` + ``failures`` + ``cancelled`` ≤ ``requests`` (the rest are
    pending or processing).
    """

    partials = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)
    cache_hits = models.BigIntegerField(default=0)
    retries = models.BigIntegerField(default=0)
    retried_requests = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "model_name"]
        constraints = [
            # Also the index every report reads: organization and day lead.
            models.UniqueConstraint(
                fields=["organization", "day", "provider_name", "model_name", "content_type", "user_ref"],
                name="generation_rollup_unique_group",
            ),
            _measures_not_negative("generation_rollup", "partials", "cancelled", "cache_hits", "retries"),
        ]

    def __str__(self):
        return f"{self.day} {self.model_name or '?'}: {self.requests} generations"


class ProviderCallDailyRollup(DailyRollup):
    """Provider calls per organization, UTC day, provider, model, content type (of the linked
    generation), user reference and key fingerprint, kept exact like the generations' rollup.

    ``failures`` splits into the error-type columns; ``slow_requests`` counts calls whose API
    latency exceeded 5 s.
    """

    key_fingerprint = models.CharField(max_length=64, blank=True)
    timeouts = models.BigIntegerField(default=0)
    rate_limited = models.BigIntegerField(default=0)
    server_errors = models.BigIntegerField(default=0)
    auth_errors = models.BigIntegerField(default=0)
    invalid_requests = models.BigIntegerField(default=0)
    other_errors = models.BigIntegerField(default=0)
    slow_requests = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "model_name"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "organization",
                    "day",
                    "provider_name",
                    "model_name",
                    "content_type",
                    "user_ref",
                    "key_fingerprint",
                ],
                name="provider_call_daily_rollup_unique_group",
            ),
            _measures_not_negative(
                "provider_call_daily_rollup",
                "timeouts",
                "rate_limited",
                "server_errors",
                "auth_errors",
                "invalid_requests",
                "other_errors",
                "slow_requests",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.model_name or '?'}: {self.requests} calls"


class UserHourlyRollup(models.Model):
    """Provider calls per organization, UTC hour and user: what the rate-limit report reads
    ("who made more than N requests in an hour"). Calls without a user are not counted here."""

    # PROTECT: as on GenerationDailyRollup.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    user_ref = models.CharField(max_length=200)
    requests = models.BigIntegerField(default=0)
    rate_limited = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-hour", "user_ref"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "hour", "user_ref"], name="user_hourly_rollup_unique"
            ),
            models.CheckConstraint(
                condition=Q(requests__gte=0) & Q(rate_limited__gte=0) & Q(rate_limited__lte=F("requests")),
                name="user_hourly_rollup_counts_consistent",
            ),
            models.CheckConstraint(condition=~Q(user_ref=""), name="user_hourly_rollup_has_user"),
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H:00} {self.user_ref}: {self.requests} calls"


class WeeklySummary(TenantModel):
    """One organization's week (Monday to Sunday, UTC) at a glance, and how it changed against
    the week before. Written by ``manage.py weekly_summaries`` from the daily rollups; writing
    a week again replaces its row."""

    week_start = models.DateField(help_text="The Monday the week starts on.")
    requests = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    failures = models.BigIntegerField(default=0)
    failure_rate = models.DecimalField(**RATE, null=True, blank=True)
    cost_usd = models.DecimalField(**MONEY, default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    top_models = models.JSONField(default=list, blank=True, help_text="Up to five models by cost.")
    previous_requests = models.BigIntegerField(default=0)
    previous_cost_usd = models.DecimalField(**MONEY, default=0)
    previous_failure_rate = models.DecimalField(**RATE, null=True, blank=True)
    requests_change_pct = models.DecimalField(**RATE, null=True, blank=True, help_text="Null: no prior week.")
    cost_change_pct = models.DecimalField(**RATE, null=True, blank=True)
    failure_rate_change = models.DecimalField(
        **RATE, null=True, blank=True, help_text="Difference of the rates (0.0100 is one point)."
    )

    class Meta:
        ordering = ["-week_start", "organization"]
        verbose_name_plural = "weekly summaries"
        constraints = [
            models.UniqueConstraint(fields=["organization", "week_start"], name="weekly_summary_unique_week"),
            models.CheckConstraint(
                condition=Q(week_start__iso_week_day=1),
                name="weekly_summary_starts_monday",
                violation_error_message="A week starts on a Monday.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-week_start"], name="weekly_summary_org_week_idx")]

    def __str__(self):
        return f"Week of {self.week_start}"
