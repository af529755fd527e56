"""Input and output serializers of the analytics API: no queries of their own, no business rules.

Inputs name every accepted field and mirror the database's constraints so a bad value is a
400 naming its field (the database stays the last guard). As for generations, the API's
``provider`` and ``model`` are the names the client sent (``provider_name``, ``model_name``);
``resolved_provider``/``resolved_model`` are what Inkwell made of them.
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from rest_framework import serializers

from analytics.choices import ErrorType, HttpMethod, ReportSource
from analytics.errors import InvalidReportQuery
from analytics.models import (
    RETENTION_FIELDS,
    SHA256_HEX,
    CleanupPreferences,
    ModelPerformance,
    PerformanceMetric,
    ProviderCall,
    WeeklySummary,
    retention_default_days,
)
from analytics.reports import (
    DEFAULT_LIMIT,
    DEFAULT_RANGE_DAYS,
    DEFAULT_RATE_LIMIT_THRESHOLD,
    MAX_LIMIT,
    check_range,
    parse_group_by,
)
from generations.choices import ContentType
from generations.models import Generation
from providers.api import metered
from tenancy.api.fields import (
    BoundedDateTimeField,
    RequestIdField,
    TenantPrimaryKeyRelatedField,
    TraceContextFields,
)

MONEY = {"max_digits": 20, "decimal_places": 10}
MAX_INT32 = 2**31 - 1
# A call reported as made in the future is a clock problem, not a call: a little skew is fine.


def _milliseconds(**kwargs):
    return serializers.IntegerField(
        min_value=0, max_value=MAX_INT32, required=False, allow_null=True, **kwargs
    )


class FromFieldMixin:
    """A serializer with a ``from`` field, which cannot be a class attribute (a Python keyword):
    ``from_field()`` builds it, and it is placed right before ``to``."""

    def from_field(self):
        raise NotImplementedError

    def get_fields(self):
        fields = super().get_fields()
        ordered = {}
        for name, field in fields.items():
            if name == "to":
                ordered["from"] = self.from_field()
            ordered[name] = field
        ordered.setdefault("from", self.from_field())
        return ordered


class ProviderCallCreateSerializer(metered.UsageInputSerializer, TraceContextFields):
    """``POST usage/``: one provider API call, idempotent by ``request_id``."""

    usage_inputs_before = "api_latency_ms"

    request_id = RequestIdField()
    generation = TenantPrimaryKeyRelatedField(
        queryset=Generation.all_objects.all(), required=False, allow_null=True, help_text="Generation id."
    )
    content_type = serializers.ChoiceField(
        choices=ContentType.choices, required=False, help_text="Defaults to the generation's."
    )
    endpoint = serializers.CharField(max_length=500)
    method = serializers.ChoiceField(choices=HttpMethod.choices, default=HttpMethod.POST)
    provider = metered.provider_field()
    model = metered.model_field()
    api_latency_ms = _milliseconds()
    total_request_time_ms = _milliseconds()
    status_code = serializers.IntegerField(
        min_value=100, max_value=599, required=False, allow_null=True, help_text="Null when no response came."
    )
    success = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Defaults to: a 2xx or 3xx status came back."
    )
    error_type = serializers.ChoiceField(
        choices=ErrorType.choices, required=False, allow_blank=True, help_text="Defaults from the status."
    )
    error_message = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    occurred_at = serializers.DateTimeField(required=False)
    user_ref = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=False)
    key_fingerprint = serializers.RegexField(
        SHA256_HEX,
        required=False,
        allow_blank=True,
        help_text=(
            "SHA-256 hex digest (lower case) of the provider key used; never the key itself. "
            "Stored and shown as the key's fingerprint, the `fingerprint` of its credential."
        ),
        error_messages={
            "invalid": "Send the SHA-256 hex digest of the key (64 characters 0-9a-f), not the key."
        },
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("success") and attrs.get("error_type"):
            raise serializers.ValidationError({"error_type": "A successful call has no error type."})
        if attrs.get("success") and (attrs.get("status_code") or 0) >= 400:
            # Counted as a success, it would hide a failure from the failure reports and rates.
            raise serializers.ValidationError(
                {"success": f"A call answered with status {attrs['status_code']} did not succeed."}
            )
        return attrs


class ProviderCallSerializer(metered.MeteredUsageSerializer):
    """A provider call as the API shows it: what was sent next to what Inkwell computed."""

    class Meta:
        model = ProviderCall
        fields = [
            "id",
            "request_id",
            "generation",
            "content_type",
            "endpoint",
            "method",
            *metered.NAME_FIELDS,
            *metered.USAGE_FIELDS,
            "api_latency_ms",
            "total_request_time_ms",
            "status_code",
            "success",
            "error_type",
            "error_message",
            "occurred_at",
            "user_ref",
            "key_fingerprint",
            "trace_id",
            "span_id",
            "parent_span_id",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "key_fingerprint": {
                "help_text": "The key's fingerprint, as its credential shows it; empty when not sent."
            }
        }


class PerformanceMetricCreateSerializer(serializers.Serializer):
    """``POST metrics/``: the performance metrics of one generation (one per generation)."""

    generation = TenantPrimaryKeyRelatedField(
        queryset=Generation.all_objects.all(), help_text="Generation id."
    )
    total_duration_ms = _milliseconds()
    prompt_preparation_ms = _milliseconds()
    api_call_ms = _milliseconds()
    response_processing_ms = _milliseconds()
    save_ms = _milliseconds()
    memory_mb = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    cpu_percent = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    content_length_chars = serializers.IntegerField(
        min_value=0, max_value=MAX_INT32, required=False, allow_null=True
    )
    content_word_count = serializers.IntegerField(
        min_value=0, max_value=MAX_INT32, required=False, allow_null=True
    )
    validation_passed = serializers.BooleanField(required=False, allow_null=True, default=None)
    validation_errors = serializers.ListField(child=serializers.JSONField(), required=False, max_length=1000)
    cache_hit = serializers.BooleanField(required=False, default=False)
    cache_key = serializers.CharField(max_length=255, required=False, allow_blank=True)
    retry_count = serializers.IntegerField(min_value=0, max_value=10_000, required=False, default=0)
    retry_reasons = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=10_000
    )

    def validate(self, attrs):
        reasons = attrs.get("retry_reasons")
        if reasons and len(reasons) > attrs.get("retry_count", 0):
            raise serializers.ValidationError({"retry_reasons": "More reasons than retries (retry_count)."})
        return attrs


class PerformanceMetricSerializer(serializers.ModelSerializer):
    """A generation's performance metrics."""

    class Meta:
        model = PerformanceMetric
        fields = [
            "id",
            "generation",
            "total_duration_ms",
            "prompt_preparation_ms",
            "api_call_ms",
            "response_processing_ms",
            "save_ms",
            "memory_mb",
            "cpu_percent",
            "content_length_chars",
            "content_word_count",
            "validation_passed",
            "validation_errors",
            "cache_hit",
            "cache_key",
            "retry_count",
            "retry_reasons",
            "created_at",
        ]
        read_only_fields = fields


