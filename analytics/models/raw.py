"""Raw rows of the analytics app: provider calls, performance metrics, model performance per run
(large, indexed for the API, expired by the retention policy)."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from analytics.choices import ErrorType, HttpMethod
from analytics.models.rollups import RequestOutcomes
from generations.choices import ContentType
from providers.models import MONEY_SUM, MeteredUsage
from providers.usage_constraints import usage_and_cost_constraints
from tenancy.models import (
    IngestedRequestModel,
    KeyRecordedModel,
    TenantModel,
    TraceContextModel,
    null_or_at_least,
    per_user_index,
    unique_request_id,
)

# A provider call slower than this is "slow": the seeds' slow-call report and partial index.
SLOW_CALL_MS = 5000
SHA256_HEX = r"^[0-9a-f]{64}$"
# Where a generation's time went, in milliseconds (PerformanceMetric.DURATION_FIELDS).
METRIC_DURATIONS = (
    "total_duration_ms",
    "prompt_preparation_ms",
    "api_call_ms",
    "response_processing_ms",
    "save_ms",
)


class ProviderCall(MeteredUsage, IngestedRequestModel, TraceContextModel):
    """One provider API call, as a content service reports it.

    Guarantees (in the database; ``services.provider_call_record`` mirrors them as 400s):

    - ``(organization, request_id)`` is unique: ingestion is idempotent.
    - ``status_code`` is an HTTP status (100-599) or null when no response came (timeouts);
      tokens, latencies and costs are never negative.
    - a successful call has no ``error_type``; a failed one always has one.
    - ``cost_status`` is ``priced`` exactly when ``cost_usd`` is set (an unknown model shows as
      unpriced, never as $0, and one with no usage as ``no_usage``); ``cost_usd`` is computed at
      ingestion by ``providers.metering`` at the price valid at ``occurred_at`` (when the call
      happened), and rewritten only by ``reprice``.
    - ``key_fingerprint`` is the SHA-256 hex of the provider key used (as
      ``ProviderCredential.fingerprint``), so a raw key sent by mistake is refused, not stored.

    What the client sent (``provider_name``, ``model_name``, ``client_usage``,
    ``client_cost_usd``) is kept apart from what Inkwell resolved and computed.
    """

    # SET_NULL: generations are hard-deleted by retention and GDPR purges; the call, and what it
    # cost, stays on record. No index of its own beyond the FK's: look-ups by generation are rare.
    generation = models.ForeignKey(
        "generations.Generation", models.SET_NULL, null=True, blank=True, related_name="provider_calls"
    )
    # Whether the call was recorded with a generation, kept when the link is lost: budgets count
    # such a call through its generation's cost, before and after retention or a purge deletes
    # that generation (which only nulls ``generation``), so it is never counted twice.
    # The column's default too (``db_default``): rows that code not knowing the flag inserts
    # (during a deploy) get false, not a NOT NULL error.
    recorded_with_generation = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Recorded with a generation: its cost is counted there.",
    )
    # Copied from the linked generation at ingestion (or sent by the client), so rollups and
    # reports need no join and stay right after the generation is purged.
    content_type = models.CharField(max_length=20, choices=ContentType.choices, blank=True)
    endpoint = models.CharField(max_length=500, help_text="The provider API path, e.g. /v1/chat/completions.")
    method = models.CharField(max_length=6, choices=HttpMethod.choices, default=HttpMethod.POST)

    api_latency_ms = models.IntegerField(null=True, blank=True, help_text="Time the provider took.")
    total_request_time_ms = models.IntegerField(
        null=True, blank=True, help_text="Time the whole request took, retries and queueing included."
    )
    status_code = models.IntegerField(null=True, blank=True, help_text="HTTP status; empty when none came.")
    success = models.BooleanField()
    error_type = models.CharField(max_length=20, choices=ErrorType.choices, blank=True)
    error_message = models.TextField(blank=True)
    # No index: the keys report reads rollups; ``usage/?key_fingerprint=`` and a credential's
    # budget walk provider_call_org_called_idx, a key being a tenant's few.
    key_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 hex of the provider API key used."
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            unique_request_id("provider_call_unique_request_id_per_org"),
            models.CheckConstraint(
                condition=Q(status_code__isnull=True) | Q(status_code__gte=100, status_code__lte=599),
                name="provider_call_status_code_http",
                violation_error_message="status_code must be an HTTP status between 100 and 599.",
            ),
            *usage_and_cost_constraints(prefix="provider_call", subject="call"),
            models.CheckConstraint(
                condition=null_or_at_least(0, "api_latency_ms", "total_request_time_ms"),
                name="provider_call_latency_not_negative",
                violation_error_message="Latencies cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(success=True, error_type="") | Q(success=False, error_type__in=ErrorType.values),
                name="provider_call_error_type_matches_success",
                violation_error_message="A failed call names its error type; a successful one has none.",
            ),
            models.CheckConstraint(
                condition=Q(key_fingerprint="") | Q(key_fingerprint__regex=SHA256_HEX),
                name="provider_call_key_fingerprint_sha256",
                violation_error_message="key_fingerprint must be the SHA-256 hex digest of the key.",
            ),
            models.CheckConstraint(
                condition=~Q(user_ref=""),
                name="provider_call_user_ref_null_not_empty",
                violation_error_message="Leave user_ref out (null) when there is no user.",
            ),
        ]
        indexes = [
            # The time series: every list and the spend source read by organization and time.
            models.Index(fields=["organization", "-occurred_at"], name="provider_call_org_called_idx"),
            models.Index(
                fields=["organization", "model_name", "-occurred_at"], name="provider_call_org_model_idx"
            ),
            # Errors are few and read often: a small index of the failed calls only.
            models.Index(
                fields=["organization", "-occurred_at"],
                condition=Q(success=False),
                name="provider_call_errors_idx",
            ),
            per_user_index("-occurred_at", name="provider_call_user_idx"),
            models.Index(
                fields=["organization", "-occurred_at"],
                condition=Q(api_latency_ms__gt=SLOW_CALL_MS),
                name="provider_call_slow_idx",
            ),
            # Only traced calls carry one; ``usage/?trace_id=`` reads it.
            models.Index(
                fields=["organization", "trace_id", "occurred_at"],
                condition=~Q(trace_id=""),
                name="provider_call_trace_idx",
            ),
        ]

    def __str__(self):
        return f"{self.request_id} ({self.status_code or self.error_type or 'ok'})"


class PerformanceMetric(KeyRecordedModel, TenantModel):
    """How one generation performed: where the time went, resources, content size, validation,
    cache and retries. One per generation; posting it again is an idempotent replay.

    Durations are milliseconds and never negative; ``cache_hit`` and ``retry_count`` feed the
    daily rollup of the generation's group (cache and retry reports).
    """

    # CASCADE: a metric describes its generation and goes with it (retention archives both).
    generation = models.OneToOneField(
        "generations.Generation", on_delete=models.CASCADE, related_name="performance_metric"
    )
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    total_duration_ms = models.IntegerField(null=True, blank=True)
    prompt_preparation_ms = models.IntegerField(null=True, blank=True)
    api_call_ms = models.IntegerField(null=True, blank=True)
    response_processing_ms = models.IntegerField(null=True, blank=True)
    save_ms = models.IntegerField(null=True, blank=True)
    memory_mb = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    cpu_percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="May exceed 100 on several cores."
    )
    content_length_chars = models.IntegerField(null=True, blank=True)
    content_word_count = models.IntegerField(null=True, blank=True)
    validation_passed = models.BooleanField(null=True, blank=True)
    validation_errors = models.JSONField(default=list, blank=True)
    cache_hit = models.BooleanField(default=False)
    cache_key = models.CharField(max_length=255, blank=True)
    retry_count = models.IntegerField(default=0)
    retry_reasons = models.JSONField(default=list, blank=True)

    DURATION_FIELDS = METRIC_DURATIONS

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=null_or_at_least(0, *METRIC_DURATIONS),
                name="metric_durations_not_negative",
                violation_error_message="Durations cannot be negative.",
            ),
            models.CheckConstraint(
                condition=null_or_at_least(
                    0, "memory_mb", "cpu_percent", "content_length_chars", "content_word_count"
                )
                & Q(retry_count__gte=0),
                name="metric_measures_not_negative",
                violation_error_message="Measures cannot be negative.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="metric_org_created_idx"),
        ]

    def __str__(self):
        return f"Metrics of generation {self.generation_id}"


class ModelPerformance(RequestOutcomes, TenantModel):
    """How one model did within one multi-model run: kept exact from the run's generations.

    ``requests`` counts the model's generations in the run, ``items_generated`` those that
    produced content (success or partial); response time is ``generation_time_ms``.
    """

    # CASCADE: the figures describe the run; a purged run takes them along (archived first).
    run = models.ForeignKey("generations.GenerationRun", on_delete=models.CASCADE, related_name="+")
    provider_name = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    items_generated = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY_SUM, default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    response_time_ms_sum = models.BigIntegerField(default=0)
    response_time_count = models.BigIntegerField(default=0)
    response_time_ms_max = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["run", "model_name"]
        verbose_name_plural = "model performance"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "run", "provider_name", "model_name"],
                name="model_performance_unique_model_per_run",
            ),
            models.CheckConstraint(
                condition=Q(requests__gte=0)
                & Q(successes__gte=0)
                & Q(items_generated__gte=0)
                & Q(failures__gte=0)
                & Q(successes__lte=F("requests"))
                & Q(failures__lte=F("requests"))
                & Q(cost_usd__gte=0),
                name="model_performance_counts_consistent",
            ),
        ]
        # The list's cursor order (newest first, id breaking ties) under the tenant: the page is
        # the index's first rows. Without it every row of the tenant was read and sorted.
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="model_perf_org_created_idx")
        ]

    def __str__(self):
        return f"{self.model_name or '?'} in run {self.run_id}"

    @property
    def success_rate(self):
        return self.successes / self.requests if self.requests else None

    @property
    def average_response_time_ms(self):
        return self.response_time_ms_sum / self.response_time_count if self.response_time_count else None
