"""FilterSets of the analytics API."""

from __future__ import annotations

import django_filters

from analytics.models import SLOW_CALL_MS, ModelPerformance, PerformanceMetric, ProviderCall, WeeklySummary
from tenancy.api.filters import TenantFilterSet, UTCIsoDateTimeFilter


class ProviderCallFilterSet(TenantFilterSet):
    """Filters of ``usage/``: by provider and model as sent, outcome, user, key, trace and time."""

    provider = django_filters.CharFilter(field_name="provider_name")
    model = django_filters.CharFilter(field_name="model_name")
    called_after = UTCIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    called_before = UTCIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    slow = django_filters.BooleanFilter(method="filter_slow", label="API latency over 5 s")

    class Meta:
        model = ProviderCall
        fields = [
            "request_id",
            "generation",
            "content_type",
            "method",
            "success",
            "error_type",
            "status_code",
            "user_ref",
            "key_fingerprint",
            "cost_status",
            "trace_id",
        ]

    def filter_slow(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(api_latency_ms__gt=SLOW_CALL_MS)
        return queryset.exclude(api_latency_ms__gt=SLOW_CALL_MS)


class PerformanceMetricFilterSet(TenantFilterSet):
    """Filters of ``metrics/``."""

    class Meta:
        model = PerformanceMetric
        fields = ["generation", "cache_hit", "validation_passed"]


class ModelPerformanceFilterSet(TenantFilterSet):
    """Filters of ``model-performance/``."""

    model = django_filters.CharFilter(field_name="model_name")
    provider = django_filters.CharFilter(field_name="provider_name")

    class Meta:
        model = ModelPerformance
        fields = ["run"]


class WeeklySummaryFilterSet(TenantFilterSet):
    """Filters of ``weekly-summaries/``."""

    week_from = django_filters.DateFilter(field_name="week_start", lookup_expr="gte")
    week_to = django_filters.DateFilter(field_name="week_start", lookup_expr="lte")

    class Meta:
        model = WeeklySummary
        fields = ["week_start"]