class ModelPerformanceSerializer(serializers.ModelSerializer):
    """How one model did in one run."""

    provider = serializers.CharField(source="provider_name", read_only=True)
    model = serializers.CharField(source="model_name", read_only=True)
    success_rate = serializers.FloatField(read_only=True, allow_null=True)
    average_response_time_ms = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ModelPerformance
        fields = [
            "id",
            "run",
            "provider",
            "model",
            "requests",
            "successes",
            "items_generated",
            "failures",
            "success_rate",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "cost_usd",
            "unpriced_requests",
            "average_response_time_ms",
            "response_time_ms_max",
            "updated_at",
        ]
        read_only_fields = fields


class WeeklySummarySerializer(serializers.ModelSerializer):
    """One week of one organization at a glance."""

    class Meta:
        model = WeeklySummary
        fields = [
            "id",
            "week_start",
            "requests",
            "successes",
            "failures",
            "failure_rate",
            "cost_usd",
            "unpriced_requests",
            "total_tokens",
            "top_models",
            "previous_requests",
            "previous_cost_usd",
            "previous_failure_rate",
            "requests_change_pct",
            "cost_change_pct",
            "failure_rate_change",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _days_field(target: str):
    return serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text=f"Days to keep, at most {retention_default_days(target)}; null: the platform default.",
    )


class CleanupPreferencesSerializer(serializers.ModelSerializer):
    """An organization's retention preferences (``*_days``: null means the platform's default)
    and the retention in force (``effective``)."""

    effective = serializers.SerializerMethodField()

    class Meta:
        model = CleanupPreferences
        fields = [*RETENTION_FIELDS.values(), "effective"]

    def get_fields(self):
        fields = super().get_fields()
        for target, name in RETENTION_FIELDS.items():
            fields[name] = _days_field(target)
        return fields

    def get_effective(self, preferences) -> dict[str, int]:
        return {name: preferences.days(target) for target, name in RETENTION_FIELDS.items()}

    def validate(self, attrs):
        for target, name in RETENTION_FIELDS.items():
            value = attrs.get(name)
            if value is not None and value > retention_default_days(target):
                raise serializers.ValidationError(
                    {
                        name: "An organization may shorten retention, not lengthen it: at most "
                        f"{retention_default_days(target)} days."
                    }
                )
        return attrs


# --- reports --------------------------------------------------------------------------------------


class ReportQuerySerializer(FromFieldMixin, serializers.Serializer):
    """The query string of a report: ``from``/``to`` (UTC days, both included; default the last
    30 days), ``group_by`` (comma-separated), ``source`` and ``limit``."""

    to = serializers.DateField(required=False, help_text="Last UTC day (default today).")
    group_by = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Comma-separated: model, provider, content_type, user, day, month. "
        "Empty (`group_by=`): one row, the totals.",
    )
    source = serializers.ChoiceField(choices=ReportSource.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)

    def from_field(self):
        return serializers.DateField(required=False, help_text="First UTC day.")

    def validate_group_by(self, value):
        try:
            return parse_group_by(value)
        except InvalidReportQuery as exc:
            raise serializers.ValidationError(exc.detail, code=exc.code) from exc

    def validate(self, attrs):
        date_to = attrs.get("to") or timezone.now().date()
        date_from = attrs.get("from") or date_to - datetime.timedelta(days=DEFAULT_RANGE_DAYS - 1)
        try:
            check_range(date_from, date_to)
        except InvalidReportQuery as exc:
            raise serializers.ValidationError({exc.attr: exc.detail}, code=exc.code) from exc
        attrs["from"], attrs["to"] = date_from, date_to
        return attrs


class RateLimitQuerySerializer(FromFieldMixin, serializers.Serializer):
    """The query string of the rate-limit report: ``from``/``to`` moments (default: the last
    hour), ``threshold`` (requests in one clock hour), ``group_by`` and ``limit``."""

    to = BoundedDateTimeField(required=False, help_text="Default now.")
    threshold = serializers.IntegerField(min_value=0, default=DEFAULT_RATE_LIMIT_THRESHOLD)
    group_by = serializers.CharField(required=False, allow_blank=True, help_text="Only `user` (the default).")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)

    def from_field(self):
        return BoundedDateTimeField(required=False, help_text="Default an hour before `to`.")

    def validate(self, attrs):
        until = attrs.get("to") or timezone.now()
        since = attrs.get("from") or until - datetime.timedelta(hours=1)
        attrs["from"], attrs["to"] = since, until
        return attrs


class ReportSerializer(FromFieldMixin, serializers.Serializer):
    """A report's answer: the question as understood, one row per group, and the totals."""

    report = serializers.CharField()
    source = serializers.CharField()
    group_by = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.DictField())
    totals = serializers.DictField()
    truncated = serializers.BooleanField()

    to = serializers.CharField()

    def from_field(self):
        return serializers.CharField()


class RepriceRequestSerializer(FromFieldMixin, serializers.Serializer):
    """``POST reprice/``: which of the caller's organization's rows to price again, as
    ``manage.py reprice``: ``model``, ``from``/``to`` (on ``occurred_at``; a date means its
    first moment, UTC), ``only_unpriced``, ``dry_run``."""

    model = serializers.CharField(required=False, allow_blank=False, max_length=200)
    to = BoundedDateTimeField(required=False, help_text="Rows that happened before this moment.")
    only_unpriced = serializers.BooleanField(default=False)
    dry_run = serializers.BooleanField(default=False)

    def from_field(self):
        return BoundedDateTimeField(required=False, help_text="Rows that happened at or after this moment.")

    def validate(self, attrs):
        if attrs.get("from") and attrs.get("to") and attrs["to"] <= attrs["from"]:
            raise serializers.ValidationError({"to": "`to` must be after `from`."})
        return attrs


class RepriceReportSerializer(serializers.Serializer):
    """What a re-pricing changed (or, in a dry run, would change)."""

    examined = serializers.IntegerField()
    changed = serializers.IntegerField()
    newly_priced = serializers.IntegerField()
    cost_delta_usd = serializers.DecimalField(**MONEY)
    batches = serializers.IntegerField()
    last_id = serializers.DictField(child=serializers.IntegerField())
    dry_run = serializers.BooleanField()
